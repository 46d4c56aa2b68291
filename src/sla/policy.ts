/**
 * SLA policy per organization (docs/api.md, "SLA"): first-response and resolution
 * targets in minutes per priority (absent or null: no target), and the
 * percentage of a target after which a warning fires.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../clock.js';
import type { Executor, TicketPriority } from '../db/schema.js';

const Minutes = Type.Union([Type.Integer({ minimum: 1, maximum: 525_600 }), Type.Null()]);
const Targets = Type.Object(
  { firstResponseMinutes: Type.Optional(Minutes), resolutionMinutes: Type.Optional(Minutes) },
  { additionalProperties: false },
);

export const SlaPolicySchema = Type.Object(
  {
    warningPercent: Type.Integer({
      minimum: 1,
      maximum: 99,
      description: 'Percent of a target elapsed before the warning. (Default: 80)',
    }),
    priorities: Type.Object(
      {
        low: Type.Optional(Targets),
        normal: Type.Optional(Targets),
        high: Type.Optional(Targets),
        urgent: Type.Optional(Targets),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SlaPolicyInput = Static<typeof SlaPolicySchema>;

export interface PriorityTargets {
  firstResponseMinutes: number | null;
  resolutionMinutes: number | null;
}

export interface SlaPolicy {
  warningPercent: number;
  priorities: Record<TicketPriority, PriorityTargets>;
}

/**
 * What a new organization gets: urgent 1 h / 4 h, high 4 h / 1 day,
 * normal 8 h / 2 days, low 1 day / 4 days (first response / resolution).
 */
const DEFAULT_SLA_POLICY: SlaPolicy = Object.freeze({
  warningPercent: 80,
  priorities: {
    urgent: { firstResponseMinutes: 60, resolutionMinutes: 240 },
    high: { firstResponseMinutes: 240, resolutionMinutes: 1_440 },
    normal: { firstResponseMinutes: 480, resolutionMinutes: 2_880 },
    low: { firstResponseMinutes: 1_440, resolutionMinutes: 5_760 },
  },
});

const PRIORITIES: readonly TicketPriority[] = ['low', 'normal', 'high', 'urgent'];

export async function getSlaPolicy(db: Executor, organizationId: string): Promise<SlaPolicy> {
  const row = await db
    .selectFrom('sla_policies')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
  if (!row) return DEFAULT_SLA_POLICY;
  return {
    warningPercent: row.warning_percent,
    priorities: JSON.parse(row.priorities) as SlaPolicy['priorities'],
  };
}

/** Replaces the policy; a priority or target left out has no target. Applies to tickets from now on. */
export async function putSlaPolicy(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: SlaPolicyInput,
): Promise<SlaPolicy> {
  const priorities = Object.fromEntries(
    PRIORITIES.map((p) => [
      p,
      {
        firstResponseMinutes: input.priorities[p]?.firstResponseMinutes ?? null,
        resolutionMinutes: input.priorities[p]?.resolutionMinutes ?? null,
      },
    ]),
  ) as SlaPolicy['priorities'];
  const row = {
    organization_id: organizationId,
    warning_percent: input.warningPercent,
    priorities: JSON.stringify(priorities),
    updated_at: clock.now(),
  };
  await trx
    .insertInto('sla_policies')
    .values(row)
    .onConflict((oc) =>
      oc.column('organization_id').doUpdateSet({
        warning_percent: row.warning_percent,
        priorities: row.priorities,
        updated_at: row.updated_at,
      }),
    )
    .execute();
  return { warningPercent: input.warningPercent, priorities };
}
