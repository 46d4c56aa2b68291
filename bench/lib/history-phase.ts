/**
 * Figure 9, history: a million finished deliveries in the tables, half of
 * them past the retention period, must not slow the queue, and neither must
 * the retention pass that prunes the old half.
 *
 * The baseline is figure 2's rate on the fresh database (or a drain of the
 * same size run here first, when figure 2 was not). Then, after the history
 * is inserted (not timed):
 * (a) a backlog of the same size, drained by a worker with retention off;
 * (b) another, drained while the worker's retention pass prunes the old
 *     rows. The pass starts 10 s after the worker (src/cli/retention.ts),
 *     which is most of a drain, so (b)'s backlog is put off by a day once
 *     inserted, and made due again (one UPDATE; on PostgreSQL also ANALYZE
 *     and a NOTIFY) once pruning is seen to have begun; on SQLite the
 *     worker finds it at its next poll (within 5 s). Its rate is measured as
 *     figure 2's, from the first arrival.
 */
import { sql } from 'kysely';
import { cancelledAt } from '../../src/delivery/queue/states.js';
import { notifyWorkers } from '../../src/delivery/wake.js';
import { until } from './hookdesk.js';
import { measureDrain, type Ctx, type DrainFigure } from './phases.js';
import { createOrg, insertBacklog, insertWebhooks } from './seed.js';

const DAY_MS = 86_400_000;
/** Organizations the history is spread over, and webhooks of each. */
const HISTORY_ORGS = 4;
const HOOKS_PER_ORG = 5;
/** The retention period of (b)'s worker; the old half completed 60 days ago. */
const RETENTION_DAYS = 30;
const OLD_DAYS = 60;

export interface HistoryFigure {
  /** Finished deliveries inserted, and how many of them are older than the retention period. */
  history: number;
  old: number;
  insertSeconds: number;
  /** The empty database's drain: figure 2's, or run by this phase when figure 2 was not. */
  baseline: DrainFigure;
  baselineIsFigure2: boolean;
  /** (a) With the history in place, retention off. */
  withHistory: DrainFigure;
  /** (b) While the retention pass prunes the old half. */
  whilePruning: DrainFigure;
  /** Seconds from pruning seen to begin until (b)'s first arrival. */
  drainStartedAfterS: number;
  /** Old rows pruned by the time (b)'s drain finished. */
  prunedDuringDrain: number;
  /** Seconds from pruning seen to begin until no old row was left; null: not within the bound. */
  pruneSeconds: number | null;
  /** Old rows left when the wait for pruning gave up (0 when it finished). */
  oldLeft: number;
}

/** `total` split over `parts` as evenly as whole numbers allow. */
function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

async function backlogOrg(ctx: Ctx, name: string, group: string) {
  const org = await createOrg(ctx.database, name);
  const hooks = await insertWebhooks(
    ctx.database,
    org.organizationId,
    Array.from({ length: ctx.config.webhooks }, (_, i) => ctx.receiver.url(`/${group}/${i}`)),
  );
  return { org, hooks };
}

