/**
 * Managing outgoing webhooks (docs/api.md, "Webhooks"): ticket webhooks under
 * `/api/webhooks` and survey webhooks under `/api/surveys/:surveyId/webhooks`,
 * both from one route factory over a scope. Admin keys only. Deliveries, tests
 * and retries live in deliveries.routes.ts; rotating the secret is rotation.ts.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { iso } from '../clock.js';
import type { Executor } from '../db/schema.js';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { ErrorResponse, NoContent, errorResponses, withExamples } from '../http/schemas.js';
import { rotateSecret } from './rotation.js';
import {
  checkCreateBody,
  checkPatchBody,
  checkRotateBody,
  type InputRules,
} from './webhooks.input.js';
import {
  createWebhook,
  deleteWebhook,
  getSurveyScope,
  getWebhookInScope,
  listWebhooks,
  toWebhookDto,
  updateWebhook,
  type WebhookScope,
} from './webhooks.repository.js';
import {
  ListQuery,
  RotateAnswerSchema,
  RotateBodySchema,
  WebhookSchema,
  CreatedWebhookSchema,
  createBodySchema,
  patchBodySchema,
  type WebhookKind,
} from './webhooks.schemas.js';
import {
  createWebhookExample,
  createdWebhookExample,
  patchWebhookExample,
  patchedWebhookExample,
  rotateAnswerExample,
  rotateBodyExample,
  webhookExample,
} from './webhooks.examples.js';

const ParamId = Type.String({ maxLength: 100 });

interface ScopeSpec {
  kind: WebhookKind;
  /** Collection path. */
  base: string;
  /** Path parameters of the collection path. */
  params: TProperties;
  scopeOf(db: Executor, request: FastifyRequest): Promise<WebhookScope>;
}

export function webhookRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  // The same policy the delivery agent enforces, so create-time and send-time checks agree.
  const egress = deps.delivery.policy;
  const specs: ScopeSpec[] = [
    {
      kind: 'ticket',
      base: '/api/webhooks',
      params: {},
      scopeOf: async (_db, request) => ({
        organizationId: authOf(request).organizationId,
        surveyId: null,
      }),
    },
    {
      kind: 'survey',
      base: '/api/surveys/:surveyId/webhooks',
      params: { surveyId: ParamId },
      scopeOf: (db, request) =>
        getSurveyScope(db, authOf(request).organizationId, param(request, 'surveyId')),
    },
  ];
  return async (app) => {
    for (const spec of specs) scopeRoutes(app, deps, spec, { kind: spec.kind, egress });
  };
}

function param(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name] ?? '';
}

type App = Parameters<FastifyPluginAsyncTypebox>[0];

