/**
 * Postmark (channel type `postmark`): inbound email and the Delivery,
 * Bounce, Open and Click webhooks. Postmark signs nothing; the URLs carry
 * per-channel HTTP Basic credentials that Hookdesk generated (shown once, at
 * creation), checked in constant time before the body is read. Missing
 * credentials answer 401 with a Basic challenge, wrong ones 403 (which also
 * stops Postmark's inbound retries).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../../http/deps.js';
import { applyDeliveryStatus } from '../../email/status.js';
import { receiveInboundEmail } from '../../email/receive.js';
import {
  CHANNEL_ROUTE,
  badCredential,
  callbackRoute,
  channelOf,
  firstSeen,
  missingCredential,
  safeEqual,
  sha256Hex,
} from '../channel.js';
import { acknowledged } from '../ack.schemas.js';
import { inboundKey } from '../email.js';
import {
  INBOUND_EMAIL_LIMIT_BYTES,
  installProviderParsers,
  jsonBody,
  rawBody,
} from '../parsers.js';
import { asObject, field, postmarkEvent, postmarkInboundEmail } from './postmark.mapping.js';

export function postmarkRoutes(deps: AppDeps): FastifyPluginAsync {
  const { db } = deps.database;
  const { clock } = deps;

  async function checkBasicAuth(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { secrets } = await channelOf(deps, request, 'postmark');
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) {
      void reply.header('www-authenticate', 'Basic realm="hookdesk", charset="UTF-8"');
      throw missingCredential('HTTP Basic credentials');
    }
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // Both compared, always: no early exit telling which part was wrong.
    const userOk = safeEqual(user, secrets.basicAuthUser ?? '');
    const passwordOk = safeEqual(password, secrets.basicAuthPassword ?? '');
    if (!(userOk && passwordOk)) throw badCredential('HTTP Basic credentials');
  }

  return async (app) => {
    await installProviderParsers(app);

    app.post(
      `${CHANNEL_ROUTE}/postmark/inbound`,
      {
        ...acknowledged(callbackRoute('Postmark inbound webhook (inbound email)')),
        bodyLimit: INBOUND_EMAIL_LIMIT_BYTES,
        onRequest: checkBasicAuth,
      },
      async (request, reply) => {
        const { row: channel } = await channelOf(deps, request, 'postmark');
        const raw = rawBody(request);
        const body = asObject(jsonBody(raw));
        const email = await postmarkInboundEmail(channel.organization_id, body);
        const postmarkId = field(body, 'MessageID');
        const key =
          typeof postmarkId === 'string' && postmarkId !== ''
            ? `postmark:${postmarkId}`
            : inboundKey(email, raw.toString('utf8'));
        await db.transaction().execute(async (trx) => {
          if (!(await firstSeen(trx, clock, channel, key))) return;
          await receiveInboundEmail(trx, clock, email);
        });
        return reply.status(200).send({ success: true });
      },
    );

    app.post(
      `${CHANNEL_ROUTE}/postmark/events`,
      {
        ...acknowledged(callbackRoute('Postmark Delivery / Bounce / Open / Click webhooks')),
        onRequest: checkBasicAuth,
      },
      async (request, reply) => {
        const { row: channel } = await channelOf(deps, request, 'postmark');
        const raw = rawBody(request);
        const event = postmarkEvent(asObject(jsonBody(raw)));
        await db.transaction().execute(async (trx) => {
          // No event id in these records; a retry repeats the body byte for byte.
          if (!(await firstSeen(trx, clock, channel, `event-sha256:${sha256Hex(raw)}`))) return;
          if (event.status === null || event.messageId === undefined) return;
          await applyDeliveryStatus(trx, clock, {
            providerMessageId: event.messageId,
            status: event.status,
            errorCode: event.errorCode,
            errorMessage: event.errorMessage,
            at: event.at ?? clock.now(),
            organizationId: channel.organization_id,
          });
        });
        return reply.status(200).send({ success: true });
      },
    );
  };
}