/** Deliveries completed before the cutoff: only the history's old half is that old. */
async function oldCount(ctx: Ctx, cutoff: number): Promise<number> {
  const row = await ctx.database.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('completed_at', '<', cutoff)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Whether any delivery completed before the cutoff is left: one index seek, cheap to poll. */
async function anyOld(ctx: Ctx, cutoff: number): Promise<boolean> {
  const row = await ctx.database.db
    .selectFrom('deliveries')
    .select('id')
    .where('completed_at', '<', cutoff)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Earlier figures leave deliveries behind (figure 8's to endpoints that
 * never answer, figure 5's hanging one): cancelled here, so that this
 * figure's workers deliver only its own backlogs.
 */
async function cancelLeftovers(ctx: Ctx): Promise<number> {
  const now = Date.now();
  const result = await ctx.database.db
    .updateTable('deliveries')
    .set(cancelledAt(now))
    .where('status', 'in', ['pending', 'delivering'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

async function insertHistory(ctx: Ctx, now: number): Promise<{ old: number; ms: number }> {
  const { config } = ctx;
  const old = Math.floor(config.history / 2);
  const recent = config.history - old;
  let inserted = 0;
  let lastReport = Date.now();
  let ms = 0;
  ctx.log(
    `  history: inserting ${config.history.toLocaleString()} finished deliveries with their attempts (${old.toLocaleString()} completed ${OLD_DAYS} days ago, the rest within the last day) over ${HISTORY_ORGS} organizations × ${HOOKS_PER_ORG} webhooks…`,
  );
  const orgs = [];
  for (let k = 0; k < HISTORY_ORGS; k++) {
    const org = await createOrg(ctx.database, `history-${k}`);
    const hooks = await insertWebhooks(
      ctx.database,
      org.organizationId,
      Array.from({ length: HOOKS_PER_ORG }, (_, i) =>
        ctx.receiver.url(`/${ctx.dialect}-history/${k}-${i}`),
      ),
    );
    orgs.push({ org, hooks });
  }
  // Oldest first, as a real database would have been filled.
  const halves = [
    { total: old, from: now - (OLD_DAYS + 1) * DAY_MS, to: now - OLD_DAYS * DAY_MS },
    { total: recent, from: now - DAY_MS, to: now - 60_000 },
  ];
  for (const [h, half] of halves.entries()) {
    for (const [k, { org, hooks }] of orgs.entries()) {
      const count = share(half.total, HISTORY_ORGS, k);
      const last = h === halves.length - 1 && k === orgs.length - 1;
      if (count === 0 && !last) continue;
      const base = inserted;
      ms += await insertBacklog(
        ctx.databaseUrl,
        org.organizationId,
        hooks,
        count,
        (done) => {
          inserted = base + done;
          if (Date.now() - lastReport > 10_000) {
            lastReport = Date.now();
            ctx.log(`    ${inserted.toLocaleString()} inserted`);
          }
        },
        // ANALYZE once, after the last.
        { finished: { from: half.from, to: half.to }, analyze: last },
      );
      inserted = base + count;
    }
  }
  ctx.log(`  history inserted in ${(ms / 1000).toFixed(1)} s`);
  return { old, ms };
}

export async function historyPhase(ctx: Ctx, figure2: DrainFigure | null): Promise<HistoryFigure> {
  const { config } = ctx;
  const g = (name: string) => `${ctx.dialect}-hist-${name}`;
  const retentionOff = { HOOKDESK_RETENTION_DAYS: '3650' };

  let baseline = figure2;
  if (!baseline) {
    ctx.log(
      `  history: figure 2 was not run; baseline drain of ${config.backlog.toLocaleString()} first…`,
    );
    const { org, hooks } = await backlogOrg(ctx, 'history-baseline', g('base'));
    await insertBacklog(ctx.databaseUrl, org.organizationId, hooks, config.backlog);
    baseline = await measureDrain(ctx, {
      group: g('base'),
      hooks,
      backlog: config.backlog,
      logName: 'history-baseline-worker',
      env: retentionOff,
    });
    ctx.log(`  baseline: ${baseline.perSecond.toFixed(0)} deliveries/s`);
  }
  const leftovers = await cancelLeftovers(ctx);
  if (leftovers > 0)
    ctx.log(`  history: cancelled ${leftovers} deliveries earlier figures left pending`);

  const now = Date.now();
  const { old, ms } = await insertHistory(ctx, now);
  // What (b)'s worker will find past its retention period.
  const cutoff = now - RETENTION_DAYS * DAY_MS;

  ctx.log(
    `  history (a): draining ${config.backlog.toLocaleString()} with the history in place, retention off…`,
  );
  const a = await backlogOrg(ctx, 'history-a', g('a'));
  await insertBacklog(ctx.databaseUrl, a.org.organizationId, a.hooks, config.backlog);
  const withHistory = await measureDrain(ctx, {
    group: g('a'),
    hooks: a.hooks,
    backlog: config.backlog,
    logName: 'history-a-worker',
    env: retentionOff,
  });
  ctx.log(
    `  history (a): ${withHistory.perSecond.toFixed(0)} deliveries/s (${(withHistory.perSecond / baseline.perSecond).toFixed(2)}× empty)`,
  );

  ctx.log(
    `  history (b): draining ${config.backlog.toLocaleString()} while retention (${RETENTION_DAYS} days) prunes ${old.toLocaleString()} old rows…`,
  );
  const b = await backlogOrg(ctx, 'history-b', g('b'));
  const setDue = (at: number) =>
    ctx.database.db
      .updateTable('deliveries')
      .set({ next_attempt_at: at })
      .where('status', '=', 'pending')
      .where('webhook_id', 'in', b.hooks)
      .execute();
  // Inserted due, and so ANALYZEd, as (a)'s was; then put off by a day until
  // the worker's retention pass has begun. Statistics taken while it was a
  // day away would make the claim plan for no due rows and read every due
  // row each time (measured: 13 ms a claim instead of 1.3 on SQLite, 70–180
  // instead of 4 on PostgreSQL).
  await insertBacklog(ctx.databaseUrl, b.org.organizationId, b.hooks, config.backlog);
  await setDue(Date.now() + DAY_MS);
  const old0 = await oldCount(ctx, cutoff);
  // Filled in by the callbacks below while the worker runs.
  const prune = { startedAt: NaN, duringDrain: NaN, seconds: null as number | null, left: NaN };
  let watch: Promise<void> = Promise.resolve();
  const whilePruning = await measureDrain(ctx, {
    group: g('b'),
    hooks: b.hooks,
    backlog: config.backlog,
    logName: 'history-b-worker',
    env: { HOOKDESK_RETENTION_DAYS: String(RETENTION_DAYS) },
    started: async (worker) => {
      // The first pass runs 10 s after start-up: bounded generously.
      const begun = await until(
        async () => !worker.running || old0 === 0 || (await oldCount(ctx, cutoff)) < old0,
        60_000,
        250,
      );
      if (!begun || !worker.running)
        throw new Error(`history (b): pruning did not begin\n${worker.log().slice(-2000)}`);
      prune.startedAt = Date.now();
      await setDue(Date.now());
      if (ctx.dialect === 'postgres') {
        // In case autovacuum analyzed the table meanwhile (SQLite analyzes
        // only when told to).
        await sql`analyze deliveries`.execute(ctx.database.db);
        await sql`select ${notifyWorkers()}`.execute(ctx.database.db);
      }
      // When the last old row goes, seen by a cheap probe beside the drain.
      // Bounded: at worst 1,000 rows/s, and at least two minutes.
      const bound = Math.max(120_000, old0);
      watch = until(async () => !worker.running || !(await anyOld(ctx, cutoff)), bound, 250).then(
        async (done) => {
          if (done && !(await anyOld(ctx, cutoff)))
            prune.seconds = (Date.now() - prune.startedAt) / 1000;
        },
      );
    },
    drained: async (worker) => {
      prune.left = await oldCount(ctx, cutoff);
      prune.duringDrain = old0 - prune.left;
      await watch;
      if (prune.seconds === null) {
        prune.left = await oldCount(ctx, cutoff);
        if (!worker.running) ctx.log(`  history (b): the worker exited while pruning`);
      } else prune.left = 0;
    },
  });
  const firstAt = (await ctx.receiver.stats(g('b'))).firstAt;
  ctx.log(
    `  history (b): ${whilePruning.perSecond.toFixed(0)} deliveries/s (${(whilePruning.perSecond / withHistory.perSecond).toFixed(2)}× (a)); ${prune.duringDrain.toLocaleString()} old rows pruned during the drain; ${prune.seconds === null ? `${prune.left.toLocaleString()} old rows still left` : `all pruned in ${prune.seconds.toFixed(1)} s`}`,
  );
  return {
    history: config.history,
    old,
    insertSeconds: ms / 1000,
    baseline,
    baselineIsFigure2: figure2 !== null,
    withHistory,
    whilePruning,
    drainStartedAfterS: (firstAt - prune.startedAt) / 1000,
    prunedDuringDrain: prune.duringDrain,
    pruneSeconds: prune.seconds,
    oldLeft: prune.left,
  };
}
