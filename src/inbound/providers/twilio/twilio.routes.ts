/**
 * Twilio SMS and WhatsApp (channel types `twilio_sms`, `twilio_whatsapp`):
 * inbound messages and status callbacks, both form posts signed with
 * `X-Twilio-Signature` (HMAC-SHA1 of the URL and every posted parameter,
 * keyed by the account's Auth Token). The official `twilio` package checks
 * it, over all received parameters (Twilio adds new ones without notice) and
 * the public URL Twilio was given: HOOKDESK_PUBLIC_URL plus the path and
 * query as received, so a proxy in front changes nothing.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import type { AppDeps } from '../../../http/deps.js';
import { invalid } from '../../../errors.js';
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
} from '../channel.js';
import { formParams, installProviderParsers, one, rawBody, rejectNul } from '../parsers.js';
import type { FormParams } from '../parsers.js';
import { mediaAttachments, twilioStatus } from './twilio.mapping.js';

/** An empty TwiML document: message accepted, no automatic reply. */
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

export function twilioRoutes(deps: AppDeps): FastifyPluginAsync {
  const { db } = deps.database;
  const { clock } = deps;

  /** Loads the channel and checks the signature before anything else reads the body. */
  async function verified(request: FastifyRequest) {
    const channel = await channelOf(deps, request, 'twilio');
    const params = formParams(rawBody(request));
    const signature = request.headers['x-twilio-signature'];
    if (typeof signature !== 'string' || signature === '') {
      throw missingCredential('X-Twilio-Signature header');
    }
    const url = `${deps.config.publicUrl}${request.url}`;
    if (!validateRequest(channel.secrets.authToken ?? '', signature, url, params)) {
      throw badCredential('X-Twilio-Signature');
    }
    rejectNul(params);
    return { channel: channel.row, params };
  }

  function required(params: FormParams, name: string): string {
    const value = one(params, name);
    if (value === undefined || value === '') throw invalid(name, 'is required');
    return value;
  }

  return async (app) => {
    await installProviderParsers(app);

    app.post(
      `${CHANNEL_ROUTE}/twilio/inbound`,
      {
        ...callbackRoute('Twilio inbound SMS / WhatsApp message (answers empty TwiML)'),
        onRequest: knownChannel(deps, 'twilio'),
      },
      async (request, reply) => {
        const { channel, params } = await verified(request);
        const sid = required(params, 'MessageSid');
        const from = required(params, 'From');
        if (senderPhone(from) === null) {
          // Alphanumeric sender ids have no phone to thread on; accepted so Twilio does not log an error.
          request.log.warn(
            { channelId: channel.id, messageSid: sid },
            'sender has no phone number',
          );
        } else {
          await db.transaction().execute(async (trx) => {
            if (!(await firstSeen(trx, clock, channel, `message:${sid}`))) return;
            await receiveChannelMessage(trx, clock, {
              channel,
              medium: channel.type === 'twilio_whatsapp' ? 'whatsapp' : 'sms',
              from,
              fromName: one(params, 'ProfileName') || undefined,
              body: one(params, 'Body') ?? '',
              providerMessageId: sid,
              attachments: mediaAttachments(params),
            });
          });
        }
        return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
      },
    );

    app.post(
      `${CHANNEL_ROUTE}/twilio/status`,
      {
        ...callbackRoute('Twilio message status callback (answers 200, empty)'),
        onRequest: knownChannel(deps, 'twilio'),
      },
      async (request, reply) => {
        const { channel, params } = await verified(request);
        const sid = required(params, 'MessageSid');
        const raw = one(params, 'MessageStatus') ?? one(params, 'SmsStatus');
        if (raw === undefined || raw === '') throw invalid('MessageStatus', 'is required');
        const status = twilioStatus(raw);
        await db.transaction().execute(async (trx) => {
          // Per (message, status): a repeated callback is a no-op, a new status is not.
          if (!(await firstSeen(trx, clock, channel, `status:${sid}:${raw}`))) return;
          if (status === null) return;
          await applyDeliveryStatus(trx, clock, {
            providerMessageId: sid,
            status,
            errorCode: one(params, 'ErrorCode') || undefined,
            errorMessage: one(params, 'ErrorMessage') || undefined,
            at: clock.now(),
            organizationId: channel.organization_id,
          });
        });
        return reply.status(200).send();
      },
    );
  };
}
