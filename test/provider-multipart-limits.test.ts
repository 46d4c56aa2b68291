/**
 * Large bodies on provider endpoints, over a real loopback connection: the
 * 50 MiB limit of inbound email holds across all parts together while the
 * body streams in, and a post that cannot be accepted (unknown channel,
 * wrong URL token or Basic credentials, wrong Mailgun signature) is refused
 * without reading the rest. Bodies are generated while sent; `sent` is how
 * much the server took before it stopped reading.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { beforeAll, expect, it } from 'vitest';
import { forEachDialect, type Harness, type Org } from './support/harness.js';
import { CHANNEL_ENV, counts, createChannel, pathOf } from './support/channels.js';
import {
  MiB,
  fillerStream,
  multipartStream,
  streamedPost,
  type StreamedAnswer,
  type StreamedPart,
} from './support/streamed-post.js';

/** The documented limit of inbound email posts (docs/providers.md, "Channel choices"). */
const LIMIT = 50 * MiB;
/** The attacker's body: four times the limit. */
const HUGE = 200 * MiB;
/**
 * What loopback socket buffers can hold once the server stops reading (the
 * kernel grows a receive buffer up to tens of MiB while data is read fast).
 */
const SLACK = 40 * MiB;
/**
 * A refusal before the body is read: the client stops when the server ends
 * the connection, having filled little more than the initial socket buffers.
 */
const EARLY = 16 * MiB;
const BOUNDARY = 'xYzZY-hookdesk-stream';
const MULTIPART = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
const SIGNING_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const TIMEOUT_MS = 30_000;
/** A SendGrid channel needs an Event Webhook key; these tests post only Inbound Parse. */
const EVENT_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');

