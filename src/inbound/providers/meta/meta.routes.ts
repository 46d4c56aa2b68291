/**
 * Meta WhatsApp Cloud API (channel type `meta_whatsapp`), one callback URL:
 * - GET: the subscription handshake. `hub.mode=subscribe` with the channel's
 *   verify token answers 200 with `hub.challenge` as the whole body; else 403.
 * - POST: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body,
 *   keyed by the App Secret>`, compared in constant time. Inbound messages
 *   and statuses of every entry and change; always 200 once the signature
 *   holds, because Meta retries anything else for days.
 * Messages are deduplicated on their wamid, statuses on (wamid, status).
 */
import { createHmac } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps } from '../../../http/deps.js';
import { parseConfig } from '../../../channels/channels.service.js';
import { applyDeliveryStatus } from '../../email/status.js';
import { receiveChannelMessage, senderPhone } from '../../messaging.js';
import {
  CHANNEL_ROUTE,
  badCredential,
  callbackRoute,
  channelOf,
  firstSeen,
  knownChannel,
  missingCredential,
  safeEqual,
} from '../channel.js';
import { installProviderParsers, jsonBody, rawBody } from '../parsers.js';
import { metaStatus, readChanges } from './meta.payload.js';

const MAX_CHALLENGE_LENGTH = 200;

export function metaRoutes(deps: AppDeps): FastifyPluginAsync {
  const { db } = deps.database;
  const { clock } = deps;
  const path = `${CHANNEL_ROUTE}/meta/webhook`;

  return async (app) => {
    await installProviderParsers(app);

    app.get(
      path,
      callbackRoute('Meta webhook verification handshake (answers hub.challenge)'),
      async (request, reply) => {
        const { secrets } = await channelOf(deps, request, 'meta');
        const query = request.query as Record<string, unknown>;
        const mode = query['hub.mode'];
        const token = query['hub.verify_token'];
        const challenge = query['hub.challenge'];
        if (
          mode !== 'subscribe' ||
          typeof token !== 'string' ||
          typeof challenge !== 'string' ||
          challenge.length > MAX_CHALLENGE_LENGTH ||
          !safeEqual(token, secrets.verifyToken ?? '')
        ) {
          throw badCredential('hub.verify_token');
        }
        // text/plain: the echoed value is the caller's and must not render as HTML.
        return reply.type('text/plain; charset=utf-8').send(challenge);
      },
    );

    app.post(
      path,
      {
        ...callbackRoute('Meta WhatsApp messages and statuses (answers 200)'),
        onRequest: knownChannel(deps, 'meta'),
      },
      async (request, reply) => {
        const { row: channel, secrets } = await channelOf(deps, request, 'meta');
        const raw = rawBody(request);
        const header = request.headers['x-hub-signature-256'];
        if (typeof header !== 'string' || header === '') {
          throw missingCredential('X-Hub-Signature-256 header');
        }
        const expected = `sha256=${createHmac('sha256', secrets.appSecret ?? '')
          .update(raw)
          .digest('hex')}`;
        if (!safeEqual(header.toLowerCase(), expected)) throw badCredential('X-Hub-Signature-256');

        const changes = readChanges(jsonBody(raw));
        const phoneNumberId = parseConfig(channel).phoneNumberId;
        await db.transaction().execute(async (trx) => {
          for (const change of changes) {
            // One Meta app posts every number's events to its one URL; this channel is one number.
            if (change.phoneNumberId !== undefined && change.phoneNumberId !== phoneNumberId) {
              request.log.info(
                { channelId: channel.id, phoneNumberId: change.phoneNumberId },
                'change for another phone number ignored',
              );
              continue;
            }
            for (const message of change.messages) {
              if (senderPhone(message.from) === null) continue;
              if (!(await firstSeen(trx, clock, channel, `message:${message.id}`))) continue;
              await receiveChannelMessage(trx, clock, {
                channel,
                medium: 'whatsapp',
                from: message.from,
                fromName: message.name,
                body: message.body,
                providerMessageId: message.id,
                attachments: message.attachments,
              });
            }
            for (const status of change.statuses) {
              const key = `status:${status.id}:${status.status}`;
              if (!(await firstSeen(trx, clock, channel, key))) continue;
              const mapped = metaStatus(status.status);
              if (mapped === null) continue;
              await applyDeliveryStatus(trx, clock, {
                providerMessageId: status.id,
                status: mapped,
                errorCode: status.errorCode,
                errorMessage: status.errorMessage,
                at: status.at ?? clock.now(),
                organizationId: channel.organization_id,
              });
            }
          }
        });
        return reply.status(200).send();
      },
    );
  };
}
