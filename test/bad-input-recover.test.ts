/**
 * Bad input aimed at `POST …/{id}/recover` (docs/api.md, "Recovering a time
 * range"), on ticket and survey webhooks: `since` and `until` get listed
 * wrong values and random times around every bound (the event retention,
 * the order of the two, a minute in the future), written in several
 * RFC 3339 forms. The oracle is the contract, not the implementation: a
 * wrong body answers 400 naming exactly the wrong fields and leaves every
 * table as it was (no recovery, no job); a right one answers 202 and stores
 * one recovery of exactly the range asked for, and its job. An inactive
 * webhook answers 409 `webhook_inactive`, an agent's key 403, both changing
 * nothing.
 */
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { RECOVERY_JOB_KIND } from '../src/webhooks/recover.js';
import { forEachDialect } from './support/harness.js';
import {
  DbWatch,
  PUBLIC_WEBHOOK_URL,
  World,
  errorOf,
  fcParams,
  is2xx,
  timeoutFor,
  useOfflineDelivery,
  watchProcess,
  type Res,
} from './support/fuzz.js';

const RUNS = 200;
const DAY = 86_400_000;
const MINUTE = 60_000;
/** The harness's default HOOKDESK_RETENTION_DAYS. */
const RETENTION_DAYS = 30;
const proc = watchProcess();