function scopeRoutes(app: App, deps: AppDeps, spec: ScopeSpec, rules: InputRules): void {
  const { db } = deps.database;
  const { clock } = deps;
  const lockRows = deps.database.dialect.capabilities.concurrentWriters;
  const tags = [spec.kind === 'ticket' ? TAG.webhooks : TAG.surveyWebhooks];
  // Summaries name the kind: both sets show in /docs, under their own tags.
  const what = spec.kind === 'ticket' ? 'webhook' : 'survey webhook';
  const example = webhookExample(spec.kind);
  const item = `${spec.base}/:id`;
  const listParams = Type.Object(spec.params);
  const itemParams = Type.Object({ ...spec.params, id: ParamId });
  const config = { adminOnly: true };

  app.get(
    spec.base,
    {
      config,
      schema: {
        tags,
        summary: `List ${what}s`,
        description: 'Newest first; `active` filters on whether they are enabled.',
        params: listParams,
        querystring: ListQuery,
        response: {
          200: withExamples(PageOf(WebhookSchema), examplePage(example)),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await spec.scopeOf(db, request);
      const page = pageRequest(request.query);
      const rows = await listWebhooks(db, scope, page, request.query.active);
      const now = clock.now();
      return toPage(rows, page.limit, (row) => toWebhookDto(row, now));
    },
  );

  app.post(
    spec.base,
    {
      config,
      // Schema problems are merged with the code-checked ones in checkCreateBody.
      attachValidation: true,
      schema: {
        tags,
        summary: `Create a ${what}`,
        description:
          'Without `secret`, Hookdesk generates a `whsec_` signing secret and answers it once, ' +
          'in this 201 only. 409 when the organization already has as many webhooks as allowed.',
        params: listParams,
        body: withExamples(createBodySchema(spec.kind), createWebhookExample(spec.kind)),
        response: {
          201: withExamples(CreatedWebhookSchema, createdWebhookExample(spec.kind)),
          ...errorResponses,
          409: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { fields, secretGenerated } = checkCreateBody(request, rules);
      const row = await db.transaction().execute(async (trx) => {
        const scope = await spec.scopeOf(trx, request);
        return createWebhook(trx, clock, scope, fields, {
          lockRows,
          maxPerOrganization: deps.config.maxWebhooksPerOrganization,
        });
      });
      const dto = toWebhookDto(row, clock.now());
      // A generated secret is shown here once: the caller has no other way to learn it.
      const answer = secretGenerated && row.secret !== null ? { ...dto, secret: row.secret } : dto;
      return reply.status(201).send(answer);
    },
  );

  app.get(
    item,
    {
      config,
      schema: {
        tags,
        summary: `Get a ${what}`,
        description: 'Secrets and custom header values are never shown.',
        params: itemParams,
        response: { 200: withExamples(WebhookSchema, example), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await spec.scopeOf(db, request);
      return toWebhookDto(await getWebhookInScope(db, scope, param(request, 'id')), clock.now());
    },
  );

  app.patch(
    item,
    {
      config,
      attachValidation: true,
      schema: {
        tags,
        summary: `Update a ${what}`,
        description:
          'Changes only the fields given. Setting `active: true` again re-enables a webhook ' +
          'disabled after repeated failures and resets its failure count.',
        params: itemParams,
        body: withExamples(patchBodySchema(spec.kind), patchWebhookExample),
        response: {
          200: withExamples(WebhookSchema, patchedWebhookExample(spec.kind)),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const patch = checkPatchBody(request, rules);
      const scope = await spec.scopeOf(db, request);
      const row = await db
        .transaction()
        .execute((trx) => updateWebhook(trx, clock, scope, param(request, 'id'), patch));
      return toWebhookDto(row, clock.now());
    },
  );

  app.post(
    `${item}/secret/rotate`,
    {
      config,
      attachValidation: true,
      // The body is optional: an absent one is checked as `{}`, which the schema accepts.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description:
          'Replaces the secret; the old one keeps signing deliveries beside the new one for ' +
          '`overlapHours`, so receivers can switch without dropping any. The new secret is ' +
          'answered once.',
        params: itemParams,
        body: withExamples(RotateBodySchema, rotateBodyExample),
        response: { 200: withExamples(RotateAnswerSchema, rotateAnswerExample), ...errorResponses },
      },
    },
    async (request) => {
      const input = checkRotateBody(request);
      const scope = await spec.scopeOf(db, request);
      const rotated = await db
        .transaction()
        .execute((trx) => rotateSecret(trx, clock, scope, param(request, 'id'), input));
      return {
        secret: rotated.secret,
        previousSecretExpiresAt: iso(rotated.previousSecretExpiresAt),
      };
    },
  );

  const deleteSchema = {
    tags,
    summary: `Delete a ${what}`,
    description: 'Deletes it with its delivery log.',
    params: itemParams,
    response: { 204: NoContent, ...errorResponses },
  };
  app.delete(item, { config, schema: deleteSchema }, async (request, reply) => {
    const scope = await spec.scopeOf(db, request);
    await db.transaction().execute((trx) => deleteWebhook(trx, scope, param(request, 'id')));
    return reply.status(204).send(null);
  });
}
