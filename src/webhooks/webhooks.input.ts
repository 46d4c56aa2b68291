/**
 * Webhook input checking. Routes validate bodies with `attachValidation`, so
 * the JSON-schema problems arrive here together with the body; the rules a
 * schema cannot express are checked on the same body, and every problem of
 * both kinds is answered in one 400 `validation_failed`.
 */
import type { FastifyRequest } from 'fastify';
import type { WebhookOrdering } from '../db/schema.js';
import { filterProblems } from '../delivery/filter.js';
import { checkWebhookUrl, type EgressPolicy } from '../egress/index.js';
import { Problems, type FieldProblem } from '../errors.js';
import { toFieldProblems } from '../http/validation.js';
import { checkHeaders } from './headers.js';
import { generateSecret, whsecProblem } from './secrets.js';
import { DEFAULT_OVERLAP_HOURS, type WebhookKind } from './webhooks.schemas.js';

export const DEFAULT_RETRY_POLICY: readonly number[] = Object.freeze([1, 5, 30, 300, 1800, 7200]);
export const DEFAULT_SURVEY_EVENTS: readonly string[] = Object.freeze([
  'survey.response_completed',
]);

/** A webhook's settings as stored, after checking and defaults. */
export interface WebhookFields {
  name: string;
  url: string;
  events: string[];
  secret: string | null;
  headers: Record<string, string>;
  active: boolean;
  retryPolicy: number[];
  /** Null: unlimited. */
  rateLimitPerSecond: number | null;
  /** The payload filter (delivery/filter.ts); null: every subscribed event. */
  filter: Record<string, unknown> | null;
  ordering: WebhookOrdering;
}

export type WebhookPatch = Partial<WebhookFields>;

export interface InputRules {
  kind: WebhookKind;
  egress: EgressPolicy;
}

/** The schema's problems with the body; a params or query failure is rethrown as is. */
function schemaProblems(request: FastifyRequest): FieldProblem[] {
  const error = request.validationError;
  if (!error) return [];
  if (error.validationContext !== 'body') throw error;
  return toFieldProblems(error.validation as never, 'body', request.body);
}

type Sink = Pick<Problems, 'add'>;

/** A secret claiming the Standard Webhooks form must be one (create, PATCH and rotate alike). */
function checkSecret(body: Record<string, unknown>, problems: Sink): void {
  if (typeof body.secret !== 'string') return;
  const problem = whsecProblem(body.secret);
  if (problem !== null) problems.add('secret', problem);
}

/** Code-checked rules; each only looks at values of the right shape, the schema reports the rest. */
function checkRules(body: Record<string, unknown>, rules: InputRules, problems: Sink): void {
  checkSecret(body, problems);
  if (typeof body.url === 'string') {
    const checked = checkWebhookUrl(body.url, rules.egress);
    if (!checked.ok) problems.add('url', checked.reason, checked.code);
  }
  if (Array.isArray(body.events)) {
    const seen = new Set<unknown>();
    body.events.forEach((type: unknown, i) => {
      if (seen.has(type)) problems.add(`events[${i}]`, 'is a duplicate');
      seen.add(type);
    });
  }
  if (isObject(body.headers)) checkHeaders(body.headers, problems);
  if (isObject(body.filter)) {
    for (const p of filterProblems(body.filter)) {
      problems.add(p.path === '' ? 'filter' : `filter.${p.path}`, p.message);
    }
  }
}

/**
 * Throws `validation_failed` listing every problem. A code-checked problem on
 * a field the schema already rejected is left out, so each field is reported
 * once with its most basic problem.
 */
function checkBody(
  request: FastifyRequest,
  check: (body: Record<string, unknown>, problems: Sink) => void,
): void {
  const fromSchema = schemaProblems(request);
  const problems = new Problems();
  for (const p of fromSchema) problems.add(p.field, p.message);
  const flagged = new Set(fromSchema.map((p) => p.field));
  const body: unknown = request.body;
  if (isObject(body)) {
    check(body, {
      add: (field, message, code) => {
        if (!flagged.has(field)) problems.add(field, message, code);
      },
    });
  }
  problems.throwIfAny();
}

/** A create body's fields, and whether Hookdesk generated the secret (shown once in the 201). */
export interface CreateInput {
  fields: WebhookFields;
  secretGenerated: boolean;
}

/**
 * A checked create body with its defaults filled in. Signed by default: an
 * absent `secret` gets a generated `whsec_` one; only an explicit `null`
 * makes an unsigned webhook.
 */
export function checkCreateBody(request: FastifyRequest, rules: InputRules): CreateInput {
  checkBody(request, (body, problems) => checkRules(body, rules, problems));
  // The schema held: name and url are present, and so are a ticket webhook's events.
  const input = request.body as WebhookPatch & Pick<WebhookFields, 'name' | 'url'>;
  const secretGenerated = input.secret === undefined;
  const fields: WebhookFields = {
    name: input.name,
    url: input.url,
    events: input.events ?? (rules.kind === 'survey' ? [...DEFAULT_SURVEY_EVENTS] : []),
    secret: secretGenerated ? generateSecret() : (input.secret ?? null),
    headers: input.headers ?? {},
    active: input.active ?? true,
    retryPolicy: input.retryPolicy ?? [...DEFAULT_RETRY_POLICY],
    rateLimitPerSecond: input.rateLimitPerSecond ?? null,
    filter: input.filter ?? null,
    ordering: input.ordering ?? 'none',
  };
  return { fields, secretGenerated };
}

/** A checked PATCH body: only the fields present. */
export function checkPatchBody(request: FastifyRequest, rules: InputRules): WebhookPatch {
  checkBody(request, (body, problems) => checkRules(body, rules, problems));
  return request.body as WebhookPatch;
}

/** A rotation: the new secret (null: generate one) and the overlap of the one it replaces. */
export interface RotateInput {
  secret: string | null;
  overlapHours: number;
}

/** A checked `…/secret/rotate` body; an absent body arrives here as `{}` (see the route). */
export function checkRotateBody(request: FastifyRequest): RotateInput {
  checkBody(request, checkSecret);
  const input = request.body as Partial<RotateInput>;
  return {
    secret: input.secret ?? null,
    overlapHours: input.overlapHours ?? DEFAULT_OVERLAP_HOURS,
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
