/**
 * Receivers that answer with bytes PostgreSQL cannot keep in a text column
 * (a NUL byte) or that are not UTF-8 at all. Every such attempt is recorded
 * like any other, on both databases: the test endpoint answers normally, a
 * 2xx succeeds, anything else counts toward the failure streak and is
 * retried on schedule; nothing is left `delivering` to be sent again at every
 * lease. How a body is stored is described in docs/api.md, "Delivery log".
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres } from '../src/db/postgres/postgres.js';
import { claimDueDeliveries } from '../src/delivery/queue/claim.js';
import { OutcomeRecorder } from '../src/delivery/recorder.js';
import type { AttemptResult } from '../src/delivery/sender.js';
import { forEachDialect, type Harness } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { attemptsOf, createTicket, createWebhook, deliveriesOf } from './support/webhooks.js';
import { testWorker } from './support/worker.js';

const ENV = {
  HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
  HOOKDESK_EGRESS_CA_FILE: CA_FILE,
  HOOKDESK_DELIVERY_TIMEOUT_MS: '1500',
};

const NUL_BODY = Buffer.from('ok\0bin', 'latin1');
/** `ok\0bin` as stored: the NUL byte becomes U+FFFD. */
const NUL_BODY_STORED = 'ok\uFFFDbin';

const tlsFixture = (name: string) =>
  readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url));

/**
 * A loopback HTTPS receiver that writes its answer byte for byte, for what
 * Node's HTTP server refuses to send (a NUL byte in a header value).
 */
class RawReceiver {
  private server: Server | null = null;
  constructor(private readonly answer: Buffer) {}

