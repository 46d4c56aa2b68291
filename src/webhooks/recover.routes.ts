/**
 * `POST …/{id}/recover` and `GET …/{id}/recoveries/{recoveryId}` under each
 * webhook, ticket or survey (docs/api.md, "Recovering a time range"). Admin
 * keys only. The work itself is a background job (./recover.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { notFound, Problems } from '../errors.js';
import type { AppDeps } from '../http/deps.js';
import { TAG } from '../http/openapi-tags.js';
import {
  ErrorResponse,
  Nullable,
  Timestamp,
  Uuid,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import { toFieldProblems } from '../http/validation.js';
import { Id, WEBHOOK_BASES, scopeOf } from './deliveries.routes.js';
import { findRecovery, startRecovery, toRecoveryDto } from './recover.js';
import { getWebhookInScope } from './webhooks.repository.js';
import {
  finishedRecoveryExample,
  recoverBodyExample,
  recoveryExample,
} from './webhooks.examples.js';

const DAY_MS = 86_400_000;
/** How far in the future `until` may be: clocks of client and server differ a little. */
export const UNTIL_SKEW_MS = 60_000;

const RecoverBody = Type.Object(
  {
    since: Type.String({
      format: 'date-time',
      maxLength: 100,
      description: 'Start of the range (included); not older than the event retention.',
    }),
    until: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 100,
        description: 'End of the range (excluded); default now, at most a minute ahead.',
      }),
    ),
  },
  { additionalProperties: false },
);

const RecoverySchema = Type.Object({
  id: Uuid,
  webhookId: Uuid,
  since: Timestamp,
  until: Timestamp,
  status: Type.String({ enum: ['running', 'done', 'failed'] }),
  deliveriesQueued: Type.Integer({
    description: 'Deliveries queued so far: failed or cancelled ones again, and new ones.',
  }),
  error: Nullable(Type.String({ description: 'Why a failed recovery stopped.' })),
  createdAt: Timestamp,
  completedAt: Nullable(Timestamp),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A `date-time` body field (already checked by the schema) in epoch ms; NaN
 * when unreadable. A leap second reads as the last millisecond of its minute
 * (as http/validation.ts `queryTimestamp` does for query strings).
 */
function bodyTimestamp(value: string): number {
  return Date.parse(value.replace(/([T\s]\d\d:\d\d):60(\.\d+)?/i, '$1:59.999'));
}

/**
 * The range of a recover body, every problem of it in one 400: the schema's
 * and the rules it cannot express (the retention, the order, the future).
 */
function checkRecoverBody(
  request: FastifyRequest,
  now: number,
  retentionDays: number,
): { since: number; until: number } {
  const problems = new Problems();
  const flagged = new Set<string>();
  const error = request.validationError;
  if (error) {
    if (error.validationContext !== 'body') throw error;
    for (const p of toFieldProblems(error.validation as never, 'body', request.body)) {
      problems.add(p.field, p.message);
      flagged.add(p.field);
    }
  }
  const body: unknown = request.body;
  const read = (field: 'since' | 'until'): number | undefined => {
    if (!isObject(body) || typeof body[field] !== 'string' || flagged.has(field)) return undefined;
    const ms = bodyTimestamp(body[field]);
    if (Number.isNaN(ms)) {
      problems.add(field, 'is not a date-time this API can read');
      return undefined;
    }
    return ms;
  };
  const since = read('since');
  const given = read('until');
  const untilAbsent = isObject(body) && body.until === undefined;
  const until = untilAbsent ? now : given;
  if (given !== undefined && given > now + UNTIL_SKEW_MS) {
    problems.add('until', 'must not be more than a minute in the future');
  } else if (since !== undefined && until !== undefined && since >= until) {
    problems.add('since', untilAbsent ? 'must be in the past' : 'must be before until');
  }
  if (since !== undefined && since < now - retentionDays * DAY_MS) {
    problems.add(
      'since',
      `must not be older than the event retention (${retentionDays} days, HOOKDESK_RETENTION_DAYS)`,
    );
  }
  problems.throwIfAny();
  return { since: since!, until: until! };
}

export function recoveryRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    for (const base of WEBHOOK_BASES) {
      const tags = [TAG.recovery];
      const { what } = base;
      app.post(
        `${base.path}/recover`,
        {
          config: { adminOnly: true },
          // Schema problems are merged with the code-checked ones in checkRecoverBody.
          attachValidation: true,
          // An absent body is checked as `{}`: it then names the missing `since`.
          preValidation: async (request) => {
            // Typed as the valid body, which validation has yet to check.
            if (request.body === undefined) (request as FastifyRequest).body = {};
          },
          schema: {
            tags,
            summary: `Recover what ${what} missed in a time range`,
            description:
              'Starts a background job: the failed and cancelled deliveries of events in the range ' +
              'are queued again, and events of the types it subscribes to that it never got are ' +
              'delivered now. Answers at once (202); follow it with `GET …/recoveries/{recoveryId}`.',
            params: Type.Object(base.params),
            body: withExamples(RecoverBody, recoverBodyExample),
            response: {
              202: withExamples(RecoverySchema, recoveryExample),
              ...errorResponses,
              409: ErrorResponse,
            },
          },
        },
        async (request, reply) => {
          const range = checkRecoverBody(request, clock.now(), deps.config.retentionDays);
          const row = await db.transaction().execute(async (trx) => {
            const hook = await getWebhookInScope(
              trx,
              await scopeOf(trx, request),
              request.params.id,
            );
            return startRecovery(trx, clock, hook, range);
          });
          return reply.status(202).send(toRecoveryDto(row));
        },
      );

      app.get(
        `${base.path}/recoveries/:recoveryId`,
        {
          config: { adminOnly: true },
          schema: {
            tags,
            summary: `Get a recovery of ${what}`,
            description: 'Its status and how many deliveries it has queued so far.',
            params: Type.Object({ ...base.params, recoveryId: Id }),
            response: {
              200: withExamples(RecoverySchema, finishedRecoveryExample),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          const hook = await getWebhookInScope(db, await scopeOf(db, request), request.params.id);
          const row = await findRecovery(db, hook.id, request.params.recoveryId);
          if (!row) throw notFound('Recovery');
          return toRecoveryDto(row);
        },
      );
    }
  };
}
