/**
 * Figure 11, ordered delivery: figure 2's backlog again, on webhooks with
 * `ordering: "ticket"`, its events spread over 1,000 tickets (each delivery
 * keyed by its ticket, as the fan-out writes them), drained by one worker.
 * The claim then skips every delivery whose ticket has an earlier one
 * unfinished; its rate is compared with figure 2's unordered drain (or a
 * drain of the same size run here first).
 */
import { measureDrain, type Ctx, type DrainFigure } from './phases.js';
import { createOrg, insertBacklog, insertWebhooks } from './seed.js';

const TICKETS = 1_000;

export interface OrderingFigure {
  tickets: number;
  baseline: DrainFigure;
  baselineIsFigure2: boolean;
  ordered: DrainFigure;
}

async function backlog(ctx: Ctx, name: string, group: string, tickets?: number) {
  const org = await createOrg(ctx.database, name);
  const hooks = await insertWebhooks(
    ctx.database,
    org.organizationId,
    Array.from({ length: ctx.config.webhooks }, (_, i) => ctx.receiver.url(`/${group}/${i}`)),
  );
  if (tickets !== undefined)
    await ctx.database.db
      .updateTable('webhooks')
      .set({ ordering: 'ticket' })
      .where('id', 'in', hooks)
      .execute();
  await insertBacklog(ctx.databaseUrl, org.organizationId, hooks, ctx.config.backlog, undefined, {
    ...(tickets !== undefined ? { tickets } : {}),
  });
  return hooks;
}

export async function orderingPhase(
  ctx: Ctx,
  figure2: DrainFigure | null,
): Promise<OrderingFigure> {
  const group = `${ctx.dialect}-ordered`;
  let baseline = figure2;
  if (!baseline) {
    ctx.log('  ordering: baseline drain (figure 2 not run)…');
    baseline = await measureDrain(ctx, {
      group: `${group}-base`,
      hooks: await backlog(ctx, 'ordering-baseline', `${group}-base`),
      backlog: ctx.config.backlog,
      logName: 'ordering-baseline-worker',
    });
  }
  ctx.log(
    `  ordering: ${ctx.config.backlog.toLocaleString()} deliveries over ${ctx.config.webhooks} ordered webhooks and ${TICKETS.toLocaleString()} tickets…`,
  );
  const ordered = await measureDrain(ctx, {
    group,
    hooks: await backlog(ctx, 'ordering', group, TICKETS),
    backlog: ctx.config.backlog,
    logName: 'ordering-worker',
  });
  return { tickets: TICKETS, baseline, baselineIsFigure2: figure2 !== null, ordered };
}
