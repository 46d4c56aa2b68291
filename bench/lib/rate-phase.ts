/**
 * Figure 10, a rate-limited neighbour: deliveries held back by one webhook's
 * `rateLimitPerSecond` must not hold worker slots, so the other webhooks
 * drain as fast as without them. A backlog of figure 2's size is drained
 * while a webhook limited to 5/s holds 100 deliveries of its own; its rate
 * is compared with figure 2's (or a drain of the same size run here first).
 * The limited webhook's attempt starts, from the attempt log, give its
 * busiest second and its average rate.
 */
import { measureDrain, type Ctx, type DrainFigure } from './phases.js';
import { until } from './hookdesk.js';
import { createOrg, insertBacklog, insertWebhooks } from './seed.js';

const LIMIT = 5;
const LIMITED_BACKLOG = 100;

export interface RateFigure {
  limit: number;
  limitedBacklog: number;
  baseline: DrainFigure;
  baselineIsFigure2: boolean;
  /** The unlimited backlog's drain beside the limited webhook. */
  beside: DrainFigure;
  /** The limited webhook: attempts started, the most in any one second, and the average rate. */
  limitedStarted: number;
  busiestSecond: number;
  averagePerSecond: number;
}

function busiestSecond(sorted: readonly number[]): number {
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1_000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

async function backlog(ctx: Ctx, name: string, group: string) {
  const org = await createOrg(ctx.database, name);
  const hooks = await insertWebhooks(
    ctx.database,
    org.organizationId,
    Array.from({ length: ctx.config.webhooks }, (_, i) => ctx.receiver.url(`/${group}/${i}`)),
  );
  await insertBacklog(ctx.databaseUrl, org.organizationId, hooks, ctx.config.backlog);
  return { org, hooks };
}

export async function ratePhase(ctx: Ctx, figure2: DrainFigure | null): Promise<RateFigure> {
  const group = `${ctx.dialect}-rate`;
  let baseline = figure2;
  if (!baseline) {
    ctx.log('  rate limit: baseline drain (figure 2 not run)…');
    const base = await backlog(ctx, 'rate-baseline', `${group}-base`);
    baseline = await measureDrain(ctx, {
      group: `${group}-base`,
      hooks: base.hooks,
      backlog: ctx.config.backlog,
      logName: 'rate-baseline-worker',
    });
  }
  ctx.log(
    `  rate limit: ${ctx.config.backlog.toLocaleString()} deliveries beside a webhook limited to ${LIMIT}/s holding ${LIMITED_BACKLOG}…`,
  );
  const { org, hooks } = await backlog(ctx, 'rate-beside', group);
  const [limited] = await insertWebhooks(ctx.database, org.organizationId, [
    ctx.receiver.url(`/${group}-limited/0`),
  ]);
  await ctx.database.db
    .updateTable('webhooks')
    .set({ rate_limit_per_second: LIMIT })
    .where('id', '=', limited!)
    .execute();
  await insertBacklog(ctx.databaseUrl, org.organizationId, [limited!], LIMITED_BACKLOG);
  const limitedDone = async () => {
    const row = await ctx.database.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('webhook_id', '=', limited!)
      .where('status', 'in', ['pending', 'delivering'])
      .executeTakeFirstOrThrow();
    return Number(row.n) === 0;
  };
  const beside = await measureDrain(ctx, {
    group,
    hooks,
    backlog: ctx.config.backlog,
    logName: 'rate-worker',
    // The limited webhook's 100 take 20 s: the worker stays until they are sent.
    drained: async () => {
      await until(limitedDone, 30_000 + (LIMITED_BACKLOG / LIMIT) * 2_000, 200);
    },
  });
  const starts = (
    await ctx.database.db
      .selectFrom('delivery_attempts')
      .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
      .select('delivery_attempts.started_at')
      .where('deliveries.webhook_id', '=', limited!)
      .execute()
  )
    .map((r) => Number(r.started_at))
    .sort((a, b) => a - b);
  const span = starts.length > 1 ? starts[starts.length - 1]! - starts[0]! : NaN;
  return {
    limit: LIMIT,
    limitedBacklog: LIMITED_BACKLOG,
    baseline,
    baselineIsFigure2: figure2 !== null,
    beside,
    limitedStarted: starts.length,
    busiestSecond: busiestSecond(starts),
    averagePerSecond: ((starts.length - 1) * 1000) / span,
  };
}
