/**
 * SendGrid (channel type `sendgrid`):
 * - `events`: the signed Event Webhook. Headers
 *   `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp`; a timestamp
 *   more than REPLAY_WINDOW_MS from now is refused as a replay. Each event
 *   is deduplicated on `sg_event_id` (batches are retried whole).
 * - `inbound`: Inbound Parse (multipart; raw MIME mode too). SendGrid does
 *   not sign these posts the way it signs events; when the channel has an
 *   `inboundParseToken`, the URL's `?token=` must match it, checked before
 *   the body is read, as is the media type. Deduplicated on the Message-ID.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../../http/deps.js';
import { parseConfig } from '../../../channels/channels.service.js';
import { AppError } from '../../../errors.js';
import { applyDeliveryStatus } from '../../email/status.js';
import { receiveInboundEmail } from '../../email/receive.js';
import {
  CHANNEL_ROUTE,
  badCredential,
  callbackRoute,
  channelOf,
  firstSeen,
  isFresh,
  knownChannel,
  missingCredential,
  safeEqual,
} from '../channel.js';
import { acknowledged } from '../ack.schemas.js';
import { inboundKey } from '../email.js';
import { isMultipartType, readMultipart } from '../multipart.js';
import {
  INBOUND_EMAIL_LIMIT_BYTES,
  installProviderParsers,
  jsonBody,
  rawBody,
} from '../parsers.js';
import {
  candidateIds,
  eventKey,
  sendgridStatus,
  updateOf,
  verifyEventSignature,
} from './sendgrid.events.js';
import { inboundParseEmail } from './sendgrid.parse.js';

const SIGNATURE = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP = 'x-twilio-email-event-webhook-timestamp';

export function sendgridRoutes(deps: AppDeps): FastifyPluginAsync {
  const { db } = deps.database;
  const { clock } = deps;

  async function checkParseToken(request: FastifyRequest): Promise<void> {
    const { secrets } = await channelOf(deps, request, 'sendgrid');
    const expected = secrets.inboundParseToken;
    if (expected === undefined) return;
    const given = (request.query as Record<string, unknown>).token;
    if (typeof given !== 'string' || given === '') throw missingCredential('token parameter');
    if (!safeEqual(given, expected)) throw badCredential('token parameter');
  }

  async function checkMultipart(request: FastifyRequest): Promise<void> {
    if (!isMultipartType(request.headers['content-type'])) {
      throw new AppError('unsupported_media_type', 'Inbound Parse posts multipart/form-data.');
    }
  }

  return async (app) => {
    await installProviderParsers(app, { multipart: true });

    app.post(
      `${CHANNEL_ROUTE}/sendgrid/events`,
      {
        ...acknowledged(callbackRoute('SendGrid signed Event Webhook (delivery statuses)')),
        onRequest: knownChannel(deps, 'sendgrid'),
      },
      async (request, reply) => {
        const { row: channel } = await channelOf(deps, request, 'sendgrid');
        const signature = request.headers[SIGNATURE];
        const timestamp = request.headers[TIMESTAMP];
        if (typeof signature !== 'string' || typeof timestamp !== 'string') {
          throw missingCredential('X-Twilio-Email-Event-Webhook-Signature and -Timestamp headers');
        }
        const raw = rawBody(request);
        const publicKey = String(parseConfig(channel).eventWebhookPublicKey ?? '');
        if (!verifyEventSignature(publicKey, signature, timestamp, raw)) {
          throw badCredential('X-Twilio-Email-Event-Webhook-Signature');
        }
        if (!isFresh(clock, timestamp)) throw badCredential('timestamp (too old or too new)');
        const events = jsonBody(raw);
        if (!Array.isArray(events)) {
          throw new AppError('validation_failed', 'The Event Webhook body is a JSON array.');
        }
        await db.transaction().execute(async (trx) => {
          for (const event of events) {
            if (typeof event !== 'object' || event === null || Array.isArray(event)) continue;
            const e = event as Record<string, unknown>;
            if (!(await firstSeen(trx, clock, channel, eventKey(e)))) continue;
            const status = sendgridStatus(e);
            if (status === null) continue;
            const update = updateOf(e, status, clock.now());
            for (const providerMessageId of candidateIds(e)) {
              const changed = await applyDeliveryStatus(trx, clock, {
                ...update,
                providerMessageId,
                organizationId: channel.organization_id,
              });
              if (changed) break;
            }
          }
        });
        return reply.status(200).send({ success: true });
      },
    );

    app.post(
      `${CHANNEL_ROUTE}/sendgrid/inbound`,
      {
        ...acknowledged(callbackRoute('SendGrid Inbound Parse (inbound email)')),
        bodyLimit: INBOUND_EMAIL_LIMIT_BYTES,
        onRequest: [checkParseToken, checkMultipart],
      },
      async (request, reply) => {
        const { row: channel } = await channelOf(deps, request, 'sendgrid');
        const form = await readMultipart(request);
        const email = await inboundParseEmail(channel.organization_id, form);
        await db.transaction().execute(async (trx) => {
          if (!(await firstSeen(trx, clock, channel, inboundKey(email, JSON.stringify(form))))) {
            return;
          }
          await receiveInboundEmail(trx, clock, email);
        });
        return reply.status(200).send({ success: true });
      },
    );
  };
}
