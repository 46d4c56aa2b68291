/**
 * Fault: `hookdesk serve` on SQLite SIGKILLed under load (tickets being
 * created through the API, deliveries in flight at a slow receiver), then
 * started again on the same file.
 *
 * Asserted: the file is intact (`PRAGMA integrity_check` = ok, after the kill
 * and at the end); the restarted process opens it and serves; every ticket
 * that got a 201 is there with its ticket.created event and one delivery per
 * subscribed webhook (the outbox commits with the ticket); the deliveries
 * pending or in flight at the kill resume, and every one reaches the receiver
 * and succeeds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/dialect.js';
import { openSqlite } from '../../src/db/sqlite/sqlite.js';
import { freePort, stop, waitForOk } from '../support/cli.js';
import { CA_FILE, Receiver } from '../support/receiver.js';
import { TicketLoad } from './support/load.js';
import {
  ApiClient,
  HookdeskProcess,
  TEST_KEY,
  deliveryHeader,
  sleep,
  until,
} from '../support/processes.js';

/** Attempt timeout; the lease of what the killed process held is 2 × this + 5 s = 9 s. */
const TIMEOUT_MS = 2_000;
const HOOKS = 2;

function integrityCheck(file: string): string {
  const db = new SqliteDatabase(file);
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

describe('hookdesk serve on SQLite, SIGKILLed under load [sqlite]', () => {
  const receiver = new Receiver();
  let dir: string;
  let file: string;
  const procs: HookdeskProcess[] = [];
  let db: DatabaseHandle | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookdesk-sqlite-kill-'));
    file = join(dir, 'hookdesk.db');
    await receiver.start();
  });
  afterAll(async () => {
    try {
      await Promise.all(procs.map((p) => stop(p.child)));
      await db?.close();
      await receiver.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts on the same file: intact, every 201 ticket kept with its deliveries, all delivered', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: `sqlite:${file}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      HOOKDESK_BOOTSTRAP_API_KEY: TEST_KEY,
      HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
      HOOKDESK_EGRESS_CA_FILE: CA_FILE,
      HOOKDESK_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      LOG_LEVEL: 'info',
    };
    const base = `http://127.0.0.1:${port}`;
    const api = new ApiClient(base, TEST_KEY);
    const start = (name: string) => {
      const p = new HookdeskProcess(name, ['serve'], env);
      procs.push(p);
      return p;
    };
    const diagnostics = () => procs.map((p) => p.describe()).join('\n');

    const first = start('serve 1');
    expect(await waitForOk(`${base}/readyz`, 30_000), diagnostics()).toBe(true);
    const hookIds: string[] = [];
    for (let i = 0; i < HOOKS; i++) {
      const hook = await api.call('POST', '/api/webhooks', {
        name: `kill ${i}`,
        url: receiver.url(`/sqlite-kill/${i}`),
        events: ['ticket.created'],
      });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);
      hookIds.push(hook.body.id);
    }
    // Slow answers: deliveries pile up in flight while tickets keep coming.
    receiver.respond = () => ({ status: 200, body: 'ok', delayMs: 1_000 });

    const load = new TicketLoad(api, 20, 16);
    load.start();
    await until(
      'tickets created and deliveries in flight',
      () => load.created().length >= 40 && receiver.received.length >= 20,
      30_000,
      diagnostics,
    );
    const killed = await first.kill();
    await load.stop();
    expect(killed.signal).toBe('SIGKILL');
    const created = load.created();
    // Every other answer is the connection dying with the process.
    expect(load.unexpected([0]), JSON.stringify(load.unexpected([0]).slice(0, 3))).toEqual([]);

    // The file as the kill left it (WAL included) is intact.
    expect(integrityCheck(file)).toBe('ok');
    db = openSqlite(file);
    const atKill = await db.db
      .selectFrom('deliveries')
      .select(['id', 'status'])
      .where('status', 'in', ['pending', 'delivering'])
      .execute();
    const inFlightAtKill = atKill.filter((d) => d.status === 'delivering').length;
    expect(inFlightAtKill, 'deliveries in flight at the kill').toBeGreaterThan(0);

    // Every 201 ticket is there with its event and one delivery per webhook.
    const tickets = await db.db.selectFrom('tickets').select('id').execute();
    const stored = new Set(tickets.map((t) => t.id));
    expect(created.filter((id) => !stored.has(id))).toEqual([]);
    const events = await db.db
      .selectFrom('events')
      .select(['id', 'ticket_id'])
      .where('type', '=', 'ticket.created')
      .execute();
    const eventOf = new Map(events.map((e) => [e.ticket_id!, e.id]));
    expect(created.filter((id) => !eventOf.has(id))).toEqual([]);
    const deliveries = await db.db
      .selectFrom('deliveries')
      .select(['id', 'event_id', 'webhook_id'])
      .execute();
    for (const id of created) {
      const mine = deliveries.filter((d) => d.event_id === eventOf.get(id));
      expect(mine.map((d) => d.webhook_id).sort(), id).toEqual([...hookIds].sort());
    }
    // Stored tickets are exactly the 201s plus any whose answer the kill cut off.
    expect(stored.size).toBeGreaterThanOrEqual(created.length);
    expect(deliveries).toHaveLength(stored.size * HOOKS);

    // Restart on the same file; the receiver now answers at once.
    receiver.respond = () => ({ status: 200, body: 'ok' });
    const restartedAt = Date.now();
    const second = start('serve 2');
    expect(await waitForOk(`${base}/readyz`, 30_000), diagnostics()).toBe(true);
    const after = await api.call('POST', '/api/tickets', {
      subject: 'After the restart',
      requester: { email: 'after@example.com' },
    });
    expect(after.status, JSON.stringify(after.body)).toBe(201);

    const total = (stored.size + 1) * HOOKS;
    const succeeded = async () =>
      (
        await db!.db
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'succeeded')
          .executeTakeFirstOrThrow()
      ).n;
    await until(
      `all ${total} deliveries to succeed`,
      async () => Number(await succeeded()) === total,
      2 * TIMEOUT_MS + 5_000 + 30_000,
      diagnostics,
      250,
    );
    const arrived = new Set(receiver.received.map((r) => deliveryHeader(r.headers)));
    const all = await db.db.selectFrom('deliveries').select('id').execute();
    expect(all.filter((d) => !arrived.has(d.id))).toEqual([]);
    expect(second.running).toBe(true);
    await stop(second.child);
    await sleep(50);
    expect(integrityCheck(file)).toBe('ok');
    console.log(
      `sqlite kill: ${created.length} tickets got 201 (${stored.size} stored), ${inFlightAtKill} deliveries in flight ` +
        `and ${atKill.length - inFlightAtKill} pending at the kill; all ${total} delivered ` +
        `${Date.now() - restartedAt} ms after the restart`,
    );
  }, 120_000);
});
