/**
 * SLA timers are jobs (src/jobs): one per metric, kind and due time, keyed
 * `sla:<ticket>:<metric>:<kind>:<dueAt>`, so each fires at most once per due
 * time, survives restarts, runs once across workers, and fires late rather
 * than never after downtime. When a due time moves, is met or paused, the
 * metric's pending timers are cancelled and the new ones enqueued.
 */
import type { Clock } from '../clock.js';
import type { Executor, TicketStatus } from '../db/schema.js';
import { emitEvents } from '../events/outbox.js';
import { iso } from '../clock.js';
import { cancelJobsByKeys, enqueueJobs, type NewJob } from '../jobs/queue.js';
import type { JobHandler } from '../jobs/runner.js';
import { getTicketForUpdate, toTicketDto, type TicketRow } from '../tickets/tickets.repository.js';
import {
  metricClocks,
  warningAt,
  type MetricClock,
  type SlaColumns,
  type SlaMetric,
} from './state.js';

export const SLA_TIMER_KIND = 'sla.timer';

interface TimerPayload {
  ticketId: string;
  metric: SlaMetric;
  kind: 'warning' | 'breach';
  dueAt: number;
}

type SlaRow = SlaColumns & { id: string; organization_id: string; status: TicketStatus };

const TIMER_KINDS = ['warning', 'breach'] as const;

function timerKey(ticketId: string, metric: SlaMetric, kind: TimerPayload['kind'], dueAt: number) {
  return `sla:${ticketId}:${metric}:${kind}:${dueAt}`;
}

/**
 * The keys a metric's pending timers can have: both kinds at its current due
 * time. Every change of the due time cancels these and enqueues the new ones
 * (`syncSlaTimers`), so no pending timer has any other.
 */
function pendingKeys(ticketId: string, c: MetricClock): string[] {
  const { dueAt } = c;
  return dueAt === null ? [] : TIMER_KINDS.map((kind) => timerKey(ticketId, c.metric, kind, dueAt));
}

function sameClock(a: MetricClock, b: MetricClock): boolean {
  return (
    a.dueAt === b.dueAt &&
    a.met === b.met &&
    a.paused === b.paused &&
    a.warnedAt === b.warnedAt &&
    a.breachedAt === b.breachedAt
  );
}

/**
 * Brings the timers of `after` in line with its SLA columns; `before` null for
 * a new ticket. At most two statements whatever changed: one cancelling the
 * moved metrics' pending timers, then one enqueueing the new ones (the
 * metrics' key prefixes are disjoint, so cancelling first is all the order
 * that matters: a timer moved away and back can take its old key again).
 */
export async function syncSlaTimers(
  trx: Executor,
  clock: Clock,
  before: SlaRow | null,
  after: SlaRow,
  warningPercent: number,
): Promise<void> {
  const now = clock.now();
  const old = before ? metricClocks(before) : null;
  const cancelled: string[] = [];
  const jobs: NewJob[] = [];
  for (const [i, c] of metricClocks(after).entries()) {
    const prev = old?.[i];
    if (prev && sameClock(prev, c)) continue;
    if (prev) cancelled.push(...pendingKeys(after.id, prev));
    if (c.dueAt === null || c.met || c.paused) continue;
    const warnAt = warningAt(c, warningPercent);
    const timers: [TimerPayload['kind'], number | null, number | null][] = [
      ['warning', warnAt, c.warnedAt],
      ['breach', c.dueAt, c.breachedAt],
    ];
    for (const [kind, at, fired] of timers) {
      if (at === null || fired !== null) continue;
      const payload: TimerPayload = { ticketId: after.id, metric: c.metric, kind, dueAt: c.dueAt };
      jobs.push({
        organizationId: after.organization_id,
        kind: SLA_TIMER_KIND,
        key: timerKey(after.id, c.metric, kind, c.dueAt),
        payload,
        runAt: at,
      });
    }
  }
  await cancelJobsByKeys(trx, cancelled, now);
  await enqueueJobs(trx, now, jobs);
}

/**
 * Fires one timer: raises `ticket.sla_warning` or `ticket.sla_breached` if the
 * metric is still unmet at that same due time and has not fired already.
 */
export function slaTimerHandler(db: Executor, clock: Clock): JobHandler {
  return async (raw, job) => {
    const p = raw as TimerPayload;
    await db.transaction().execute(async (trx) => {
      let row: TicketRow;
      try {
        row = await getTicketForUpdate(trx, job.organizationId, p.ticketId);
      } catch {
        return; // the ticket is gone
      }
      const c = metricClocks(row).find((m) => m.metric === p.metric);
      if (!c || c.dueAt !== p.dueAt || c.met || c.paused) return;
      const column = `${p.metric}_${p.kind === 'warning' ? 'warned' : 'breached'}_at` as const;
      if (row[column] !== null) return;
      const now = clock.now();
      await trx
        .updateTable('tickets')
        .set({ [column]: now })
        .where('id', '=', row.id)
        .execute();
      const ticket = toTicketDto({ ...row, [column]: now });
      await emitEvents(trx, clock, [
        {
          type: p.kind === 'warning' ? 'ticket.sla_warning' : 'ticket.sla_breached',
          organizationId: row.organization_id,
          ticketId: row.id,
          data: { ticket, sla: { metric: p.metric, dueAt: iso(p.dueAt) } },
        },
      ]);
    });
  };
}

/**
 * The first outbound agent message meets the first-response SLA: recorded
 * once, and the metric's pending timers cancelled.
 */
export async function recordFirstResponse(
  trx: Executor,
  clock: Clock,
  ticket: TicketRow,
): Promise<TicketRow> {
  if (ticket.first_responded_at !== null) return ticket;
  const now = clock.now();
  const result = await trx
    .updateTable('tickets')
    .set({ first_responded_at: now })
    .where('id', '=', ticket.id)
    .where('first_responded_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return ticket;
  const firstResponse = metricClocks(ticket).find((c) => c.metric === 'first_response')!;
  await cancelJobsByKeys(trx, pendingKeys(ticket.id, firstResponse), now);
  return { ...ticket, first_responded_at: now };
}