function mailgunSignature(h: Harness, key = SIGNING_KEY) {
  const timestamp = String(Math.floor(h.clock.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', key)
    .update(timestamp + token)
    .digest('hex');
  return [
    { name: 'timestamp', value: timestamp },
    { name: 'token', value: token },
    { name: 'signature', value: signature },
  ];
}

const SENDGRID_FIELDS: StreamedPart[] = [
  { name: 'headers', value: 'From: Alice <alice@example.com>\nSubject: big\nMessage-ID: <big@x>' },
  { name: 'from', value: 'Alice <alice@example.com>' },
  { name: 'to', value: 'support@inbound.example.com' },
];

const MAILGUN_FIELDS: StreamedPart[] = [
  { name: 'recipient', value: 'support@inbound.example.com' },
  { name: 'from', value: 'Alice <alice@example.com>' },
  { name: 'subject', value: 'big' },
  { name: 'body-plain', value: 'hello' },
];

/** Six parts of 9 MiB each (three fields, three files): 54 MiB, none over the limit alone. */
const SPREAD: StreamedPart[] = [0, 1, 2].flatMap((i) => [
  { name: `note-${i}`, size: 9 * MiB },
  { name: `attachment-${i + 1}`, filename: `part-${i}.bin`, size: 9 * MiB },
]);

function errorCode(answer: StreamedAnswer): unknown {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return `not JSON: ${answer.body.slice(0, 100)}`;
  }
}

function describeAnswer(answer: StreamedAnswer): string {
  return `status ${answer.status}, ${(answer.sent / MiB).toFixed(1)} MiB sent, cut off: ${answer.cutOff}, ${answer.body.slice(0, 200)}`;
}

forEachDialect(
  'provider endpoints: large bodies',
  (h) => {
    let origin = '';
    let org: Org;
    let sendgrid = '';
    let sendgridWithToken = '';
    let mailgun = '';
    let postmark = { path: '', auth: '' };

    beforeAll(async () => {
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      origin = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
      org = await h.createOrg();
      const sg = await createChannel(h, org, {
        type: 'sendgrid',
        credentials: { eventWebhookPublicKey: EVENT_KEY },
      });
      sendgrid = pathOf(sg.callbackUrls.inbound!);
      const sgToken = await createChannel(h, org, {
        type: 'sendgrid',
        credentials: {
          eventWebhookPublicKey: EVENT_KEY,
          inboundParseToken: 'parse-token-0123456789',
        },
      });
      sendgridWithToken = pathOf(sgToken.callbackUrls.inbound!);
      const mg = await createChannel(h, org, {
        type: 'mailgun',
        credentials: { signingKey: SIGNING_KEY },
      });
      mailgun = pathOf(mg.callbackUrls.inbound!);
      const pm = new URL((await createChannel(h, org, { type: 'postmark' })).callbackUrls.inbound!);
      postmark = {
        path: pm.pathname,
        auth: `Basic ${Buffer.from(`${decodeURIComponent(pm.username)}:${decodeURIComponent(pm.password)}`).toString('base64')}`,
      };
    });

    function post(path: string, headers: Record<string, string>, body: Iterable<Buffer>) {
      return streamedPost({
        url: `${origin}${path}`,
        headers,
        body,
        afterAnswer: 2 * SLACK,
        timeoutMs: TIMEOUT_MS,
      });
    }

    async function expectNothingStored() {
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 0, tickets: 0 });
    }

    it(
      'refuses a 200 MiB single-file post with 413 once the limit is passed, reading no further',
      async () => {
        const cases = [
          { label: 'SendGrid', path: sendgrid, parts: [...SENDGRID_FIELDS] },
          { label: 'Mailgun unsigned', path: mailgun, parts: [...MAILGUN_FIELDS] },
          { label: 'Mailgun signed', path: mailgun, parts: [...mailgunSignature(h)] },
        ];
        for (const c of cases) {
          const parts = [
            ...c.parts,
            { name: 'attachment1', filename: 'huge.bin', size: HUGE },
          ] satisfies StreamedPart[];
          const answer = await post(c.path, MULTIPART, multipartStream(BOUNDARY, parts));
          const label = `${c.label}: ${describeAnswer(answer)}`;
          expect(answer.status, label).toBe(413);
          expect(errorCode(answer), label).toBe('payload_too_large');
          expect(answer.sent, label).toBeGreaterThan(LIMIT - MiB);
          expect(answer.sent, label).toBeLessThan(LIMIT + SLACK);
          expect(answer.cutOff, label).toBe(true);
        }
        await expectNothingStored();
      },
      3 * TIMEOUT_MS,
    );

    it(
      'refuses three parallel 200 MiB posts, each within the limit plus slack',
      async () => {
        const hugeFile = { name: 'attachment1', filename: 'huge.bin', size: HUGE };
        const answers = await Promise.all([
          post(sendgrid, MULTIPART, multipartStream(BOUNDARY, [...SENDGRID_FIELDS, hugeFile])),
          post(sendgrid, MULTIPART, multipartStream(BOUNDARY, [...SENDGRID_FIELDS, hugeFile])),
          post(mailgun, MULTIPART, multipartStream(BOUNDARY, [...MAILGUN_FIELDS, hugeFile])),
        ]);
        for (const answer of answers) {
          const label = describeAnswer(answer);
          expect(answer.status, label).toBe(413);
          expect(answer.sent, label).toBeLessThan(LIMIT + SLACK);
        }
        await expectNothingStored();
      },
      TIMEOUT_MS,
    );

    it(
      'counts every part: 54 MiB in six parts of 9 MiB is refused with 413',
      async () => {
        const cases = [
          { label: 'SendGrid', path: sendgrid, parts: [...SENDGRID_FIELDS, ...SPREAD] },
          {
            label: 'Mailgun signed',
            path: mailgun,
            parts: [...mailgunSignature(h), ...MAILGUN_FIELDS, ...SPREAD],
          },
        ];
        for (const c of cases) {
          const answer = await post(c.path, MULTIPART, multipartStream(BOUNDARY, c.parts));
          const label = `${c.label}: ${describeAnswer(answer)}`;
          expect(answer.status, label).toBe(413);
          expect(errorCode(answer), label).toBe('payload_too_large');
          expect(answer.sent, label).toBeLessThan(LIMIT + SLACK);
        }
        await expectNothingStored();
      },
      2 * TIMEOUT_MS,
    );

    it('refuses a declared Content-Length over the limit before reading the body', async () => {
      const size = LIMIT + 4 * MiB;
      const answer = await post(
        sendgrid,
        { ...MULTIPART, 'content-length': String(size) },
        fillerStream(size),
      );
      const label = describeAnswer(answer);
      expect(answer.status, label).toBe(413);
      expect(errorCode(answer), label).toBe('payload_too_large');
      expect(answer.sent, label).toBeLessThan(EARLY);
      await expectNothingStored();
    });

    it(
      'refuses before reading the body: unknown channel, wrong token or credentials, wrong media type, a bad Mailgun signature',
      async () => {
        const unknownMailgun = mailgun.replace(/channels\/[^/]+\//, 'channels/no-such-channel/');
        const unknownPostmark = postmark.path.replace(
          /channels\/[^/]+\//,
          'channels/no-such-channel/',
        );
        const hugeFile = { name: 'attachment1', filename: 'huge.bin', size: HUGE };
        const hugeForm = multipartStream(BOUNDARY, [...SENDGRID_FIELDS, hugeFile]);
        const json = { 'content-type': 'application/json' };
        const cases = [
          {
            label: 'SendGrid without token',
            path: sendgridWithToken.split('?')[0]!,
            headers: MULTIPART,
            body: hugeForm,
            status: 401,
          },
          {
            label: 'SendGrid wrong token',
            path: `${sendgridWithToken.split('?')[0]!}?token=wrong`,
            headers: MULTIPART,
            body: multipartStream(BOUNDARY, [...SENDGRID_FIELDS, hugeFile]),
            status: 403,
          },
          {
            label: 'SendGrid JSON',
            path: sendgrid,
            headers: json,
            body: fillerStream(HUGE, '{"x":"'),
            status: 415,
          },
          {
            label: 'Mailgun unknown channel',
            path: unknownMailgun,
            headers: MULTIPART,
            body: multipartStream(BOUNDARY, [...mailgunSignature(h), hugeFile]),
            status: 404,
          },
          {
            label: 'Mailgun JSON',
            path: mailgun,
            headers: json,
            body: fillerStream(HUGE, '{"x":"'),
            status: 415,
          },
          {
            label: 'Mailgun wrong signature, sent first',
            path: mailgun,
            headers: MULTIPART,
            body: multipartStream(BOUNDARY, [...mailgunSignature(h, 'wrong-key'), hugeFile]),
            status: 403,
          },
          {
            label: 'Postmark wrong credentials',
            path: postmark.path,
            headers: { ...json, authorization: `Basic ${Buffer.from('u:p').toString('base64')}` },
            body: fillerStream(HUGE, '{"x":"'),
            status: 403,
          },
          {
            label: 'Postmark unknown channel',
            path: unknownPostmark,
            headers: { ...json, authorization: postmark.auth },
            body: fillerStream(HUGE, '{"x":"'),
            status: 404,
          },
        ];
        for (const c of cases) {
          const answer = await post(c.path, c.headers, c.body);
          const label = `${c.label}: ${describeAnswer(answer)}`;
          expect(answer.status, label).toBe(c.status);
          expect(errorCode(answer), label).toMatch(/^[a-z_]+$/);
          expect(answer.cutOff, label).toBe(true);
          expect(answer.sent, label).toBeLessThan(EARLY);
        }
        await expectNothingStored();
      },
      8 * TIMEOUT_MS,
    );

    it('still accepts signed posts over a real connection', async () => {
      const mg = await post(
        mailgun,
        MULTIPART,
        multipartStream(BOUNDARY, [
          ...MAILGUN_FIELDS,
          { name: 'message-headers', value: '[["Message-Id","<streamed-mg@x>"]]' },
          { name: 'attachment-count', value: '1' },
          { name: 'attachment-1', filename: 'a.bin', size: 2 * MiB },
          ...mailgunSignature(h),
        ]),
      );
      expect(mg.status, describeAnswer(mg)).toBe(200);
      const sg = await post(
        sendgridWithToken,
        MULTIPART,
        multipartStream(BOUNDARY, [
          ...SENDGRID_FIELDS,
          { name: 'text', value: 'hello' },
          { name: 'attachment1', filename: 'a.bin', size: 2 * MiB },
        ]),
      );
      expect(sg.status, describeAnswer(sg)).toBe(200);
      expect(await counts(h, org.organizationId)).toMatchObject({ messages: 2 });
    });
  },
  CHANNEL_ENV,
);
