/**
 * The SLA clock of a ticket, as pure functions of its row: due times from the
 * targets, pauses while pending, restart on reopen, and what each metric's
 * state is. Timers (sla/timers.ts) follow from these columns.
 */
import type { TicketPriority, TicketStatus, TicketsTable } from '../db/schema.js';
import type { SlaPolicy } from './policy.js';

export type SlaMetric = 'first_response' | 'resolution';
export type SlaState = 'none' | 'running' | 'paused' | 'at_risk' | 'met' | 'breached';

/** The SLA columns of a ticket row. */
export type SlaColumns = Pick<
  TicketsTable,
  | 'first_response_due_at'
  | 'resolution_due_at'
  | 'first_responded_at'
  | 'first_response_target_min'
  | 'resolution_target_min'
  | 'resolution_started_at'
  | 'resolution_paused_at'
  | 'resolution_paused_ms'
  | 'first_response_warned_at'
  | 'first_response_breached_at'
  | 'resolution_warned_at'
  | 'resolution_breached_at'
>;

const MINUTE = 60_000;
const DONE: readonly TicketStatus[] = ['resolved', 'closed'];

export function slaForNewTicket(
  createdAt: number,
  priority: TicketPriority,
  policy: SlaPolicy,
  status: TicketStatus = 'open',
): SlaColumns {
  const targets = policy.priorities[priority];
  const fr = targets.firstResponseMinutes;
  const res = targets.resolutionMinutes;
  return {
    first_response_target_min: fr,
    resolution_target_min: res,
    first_response_due_at: fr === null ? null : createdAt + fr * MINUTE,
    resolution_due_at: res === null ? null : createdAt + res * MINUTE,
    first_responded_at: null,
    resolution_started_at: createdAt,
    resolution_paused_at: status === 'pending' ? createdAt : null,
    resolution_paused_ms: 0,
    first_response_warned_at: null,
    first_response_breached_at: null,
    resolution_warned_at: null,
    resolution_breached_at: null,
  };
}

/** Resolution due time: start + target + time paused (an ongoing pause is added when it ends). */
function resolutionDue(
  started: number | null,
  targetMin: number | null,
  pausedMs: number,
): number | null {
  return started === null || targetMin === null ? null : started + targetMin * MINUTE + pausedMs;
}

/**
 * The SLA columns after a status and/or priority change at `now`. Priority
 * changes take the policy's targets for the new priority, counted from the
 * ticket's creation (first response) or the resolution clock's start. A due
 * time that moves forgets its warning and breach, so the new one can fire.
 */
export function slaAfterChange(
  row: TicketsTable,
  next: { status: TicketStatus; priority: TicketPriority },
  policy: SlaPolicy,
  now: number,
): SlaColumns {
  const s: SlaColumns = pick(row);
  if (next.priority !== row.priority) {
    const t = policy.priorities[next.priority];
    s.first_response_target_min = t.firstResponseMinutes;
    s.resolution_target_min = t.resolutionMinutes;
    s.first_response_due_at =
      t.firstResponseMinutes === null ? null : row.created_at + t.firstResponseMinutes * MINUTE;
  }
  const wasDone = DONE.includes(row.status);
  const isDone = DONE.includes(next.status);
  if (wasDone && !isDone) {
    // Reopened: the resolution clock starts again from now.
    s.resolution_started_at = now;
    s.resolution_paused_ms = 0;
    s.resolution_paused_at = null;
  }
  if (row.status === 'pending' && next.status !== 'pending' && s.resolution_paused_at !== null) {
    s.resolution_paused_ms += now - s.resolution_paused_at;
    s.resolution_paused_at = null;
  }
  if (next.status === 'pending' && s.resolution_paused_at === null) s.resolution_paused_at = now;
  s.resolution_due_at = resolutionDue(
    s.resolution_started_at,
    s.resolution_target_min,
    s.resolution_paused_ms,
  );
  if (s.first_response_due_at !== row.first_response_due_at) {
    s.first_response_warned_at = null;
    s.first_response_breached_at = null;
  }
  if (s.resolution_due_at !== row.resolution_due_at) {
    s.resolution_warned_at = null;
    s.resolution_breached_at = null;
  }
  return s;
}

function pick(row: TicketsTable): SlaColumns {
  return {
    first_response_due_at: row.first_response_due_at,
    resolution_due_at: row.resolution_due_at,
    first_responded_at: row.first_responded_at,
    first_response_target_min: row.first_response_target_min,
    resolution_target_min: row.resolution_target_min,
    resolution_started_at: row.resolution_started_at,
    resolution_paused_at: row.resolution_paused_at,
    resolution_paused_ms: row.resolution_paused_ms,
    first_response_warned_at: row.first_response_warned_at,
    first_response_breached_at: row.first_response_breached_at,
    resolution_warned_at: row.resolution_warned_at,
    resolution_breached_at: row.resolution_breached_at,
  };
}

export interface MetricClock {
  metric: SlaMetric;
  dueAt: number | null;
  targetMin: number | null;
  /** The metric is satisfied: no more timers. */
  met: boolean;
  paused: boolean;
  warnedAt: number | null;
  breachedAt: number | null;
}

export function metricClocks(row: SlaColumns & { status: TicketStatus }): MetricClock[] {
  return [
    {
      metric: 'first_response',
      dueAt: row.first_response_due_at,
      targetMin: row.first_response_target_min,
      met: row.first_responded_at !== null,
      paused: false,
      warnedAt: row.first_response_warned_at,
      breachedAt: row.first_response_breached_at,
    },
    {
      metric: 'resolution',
      dueAt: row.resolution_due_at,
      targetMin: row.resolution_target_min,
      met: DONE.includes(row.status),
      paused: row.resolution_paused_at !== null,
      warnedAt: row.resolution_warned_at,
      breachedAt: row.resolution_breached_at,
    },
  ];
}

export function stateOf(c: MetricClock): SlaState {
  if (c.dueAt === null) return 'none';
  if (c.breachedAt !== null) return 'breached';
  if (c.met) return 'met';
  if (c.paused) return 'paused';
  if (c.warnedAt !== null) return 'at_risk';
  return 'running';
}

/** When the warning of a metric fires: the warning percentage of its target before the due time. */
export function warningAt(c: MetricClock, warningPercent: number): number | null {
  if (c.dueAt === null || c.targetMin === null) return null;
  return c.dueAt - Math.round((c.targetMin * MINUTE * (100 - warningPercent)) / 100);
}
