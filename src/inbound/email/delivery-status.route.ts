/**
 * `POST /api/rpc/tickets/email/delivery-status`
 * (docs/providers.md, "Delivery status"). Public. It answers
 * `{ success: true }` to anything it can read, so a provider never retries a
 * callback Hookdesk will not use: malformed input, unknown ids and statuses
 * that would move backwards are logged and change nothing. Only rate limiting
 * (429), an oversized body (413) and an unreachable database (503) answer
 * otherwise, because a retry is then what should happen.
 *
 * The contract carries no organization: the message is found by its provider
 * id (Hookdesk's Message-IDs are random and globally unique). When that
 * message's organization has an inbound token, a callback without it is
 * ignored the same quiet way.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../../http/deps.js';
import { parseJson } from '../../http/json.js';
import { TAG } from '../../http/openapi-tags.js';
import { ErrorResponse, withExamples } from '../../http/schemas.js';
import { redactedRequest } from '../../logger.js';
import { findOrganizationSettings, inboundTokenMatches } from '../../orgs/settings.js';
import { StringEnum } from '../../tickets/inputs.js';
import { deliveryStatusAnswerExample, deliveryStatusExample } from './email.examples.js';
import { inboundTokenOf } from './inbound.route.js';
import type { Limiter } from './rate-limit.js';
import {
  applyDeliveryStatus,
  organizationsOfProviderMessage,
  type DeliveryStatusUpdate,
} from './status.js';

const CALLBACK_EVENTS = ['sent', 'delivered', 'opened', 'bounced', 'failed'] as const;
type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/** Documentation only: the handler reads the body itself, because nothing here may answer 400. */
const DeliveryStatusBody = Type.Object({
  providerMessageId: Type.String({
    minLength: 1,
    maxLength: 1000,
    description: 'For SMTP email, the Message-ID (angle brackets optional).',
  }),
  event: StringEnum(CALLBACK_EVENTS),
  errorCode: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Number()])),
  errorMessage: Type.Optional(Type.String({ maxLength: 2000 })),
  timestamp: Type.Optional(
    Type.Union([Type.String(), Type.Number()], {
      description: 'ISO 8601, or epoch seconds (or milliseconds). (Default: now)',
    }),
  ),
});

type Parsed = { ok: true; update: DeliveryStatusUpdate } | { ok: false; problems: string[] };

const MALFORMED = Symbol('malformed body');

function optionalText(value: unknown, max: number): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' && value.length <= max ? value : null;
}

/** Epoch ms of a `timestamp`, or null when it cannot be one. */
function timeOf(value: unknown, now: number): number | null {
  if (value === undefined || value === null) return now;
  const ms =
    typeof value === 'number'
      ? value < 1e11
        ? value * 1000
        : value
      : typeof value === 'string' && value.trim() !== ''
        ? Date.parse(value)
        : NaN;
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

function parseStatusCallback(body: unknown, now: number): Parsed {
  if (body === MALFORMED) return { ok: false, problems: ['body is not valid JSON'] };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, problems: ['body must be a JSON object'] };
  }
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  const id = b.providerMessageId;
  if (typeof id !== 'string' || id.trim() === '' || id.length > 1000) {
    problems.push('providerMessageId must be a non-empty string');
  }
  const event = b.event;
  if (typeof event !== 'string' || !(CALLBACK_EVENTS as readonly string[]).includes(event)) {
    problems.push(`event must be one of ${CALLBACK_EVENTS.join(', ')}`);
  }
  const errorCode = optionalText(
    typeof b.errorCode === 'number' ? String(b.errorCode) : b.errorCode,
    200,
  );
  if (errorCode === null) problems.push('errorCode must be a string of at most 200 characters');
  const errorMessage = optionalText(b.errorMessage, 2000);
  if (errorMessage === null)
    problems.push('errorMessage must be a string of at most 2000 characters');
  const at = timeOf(b.timestamp, now);
  if (at === null) problems.push('timestamp must be ISO 8601 or epoch seconds');
  if (problems.length > 0 || at === null) return { ok: false, problems };
  return {
    ok: true,
    update: {
      providerMessageId: id as string,
      status: event as CallbackEvent,
      ...(errorCode ? { errorCode } : {}),
      ...(errorMessage ? { errorMessage } : {}),
      at,
    },
  };
}

export function deliveryStatusRoute(
  deps: AppDeps,
  limits: { byIp: Limiter; byOrganization: Limiter },
): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    // Any content type, and bodies that are not JSON, reach the handler (which ignores them).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const text = body as string;
      try {
        done(null, text.trim() === '' ? undefined : parseJson(text));
      } catch {
        done(null, MALFORMED);
      }
    });

    app.post(
      '/api/rpc/tickets/email/delivery-status',
      {
        logSerializers: { req: redactedRequest },
        validatorCompiler: () => () => true,
        schema: {
          tags: [TAG.inboundEmail],
          summary: 'Report the delivery status of a sent email',
          description:
            'Updates the delivery status of the outbound message with this provider id. Always answers `{ success: true }`; malformed input and unknown ids are logged and change nothing, and a status never moves backwards (`queued < sent < delivered < opened`; `bounced`/`failed` are final except for a later `opened`). Rate limited per source IP and per organization (429).',
          security: [],
          body: withExamples(DeliveryStatusBody, deliveryStatusExample),
          response: {
            200: withExamples(
              Type.Object({ success: Type.Literal(true) }),
              deliveryStatusAnswerExample,
            ),
            429: ErrorResponse,
          },
        },
        onRequest: async (request, reply) => limits.byIp(request, reply, request.ip),
      },
      async (request, reply) => {
        const ok = { success: true as const };
        const parsed = parseStatusCallback(request.body, clock.now());
        if (!parsed.ok) {
          request.log.warn({ problems: parsed.problems }, 'delivery-status callback ignored');
          return ok;
        }
        const { update } = parsed;
        const log = request.log.child({
          providerMessageId: update.providerMessageId,
          event: update.status,
          at: new Date(update.at).toISOString(),
        });
        const organizations = await organizationsOfProviderMessage(db, update.providerMessageId);
        if (organizations.length === 0) log.info('delivery-status callback for an unknown message');
        for (const organizationId of organizations) {
          const settings = await findOrganizationSettings(db, organizationId);
          if (
            settings?.inboundTokenHash &&
            !inboundTokenMatches(settings.inboundTokenHash, inboundTokenOf(request))
          ) {
            log.warn({ organizationId }, 'delivery-status callback ignored: inbound token missing');
            continue;
          }
          await limits.byOrganization(request, reply, organizationId);
          const changed = await db
            .transaction()
            .execute((trx) => applyDeliveryStatus(trx, clock, { ...update, organizationId }));
          log.info({ organizationId, changed }, 'delivery-status callback applied');
        }
        return ok;
      },
    );
  };
}
