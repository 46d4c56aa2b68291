/**
 * Mailgun (channel type `mailgun`):
 * - `inbound`: a route's `forward()` post (urlencoded or multipart). The
 *   signature fields travel in the body: a multipart post is verified as
 *   soon as all three have arrived, so a forged one is refused before its
 *   attachments are read.
 * - `events`: event webhooks (JSON `{signature, event-data}`).
 * Both carry `timestamp`, `token` and `signature` = hex(HMAC-SHA256(webhook
 * signing key, timestamp + token)). A timestamp outside REPLAY_WINDOW_MS is
 * refused; a token already seen is a replay (or a retry) and changes
 * nothing. A bad signature answers 403, not Mailgun's "do not retry" 406: a
 * wrong key is a setup mistake, and Mailgun's retries (about 8 hours) let the
 * events through once the key is fixed.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Clock } from '../../../clock.js';
import type { AppDeps } from '../../../http/deps.js';
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
} from '../channel.js';
import { acknowledged } from '../ack.schemas.js';
import { inboundKey } from '../email.js';
import { readMultipart, type MultipartForm } from '../multipart.js';
import {
  INBOUND_EMAIL_LIMIT_BYTES,
  formParams,
  installProviderParsers,
  jsonBody,
  one,
  rawBody,
  rejectNul,
  type FormParams,
} from '../parsers.js';
import {
  mailgunInboundEmail,
  readMailgunEvent,
  verifyMailgunSignature,
} from './mailgun.mapping.js';

interface Signed {
  timestamp: unknown;
  token: unknown;
  signature: unknown;
}

/** Verifies the signature fields; answers the token to remember. */
function verify(clock: Clock, signingKey: string, signed: Signed): string {
  const { timestamp, token, signature } = signed;
  if (typeof timestamp !== 'string' || typeof token !== 'string' || typeof signature !== 'string') {
    throw missingCredential('timestamp, token and signature');
  }
  if (!verifyMailgunSignature(signingKey, timestamp, token, signature)) {
    throw badCredential('signature');
  }
  if (!isFresh(clock, timestamp)) throw badCredential('timestamp (too old or too new)');
  return token;
}

function signedFields(fields: FormParams): Signed {
  return {
    timestamp: one(fields, 'timestamp'),
    token: one(fields, 'token'),
    signature: one(fields, 'signature'),
  };
}

async function readForm(
  request: FastifyRequest,
  onField: (fields: FormParams) => void,
): Promise<MultipartForm> {
  if (request.isMultipart()) return readMultipart(request, { onField });
  const fields = formParams(rawBody(request));
  rejectNul(fields);
  return { fields, files: [] };
}

/** Form posts only, refused before the body is read. */
async function rejectJson(request: FastifyRequest): Promise<void> {
  if (request.headers['content-type']?.startsWith('application/json')) {
    throw new AppError('unsupported_media_type', 'Mailgun routes post form data.');
  }
}

export function mailgunRoutes(deps: AppDeps): FastifyPluginAsync {
  const { db } = deps.database;
  const { clock } = deps;

  return async (app) => {
    await installProviderParsers(app, { multipart: true });

    app.post(
      `${CHANNEL_ROUTE}/mailgun/inbound`,
      {
        ...acknowledged(callbackRoute('Mailgun inbound route forward (inbound email)')),
        bodyLimit: INBOUND_EMAIL_LIMIT_BYTES,
        onRequest: [knownChannel(deps, 'mailgun'), rejectJson],
      },
      async (request, reply) => {
        const { row: channel, secrets } = await channelOf(deps, request, 'mailgun');
        const signingKey = secrets.signingKey ?? '';
        let verifiedEarly: string | undefined;
        const form = await readForm(request, (fields) => {
          const signed = signedFields(fields);
          if (verifiedEarly !== undefined || Object.values(signed).includes(undefined)) return;
          verifiedEarly = verify(clock, signingKey, signed);
        });
        const { fields } = form;
        const token = verifiedEarly ?? verify(clock, signingKey, signedFields(fields));
        const email = await mailgunInboundEmail(channel.organization_id, fields, form.files);
        await db.transaction().execute(async (trx) => {
          if (!(await firstSeen(trx, clock, channel, `token:${token}`))) return;
          if (!(await firstSeen(trx, clock, channel, inboundKey(email, JSON.stringify(form))))) {
            return;
          }
          await receiveInboundEmail(trx, clock, email);
        });
        return reply.status(200).send({ success: true });
      },
    );

    app.post(
      `${CHANNEL_ROUTE}/mailgun/events`,
      {
        ...acknowledged(callbackRoute('Mailgun event webhook (delivery statuses)')),
        onRequest: knownChannel(deps, 'mailgun'),
      },
      async (request, reply) => {
        const { row: channel, secrets } = await channelOf(deps, request, 'mailgun');
        const body = jsonBody(rawBody(request));
        const record =
          typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
        const signed = record.signature;
        if (typeof signed !== 'object' || signed === null) {
          throw missingCredential('signature object');
        }
        const token = verify(clock, secrets.signingKey ?? '', signed as Signed);
        const event = readMailgunEvent(record['event-data']);
        await db.transaction().execute(async (trx) => {
          if (!(await firstSeen(trx, clock, channel, `token:${token}`))) return;
          if (event.id && !(await firstSeen(trx, clock, channel, `event:${event.id}`))) return;
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