/** `ms` as RFC 3339 at a UTC offset of `offsetMin` minutes (`Z` for 0 unless `numericZero`). */
function rfc3339(ms: number, offsetMin: number, numericZero = false): string {
  const local = new Date(ms + offsetMin * MINUTE).toISOString().slice(0, -1);
  if (offsetMin === 0 && !numericZero) return `${local}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}

/** Milliseconds from now around every bound of the contract. */
const OFFSETS = [
  -RETENTION_DAYS * DAY - 1,
  -RETENTION_DAYS * DAY,
  -RETENTION_DAYS * DAY + 1,
  -40 * DAY,
  -DAY,
  -MINUTE,
  -1,
  0,
  1,
  MINUTE,
  MINUTE + 1,
  DAY,
];
const offset = fc.oneof(
  { arbitrary: fc.constantFrom(...OFFSETS), weight: 3 },
  { arbitrary: fc.integer({ min: -35 * DAY, max: 2 * DAY }), weight: 2 },
);
/** A time as the client writes it: a whole offset, in Z or at a UTC offset. */
const written = fc.record({
  at: offset,
  zone: fc.constantFrom(0, 0, 60, -300, 330, -720, 840),
  numericZero: fc.boolean(),
});
type Written = { at: number; zone: number; numericZero: boolean };

forEachDialect('bad input: recovering a time range', (h) => {
  useOfflineDelivery(h);
  let watch: DbWatch;
  let world: World;
  let items: Record<'ticket' | 'survey' | 'inactive', string>;

  beforeAll(async () => {
    watch = new DbWatch(h);
    world = await World.create(h, watch);
    const a = world.tenants[0];
    const survey = a.ids.surveys![0]!;
    const hooks = await h.db
      .selectFrom('webhooks')
      .select(['id', 'survey_id'])
      .where('organization_id', '=', a.organizationId)
      .where('active', '=', 1)
      .execute();
    const inactive = await h.request({
      method: 'POST',
      url: '/api/webhooks',
      key: a.adminKey,
      payload: { name: 'off', url: PUBLIC_WEBHOOK_URL, events: ['ticket.created'], active: false },
    });
    expect(inactive.statusCode, inactive.body).toBe(201);
    watch.invalidate();
    items = {
      ticket: `/api/webhooks/${hooks.find((w) => w.survey_id === null)!.id}`,
      survey: `/api/surveys/${survey}/webhooks/${hooks.find((w) => w.survey_id === survey)!.id}`,
      inactive: `/api/webhooks/${inactive.json().id}`,
    };
  });

  const send = (item: string, body: unknown, key = world.tenants[0].adminKey) =>
    watch.send({
      method: 'POST',
      url: `${item}/recover`,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const count = async (table: 'recoveries' | 'jobs') =>
    Number(
      (
        await h.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  /** 400 `validation_failed` naming exactly `fields` (DbWatch has checked that nothing changed). */
  const expectRefused = (res: Res, fields: string[], label: string) => {
    const full = `${label} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
    expect(res.statusCode, full).toBe(400);
    const error = errorOf(res);
    expect(error.code, full).toBe('validation_failed');
    expect([...new Set(error.fields)].sort(), full).toEqual([...fields].sort());
  };
  /** 202 with one recovery of exactly [since, until) stored, and its job. */
  const expectStarted = async (
    res: Res,
    since: number,
    until: number,
    before: { recoveries: number; jobs: number },
    label: string,
  ) => {
    expect(res.statusCode, `${label} -> ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(202);
    const body = res.json();
    expect(body, label).toMatchObject({
      since: iso(since),
      until: iso(until),
      status: 'running',
      deliveriesQueued: 0,
    });
    const row = await h.db
      .selectFrom('recoveries')
      .selectAll()
      .where('id', '=', body.id)
      .executeTakeFirstOrThrow();
    expect([row.since, row.until], label).toEqual([since, until]);
    expect(await count('recoveries'), label).toBe(before.recoveries + 1);
    const jobs = await h.db
      .selectFrom('jobs')
      .select('payload')
      .where('kind', '=', RECOVERY_JOB_KIND)
      .execute();
    expect(
      jobs.filter((j) => (JSON.parse(j.payload) as { recoveryId: string }).recoveryId === body.id),
      label,
    ).toHaveLength(1);
    expect(await count('jobs'), label).toBe(before.jobs + 1);
    watch.invalidate();
  };

  it('refuses every listed wrong since, until, unknown field and body, naming the field and changing nothing', async () => {
    const now = h.clock.now();
    const ok = iso(now - DAY);
    const cases: { body: unknown; fields: string[]; what: string }[] = [
      { body: undefined, fields: ['since'], what: 'no body' },
      { body: {}, fields: ['since'], what: 'no since' },
      { body: { until: iso(now) }, fields: ['since'], what: 'until alone' },
      ...[null, 5, true, [], {}, '', 'yesterday', '2026-01-14', '2026-01-14T10:30:00'].map(
        (since) => ({ body: { since }, fields: ['since'], what: `since ${JSON.stringify(since)}` }),
      ),
      { body: { since: '2026-01-14T10:30:00' + 'Z'.repeat(100) }, fields: ['since'], what: 'long' },
      { body: { since: '2026-02-30T00:00:00Z' }, fields: ['since'], what: 'no such day' },
      { body: { since: '2026-01-14T24:00:00Z' }, fields: ['since'], what: 'hour 24' },
      {
        body: { since: iso(now - RETENTION_DAYS * DAY - 1) },
        fields: ['since'],
        what: 'older than the retention',
      },
      { body: { since: iso(now) }, fields: ['since'], what: 'since now, until now' },
      { body: { since: iso(now + 1) }, fields: ['since'], what: 'since in the future' },
      ...[null, 5, true, [], {}, '', 'tomorrow', '2026-01-15'].map((until) => ({
        body: { since: ok, until },
        fields: ['until'],
        what: `until ${JSON.stringify(until)}`,
      })),
      {
        body: { since: ok, until: iso(now + MINUTE + 1) },
        fields: ['until'],
        what: 'until more than a minute ahead',
      },
      { body: { since: ok, until: ok }, fields: ['since'], what: 'since = until' },
      {
        body: { since: iso(now - 2 * DAY + 1), until: iso(now - 2 * DAY) },
        fields: ['since'],
        what: 'since after until',
      },
      {
        body: { since: iso(now - 40 * DAY), until: iso(now + 2 * MINUTE) },
        fields: ['since', 'until'],
        what: 'both wrong',
      },
      { body: { since: ok, extra: 1 }, fields: ['extra'], what: 'unknown field' },
      { body: { since: ok, webhookId: 'x' }, fields: ['webhookId'], what: 'unknown field' },
      ...[[], 'x', 5, null, true].map((body) => ({
        body,
        fields: ['(root)'],
        what: `body ${JSON.stringify(body)}`,
      })),
    ];
    for (const item of ['ticket', 'survey'] as const) {
      for (const { body, fields, what } of cases) {
        const res = await send(items[item], body);
        expectRefused(res, fields, `${item}: ${what} ${JSON.stringify(body)}`);
      }
    }
    await proc.expectHealthy(h);
  });

  it('answers 409 webhook_inactive for an inactive webhook and 403 to an agent, changing nothing', async () => {
    const since = iso(h.clock.now() - DAY);
    const inactive = await send(items.inactive, { since });
    expect(inactive.statusCode, inactive.body).toBe(409);
    expect(errorOf(inactive).code).toBe('webhook_inactive');
    // Bad input is answered first, whatever the webhook's state.
    expectRefused(await send(items.inactive, { since: 'x' }), ['since'], 'inactive, bad since');
    for (const item of ['ticket', 'survey'] as const) {
      const res = await send(items[item], { since }, world.tenants[0].agentKey);
      expect(res.statusCode, res.body).toBe(403);
    }
    // Another organization's key finds no such webhook.
    const foreign = await send(items.ticket, { since }, world.tenants[1].adminKey);
    expect(foreign.statusCode, foreign.body).toBe(404);
    await proc.expectHealthy(h);
  });

  it('reads a leap second as the last millisecond of its minute', async () => {
    const day = new Date(h.clock.now() - DAY).toISOString().slice(0, 10);
    const before = { recoveries: await count('recoveries'), jobs: await count('jobs') };
    const res = await send(items.ticket, { since: `${day}T23:59:60Z` });
    await expectStarted(
      res,
      Date.parse(`${day}T23:59:59.999Z`),
      h.clock.now(),
      before,
      'leap second',
    );
  });

  it(
    'accepts since and until exactly when the contract allows them, in any RFC 3339 form',
    async () => {
      const plan = fc.record({
        item: fc.constantFrom<'ticket' | 'survey'>('ticket', 'survey'),
        since: written,
        until: fc.option(written, { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ item, since, until }) => {
          const now = h.clock.now();
          const at = (w: Written) => now + w.at;
          const body: Record<string, string> = {
            since: rfc3339(at(since), since.zone, since.numericZero),
          };
          if (until) body.until = rfc3339(at(until), until.zone, until.numericZero);
          // The contract: since not older than the retention; until (default now)
          // at most a minute ahead; since before until.
          const end = until ? at(until) : now;
          const fields = new Set<string>();
          if (at(since) < now - RETENTION_DAYS * DAY) fields.add('since');
          if (until && end > now + MINUTE) fields.add('until');
          else if (at(since) >= end) fields.add('since');
          const label = `${item} ${JSON.stringify(body)} (${[...fields].join(', ') || 'valid'})`;
          const before = { recoveries: await count('recoveries'), jobs: await count('jobs') };
          const res: Res = await send(items[item], body);
          if (fields.size > 0) {
            expectRefused(res, [...fields], label);
            return;
          }
          expect(is2xx(res), `${label} -> ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(true);
          await expectStarted(res, at(since), end, before, label);
        }),
        fcParams(RUNS),
      );
      watch.report('recover bodies');
      await proc.expectHealthy(h);
    },
    timeoutFor(RUNS),
  );
});