  async start(): Promise<void> {
    this.server = createServer(
      { key: tlsFixture('server.key'), cert: tlsFixture('server.pem') },
      (socket) => {
        let seen = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          seen = Buffer.concat([seen, chunk]);
          const end = seen.indexOf('\r\n\r\n');
          if (end < 0) return;
          const length = /content-length:\s*(\d+)/i.exec(seen.subarray(0, end).toString());
          if (seen.length - end - 4 < Number(length?.[1] ?? 0)) return;
          socket.end(this.answer);
        });
        socket.on('error', () => {});
      },
    );
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  url(path = '/raw'): string {
    return `https://127.0.0.1:${(this.server!.address() as AddressInfo).port}${path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Claims every due delivery for `owner`, as a worker would. */
function claimAll(h: Harness, owner: string) {
  return claimDueDeliveries(h.db, {
    owner,
    now: h.clock.now(),
    leaseMs: 60_000,
    limit: 10,
    perWebhook: 4,
    excludeWebhookIds: [],
  });
}

async function webhookRow(h: Harness, id: string) {
  return h.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

forEachDialect(
  'binary responses',
  (h) => {
    const receiver = useReceiver();
    const nulHeader = new RawReceiver(
      Buffer.from(
        'HTTP/1.1 200 OK\r\nX-Bin: a\0b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
        'latin1',
      ),
    );
    beforeAll(() => nulHeader.start());
    afterAll(() => nulHeader.close());

    it('the test endpoint records a body with a NUL byte, for a 200 and for a 500', async () => {
      const org = await h.createOrg();
      for (const [status, outcome] of [
        [200, 'succeeded'],
        [500, 'failed'],
      ] as const) {
        receiver.respond = () => ({ status, body: NUL_BODY, headers: { 'x-kind': 'bin' } });
        const hook = await createWebhook(h, org, { url: receiver.url(`/test-${status}`) });
        const res = await h.request({
          method: 'POST',
          url: `/api/webhooks/${hook.id}/test`,
          key: org.apiKey,
        });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        expect(body).toMatchObject({ status: outcome, attemptCount: 1 });
        expect(body.attempts).toHaveLength(1);
        expect(body.attempts[0]).toMatchObject({
          statusCode: status,
          responseBody: NUL_BODY_STORED,
          responseBodyTruncated: false,
          error: null,
        });
        expect(body.attempts[0].responseHeaders['x-kind']).toBe('bin');
        // The delivery log shows the same attempt.
        const detail = await h.request({
          method: 'GET',
          url: `/api/webhooks/${hook.id}/deliveries/${body.id}`,
          key: org.apiKey,
        });
        expect(detail.json().attempts).toEqual(body.attempts);
      }
    });

    it('a delivery answered 200 with a NUL byte succeeds and resets the failure streak', async () => {
      receiver.respond = () => ({ status: 200, body: NUL_BODY });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/ok-nul') });
      await h.db
        .updateTable('webhooks')
        .set({ consecutive_failures: 3 })
        .where('id', '=', hook.id)
        .execute();
      await createTicket(h, org);
      expect(await testWorker(h).runOnce()).toBe(1);
      const [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'succeeded', attempt_count: 1, lease_owner: null });
      const [a] = await attemptsOf(h, d!.id);
      expect(a).toMatchObject({
        status_code: 200,
        response_body: NUL_BODY_STORED,
        error_code: null,
      });
      expect((await webhookRow(h, hook.id)).consecutive_failures).toBe(0);
    });

    it('a delivery answered 500 with a NUL byte counts a failure and is retried on schedule', async () => {
      receiver.respond = () => ({ status: 500, body: NUL_BODY });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/down-nul') });
      await createTicket(h, org);
      const worker = testWorker(h);
      expect(await worker.runOnce()).toBe(1);
      let [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({
        status: 'pending',
        attempt_count: 1,
        next_attempt_at: h.clock.now() + 1_000, // the default policy's first delay
        lease_owner: null,
      });
      expect((await attemptsOf(h, d!.id))[0]).toMatchObject({
        number: 1,
        status_code: 500,
        response_body: NUL_BODY_STORED,
      });
      expect((await webhookRow(h, hook.id)).consecutive_failures).toBe(1);
      // Not due before its time; due after it.
      expect(await worker.runOnce()).toBe(0);
      h.clock.advance(1_000);
      expect(await worker.runOnce()).toBe(1);
      [d] = await deliveriesOf(h, hook.id);
      expect(d).toMatchObject({ status: 'pending', attempt_count: 2 });
      expect((await webhookRow(h, hook.id)).consecutive_failures).toBe(2);
    });

    it('ten 500s with a NUL byte in a row disable the webhook', async () => {
      receiver.respond = () => ({ status: 500, body: NUL_BODY });
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: receiver.url('/ten-nul') });
      for (let i = 0; i < 10; i++) await createTicket(h, org, `t${i}`);
      const worker = testWorker(h);
      // At most 4 per webhook per claim: 3 passes take all 10.
      for (let pass = 0; pass < 5; pass++) {
        if ((await webhookRow(h, hook.id)).active === 0) break;
        await worker.runOnce();
      }
      expect(await webhookRow(h, hook.id)).toMatchObject({
        active: 0,
        consecutive_failures: 10,
        disabled_reason: 'consecutive_failures',
      });
      const rows = await deliveriesOf(h, hook.id);
      expect(rows.filter((r) => r.status === 'delivering')).toEqual([]);
      expect(rows.reduce((n, r) => n + r.attempt_count, 0)).toBe(10);
    });

    it('a response header with a NUL byte is refused by the parser and counted as a failure', async () => {
      const org = await h.createOrg();
      const hook = await createWebhook(h, org, { url: nulHeader.url() });
      const test = await h.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        key: org.apiKey,
      });
      expect(test.statusCode, test.body).toBe(200);
      expect(test.json()).toMatchObject({ status: 'failed', attemptCount: 1 });
      expect(test.json().attempts[0]).toMatchObject({
        statusCode: null,
        responseHeaders: null,
        responseBody: null,
        error: { code: 'request_failed' },
      });

      await createTicket(h, org);
      expect(await testWorker(h).runOnce()).toBe(1);
      const real = (await deliveriesOf(h, hook.id)).find((r) => r.is_test === 0)!;
      expect(real).toMatchObject({ status: 'pending', attempt_count: 1 });
      expect((await attemptsOf(h, real.id))[0]).toMatchObject({ error_code: 'request_failed' });
      expect((await webhookRow(h, hook.id)).consecutive_failures).toBe(1);
    });

    it('a row the database refuses is recorded without its response; the rest of its batch is kept', async () => {
      // Capture never hands the recorder text like this; the recorder must
      // cope anyway, whatever the batch's path (all successes, or with failures).
      const org = await h.createOrg();
      const hooks = await Promise.all(
        ['a', 'b', 'c', 'd'].map((n) => createWebhook(h, org, { url: `https://x.test/${n}` })),
      );
      await createTicket(h, org);
      const now = h.clock.now();
      const claimed = await claimAll(h, 'w-refused');
      expect(claimed).toHaveLength(4);
      const byHook = new Map(claimed.map((d) => [d.webhook_id, d]));
      const base = {
        startedAt: now,
        durationMs: 3,
        responseHeaders: {},
        responseBodyTruncated: false,
        error: null,
      };
      const ok: AttemptResult = { ...base, success: true, statusCode: 200, responseBody: 'fine' };
      const badOk: AttemptResult = { ...ok, responseBody: 'ok\0bin' };
      const down: AttemptResult = { ...base, success: false, statusCode: 500, responseBody: 'x' };
      const badDown: AttemptResult = {
        ...base,
        success: false,
        statusCode: null,
        responseHeaders: null,
        responseBody: null,
        error: { code: 'request_failed', message: 'bad\0byte' },
      };
      const recorder = new OutcomeRecorder(h.db, h.clock, 'w-refused');
      const at = (i: number) => byHook.get(hooks[i]!.id)!;
      // The first two form an all-success batch (one statement on PostgreSQL);
      // the last two a batch with failures (one transaction).
      const first = await Promise.all([recorder.record(at(0), ok), recorder.record(at(1), badOk)]);
      const second = await Promise.all([
        recorder.record(at(2), down),
        recorder.record(at(3), badDown),
      ]);
      expect([...first, ...second].map((o) => [o.recorded, o.status])).toEqual([
        [true, 'succeeded'],
        [true, 'succeeded'],
        [true, 'pending'],
        [true, 'pending'],
      ]);
      const attempts = await Promise.all(claimed.map((d) => attemptsOf(h, d.id)));
      for (const list of attempts) expect(list).toHaveLength(1);
      const attemptOf = (i: number) => attempts[claimed.indexOf(at(i))]![0]!;
      expect(attemptOf(0)).toMatchObject({ response_body: 'fine', error_code: null });
      expect(attemptOf(2)).toMatchObject({ response_body: 'x', status_code: 500 });
      for (const i of [1, 3]) {
        const a = attemptOf(i);
        // SQLite keeps a NUL in text; PostgreSQL refuses it, and then the
        // attempt is kept without what it refused.
        if (h.dialect === 'postgres') {
          expect(a).toMatchObject({
            response_headers: null,
            response_body: null,
            error_code: 'response_not_stored',
          });
        }
      }
      expect(attemptOf(1).status_code).toBe(200);
      expect((await webhookRow(h, hooks[1]!.id)).consecutive_failures).toBe(0);
      expect((await webhookRow(h, hooks[3]!.id)).consecutive_failures).toBe(1);
    });

    it.skipIf(h.dialect !== 'postgres')(
      'an unavailable database is not taken for a refused row: the claim stays leased',
      async () => {
        const org = await h.createOrg();
        const hook = await createWebhook(h, org, { url: 'https://x.test/gone' });
        await createTicket(h, org);
        const [claimed] = await claimAll(h, 'w-gone');
        // Nothing listens on port 1 of loopback: every connection is refused.
        const gone = openPostgres('postgres://postgres@127.0.0.1:1/hookdesk', { poolSize: 1 });
        try {
          const recorder = new OutcomeRecorder(gone.db, h.clock, 'w-gone');
          const attempt: AttemptResult = {
            success: true,
            startedAt: h.clock.now(),
            durationMs: 3,
            statusCode: 200,
            responseHeaders: {},
            responseBody: 'ok\0bin',
            responseBodyTruncated: false,
            error: null,
          };
          await expect(recorder.record(claimed!, attempt)).rejects.toMatchObject({
            code: 'ECONNREFUSED',
          });
        } finally {
          await gone.close();
        }
        const [d] = await deliveriesOf(h, hook.id);
        expect(d).toMatchObject({ status: 'delivering', attempt_count: 0, lease_owner: 'w-gone' });
      },
    );

    it.skipIf(h.dialect !== 'postgres')(
      'PostgreSQL errors are told apart: a refused value, a lost connection, a refused connection',
      async () => {
        const { dialect } = h.database;
        const errorOf = async (run: (c: pg.Client) => Promise<unknown>, url = h.databaseUrl) => {
          const client = new pg.Client({ connectionString: url });
          client.on('error', () => {});
          try {
            await client.connect();
            await run(client);
          } catch (error) {
            return error;
          } finally {
            await client.end().catch(() => {});
          }
          throw new Error('expected an error');
        };
        const refusedValue = await errorOf((c) =>
          c.query('update webhooks set name = $1 where false', ['a\0b']),
        );
        const terminated = await errorOf((c) =>
          c.query('select pg_terminate_backend(pg_backend_pid())'),
        );
        const refused = await errorOf(
          () => Promise.resolve(),
          'postgres://postgres@127.0.0.1:1/hookdesk',
        );
        expect(
          [refusedValue, terminated, refused].map((e) => [
            dialect.isDataError(e),
            dialect.isUnavailable(e),
          ]),
        ).toEqual([
          [true, false],
          [false, true],
          [false, true],
        ]);
      },
    );
  },
  ENV,
);
