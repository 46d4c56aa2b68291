import { expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { JobRunner, type JobHandler } from '../src/jobs/runner.js';
import { cancelJobsByKeys, enqueueJob, enqueueJobs, jobBackoffMs } from '../src/jobs/queue.js';
import { onLocalWake } from '../src/delivery/wake.js';
import { pruneOnce } from '../src/cli/retention.js';
import { forEachDialect, type Harness } from './support/harness.js';
import { sleep } from './support/wait.js';

function runner(h: Harness, handlers: Record<string, JobHandler>, leaseMs = 60_000): JobRunner {
  return new JobRunner(
    { database: h.database, clock: h.clock, logger: createLogger('silent'), handlers },
    { leaseMs },
  );
}

forEachDialect('jobs', (h) => {
  async function enqueue(
    orgId: string,
    kind: string,
    payload: object,
    opts: { key?: string; runAt?: number; maxAttempts?: number } = {},
  ) {
    return h.db.transaction().execute((trx) =>
      enqueueJob(trx, h.clock.now(), {
        organizationId: orgId,
        kind,
        payload,
        runAt: opts.runAt ?? h.clock.now(),
        ...opts,
      }),
    );
  }
  const jobsOf = (orgId: string) =>
    h.db
      .selectFrom('jobs')
      .selectAll()
      .where('organization_id', '=', orgId)
      .orderBy('id')
      .execute();

  it('runs a due job once, not before its time, and keeps one job per key', async () => {
    const org = await h.createOrg();
    const seen: unknown[] = [];
    const r = runner(h, { note: async (p) => void seen.push(p) });
    expect(
      await enqueue(
        org.organizationId,
        'note',
        { n: 1 },
        { key: `k:${org.organizationId}`, runAt: h.clock.now() + 60_000 },
      ),
    ).toBe(true);
    expect(
      await enqueue(org.organizationId, 'note', { n: 2 }, { key: `k:${org.organizationId}` }),
    ).toBe(false);
    await r.runOnce();
    expect(seen).toEqual([]);
    h.clock.advance(60_000);
    await r.runOnce();
    expect(seen).toEqual([{ n: 1 }]);
    await r.runOnce();
    expect(seen).toHaveLength(1);
    const [job] = await jobsOf(org.organizationId);
    expect(job).toMatchObject({ status: 'succeeded', attempt_count: 1 });
  });

  it('retries a failing handler with backoff, then marks it failed', async () => {
    const org = await h.createOrg();
    let calls = 0;
    const r = runner(h, {
      flaky: async () => {
        calls += 1;
        throw new Error(`boom ${calls}`);
      },
    });
    await enqueue(org.organizationId, 'flaky', {}, { maxAttempts: 3 });
    await r.runOnce();
    let [job] = await jobsOf(org.organizationId);
    expect(job).toMatchObject({
      status: 'pending',
      attempt_count: 1,
      last_error: 'boom 1',
      run_at: h.clock.now() + jobBackoffMs(1),
    });
    h.clock.advance(jobBackoffMs(1));
    await r.runOnce();
    h.clock.advance(jobBackoffMs(2));
    await r.runOnce();
    [job] = await jobsOf(org.organizationId);
    expect(job).toMatchObject({ status: 'failed', attempt_count: 3, last_error: 'boom 3' });
    h.clock.advance(3_600_000);
    await r.runOnce();
    expect(calls).toBe(3);
  });

  it('an unknown kind fails instead of looping', async () => {
    const org = await h.createOrg();
    await enqueue(org.organizationId, 'nobody-handles-this', {}, { maxAttempts: 1 });
    await runner(h, {}).runOnce();
    const [job] = await jobsOf(org.organizationId);
    expect(job!.status).toBe('failed');
    expect(job!.last_error).toContain('No handler');
  });

  it('cancels pending jobs by exact key; jobs that ran keep theirs', async () => {
    const org = await h.createOrg();
    const k = (name: string) => `t:${org.organizationId}:${name}`;
    await enqueue(org.organizationId, 'x', {}, { key: k('a'), runAt: h.clock.now() + 1000 });
    await enqueue(org.organizationId, 'x', {}, { key: k('b'), runAt: h.clock.now() + 1000 });
    await enqueue(org.organizationId, 'x', {}, { key: k('ab'), runAt: h.clock.now() + 1000 });
    await h.db.updateTable('jobs').set({ status: 'succeeded' }).where('key', '=', k('b')).execute();
    const n = await h.db
      .transaction()
      .execute((trx) => cancelJobsByKeys(trx, [k('a'), k('b'), k('none')], h.clock.now()));
    expect(n).toBe(1);
    expect((await jobsOf(org.organizationId)).map((j) => [j.key, j.status]).sort()).toEqual([
      [null, 'cancelled'],
      [k('ab'), 'pending'],
      [k('b'), 'succeeded'],
    ]);
    expect(await h.db.transaction().execute((trx) => cancelJobsByKeys(trx, [], 0))).toBe(0);
    await h.db.deleteFrom('jobs').where('organization_id', '=', org.organizationId).execute();
  });

  it('enqueues a batch in one call: a key already taken, or repeated in the batch, is skipped', async () => {
    const org = await h.createOrg();
    const k = (name: string) => `batch:${org.organizationId}:${name}`;
    const later = h.clock.now() + 60_000;
    await enqueue(org.organizationId, 'x', { n: 0 }, { key: k('taken'), runAt: later });
    const job = (n: number, key: string | undefined, runAt: number) => ({
      organizationId: org.organizationId,
      kind: 'x',
      payload: { n },
      runAt,
      ...(key === undefined ? {} : { key }),
    });
    let wakes = 0;
    const off = onLocalWake(() => void (wakes += 1));
    try {
      const batch = (jobs: ReturnType<typeof job>[]) =>
        h.db.transaction().execute((trx) => enqueueJobs(trx, h.clock.now(), jobs));
      expect(
        await batch([
          job(1, k('taken'), h.clock.now()),
          job(2, k('a'), later),
          job(3, k('a'), h.clock.now()),
          job(4, undefined, later),
          job(5, undefined, later),
        ]),
      ).toEqual([false, true, false, true, true]);
      // Only skipped jobs were due: nobody to wake.
      expect(wakes).toBe(0);
      expect(await batch([job(6, k('b'), later), job(7, k('c'), h.clock.now())])).toEqual([
        true,
        true,
      ]);
      expect(wakes).toBe(1);
      expect(await batch([])).toEqual([]);
    } finally {
      off();
    }
    const rows = await jobsOf(org.organizationId);
    expect(rows.map((r) => [JSON.parse(r.payload).n, r.key]).sort()).toEqual([
      [0, k('taken')],
      [2, k('a')],
      [4, null],
      [5, null],
      [6, k('b')],
      [7, k('c')],
    ]);
    // Cancelling several keys at once, in one statement, releases them.
    const n = await h.db
      .transaction()
      .execute((trx) => cancelJobsByKeys(trx, [k('a'), k('b')], h.clock.now()));
    expect(n).toBe(2);
    expect(await enqueue(org.organizationId, 'x', { n: 8 }, { key: k('a'), runAt: later })).toBe(
      true,
    );
    expect((await jobsOf(org.organizationId)).filter((r) => r.status === 'pending')).toHaveLength(
      5,
    );
    // Leave no due work behind for the runners of the other tests.
    await h.db.deleteFrom('jobs').where('organization_id', '=', org.organizationId).execute();
  });

  it('a job whose runner died is run again after its lease, and two runners never run one job twice', async () => {
    const org = await h.createOrg();
    let runs = 0;
    const slow: JobHandler = async () => {
      runs += 1;
      await sleep(50);
    };
    for (let i = 0; i < 10; i++) await enqueue(org.organizationId, 'slow', { i });
    const a = runner(h, { slow }, 10_000);
    const b = runner(h, { slow }, 10_000);
    for (let i = 0; i < 5; i++) await Promise.all([a.runOnce(), b.runOnce()]);
    expect(runs).toBe(10);
    // A claim whose owner vanished comes back once the lease has run out.
    await enqueue(org.organizationId, 'slow', { orphan: true });
    await h.db
      .updateTable('jobs')
      .set({ status: 'running', lease_owner: 'dead', lease_until: h.clock.now() + 10_000 })
      .where('status', '=', 'pending')
      .execute();
    await a.runOnce();
    expect(runs).toBe(10);
    h.clock.advance(10_000);
    await a.runOnce();
    expect(runs).toBe(11);
    expect((await jobsOf(org.organizationId)).every((j) => j.status === 'succeeded')).toBe(true);
  });

  it('retention prunes finished jobs past the period and keeps pending and recent ones', async () => {
    const org = await h.createOrg();
    const r = runner(h, { done: async () => {} });
    await enqueue(org.organizationId, 'done', { old: true });
    await r.runOnce();
    await enqueue(
      org.organizationId,
      'done',
      { later: true },
      { runAt: h.clock.now() + 40 * 86_400_000 },
    );
    h.clock.advance(29 * 86_400_000);
    await enqueue(org.organizationId, 'done', { recent: true });
    await r.runOnce();
    await pruneOnce(h.db, h.clock, 30);
    expect(await jobsOf(org.organizationId)).toHaveLength(3);
    h.clock.advance(2 * 86_400_000);
    await pruneOnce(h.db, h.clock, 30);
    const left = await jobsOf(org.organizationId);
    expect(left.map((j) => [JSON.parse(j.payload), j.status])).toEqual([
      [{ later: true }, 'pending'],
      [{ recent: true }, 'succeeded'],
    ]);
  });
});
