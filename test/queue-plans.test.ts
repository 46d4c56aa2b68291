/**
 * The queue's hot queries use its partial indexes (migration 0007), and SLA
 * timers are cancelled through the jobs' key index. A query
 * whose predicate stopped matching them would still return the right rows,
 * only by scanning every delivery ever made: this reads each statement's
 * plan instead.
 *
 * Statements are captured as the real functions run them (a Kysely plugin
 * that records each query), then explained with the same parameters. On
 * PostgreSQL sequential scans are disabled for the EXPLAIN: on a table this
 * small the planner would rightly prefer one.
 */
import { CompiledQuery, sql, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { Db } from '../src/db/schema.js';
import { claimDueDeliveries } from '../src/delivery/queue/claim.js';
import { queueStats } from '../src/delivery/queue/gauges.js';
import { nextWakeAt } from '../src/delivery/queue/leases.js';
import { pruneFinished } from '../src/delivery/queue/prune.js';
import { newId } from '../src/ids.js';
import { cancelJobsByKeys } from '../src/jobs/queue.js';
import { createOrganization } from '../src/orgs/organizations.js';
import { SLA_TIMER_KIND } from '../src/sla/timers.js';
import { enabledDialects, openTestDatabase } from './support/harness.js';

class Capture implements KyselyPlugin {
  nodes: {
    node: RootOperationNode;
    queryId: Parameters<KyselyPlugin['transformQuery']>[0]['queryId'];
  }[] = [];
  transformQuery: KyselyPlugin['transformQuery'] = (args) => {
    this.nodes.push({ node: args.node, queryId: args.queryId });
    return args.node;
  };
  transformResult: KyselyPlugin['transformResult'] = async (args) => args.result;
}

for (const dialect of enabledDialects()) {
  describe(`queue query plans [${dialect}]`, () => {
    let db: Db;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      const opened = await openTestDatabase(dialect, new ManualClock());
      db = opened.handle.db;
      dispose = opened.dispose;
    });
    afterAll(() => dispose());

    /** The plan of every statement `run` executes, one text per statement. */
    async function plansOf(run: (spy: Db) => Promise<unknown>): Promise<string[]> {
      const capture = new Capture();
      await run(db.withPlugin(capture));
      const plans: string[] = [];
      for (const { node, queryId } of capture.nodes) {
        const q = db.getExecutor().compileQuery(node, queryId);
        if (dialect === 'sqlite') {
          const r = await db.executeQuery<{ detail: string }>(
            CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
          );
          plans.push(r.rows.map((row) => row.detail).join('\n'));
        } else {
          plans.push(
            await db.transaction().execute(async (trx) => {
              await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
              const r = await trx.executeQuery<{ 'QUERY PLAN': string }>(
                CompiledQuery.raw(`explain ${q.sql}`, [...q.parameters]),
              );
              return r.rows.map((row) => row['QUERY PLAN']).join('\n');
            }),
          );
        }
      }
      return plans;
    }

    it('the claim reads due rows and expired leases through their indexes', async () => {
      const plans = await plansOf((spy) =>
        // SQLite runs writes in a transaction of the driver's own; the claim is one statement.
        claimDueDeliveries(spy, {
          owner: 'w',
          now: 1_000,
          leaseMs: 1_000,
          limit: 8,
          perWebhook: 4,
          excludeWebhookIds: ['wh_excluded'],
        }),
      );
      expect(plans).toHaveLength(1);
      expect(plans[0]).toContain('deliveries_due_idx');
      expect(plans[0]).toContain('deliveries_lease_idx');
      // An ordered delivery's check for an unfinished predecessor (migration 0010).
      expect(plans[0]).toContain('deliveries_order_idx');
    });

    it('the next wake-up and the queue gauges use the same indexes', async () => {
      const wake = await plansOf((spy) => nextWakeAt(spy, ['wh_saturated']));
      expect(wake).toHaveLength(2);
      expect(wake[0]).toContain('deliveries_due_idx');
      expect(wake[1]).toContain('deliveries_lease_idx');
      const stats = await plansOf((spy) => queueStats(spy, 1_000));
      expect(stats).toHaveLength(2);
      for (const plan of stats) expect(plan).toContain('deliveries_due_idx');
    });

    it("cancelling a ticket's SLA timers finds them by key among many pending jobs", async () => {
      // PostgreSQL plans by statistics: give it a table where the choice matters.
      const clock = new ManualClock();
      const { organizationId } = await db
        .transaction()
        .execute((trx) =>
          createOrganization(trx, clock, { name: 'plans', adminEmail: 'plans@example.com' }),
        );
      const rows = Array.from({ length: 500 }, (_, i) => ({
        id: newId(),
        organization_id: organizationId,
        kind: SLA_TIMER_KIND,
        key: `sla:t${i}:resolution:breach:1`,
        payload: '{}',
        status: 'pending' as const,
        attempt_count: 0,
        max_attempts: 5,
        run_at: 1,
        lease_owner: null,
        lease_until: null,
        last_error: null,
        created_at: 1,
        updated_at: 1,
        completed_at: null,
      }));
      await db.insertInto('jobs').values(rows).execute();
      await sql`analyze jobs`.execute(db);
      const plans = await plansOf((spy) =>
        spy
          .transaction()
          .execute((trx) => cancelJobsByKeys(trx, ['sla:t7:resolution:breach:1'], 2)),
      );
      expect(plans).toHaveLength(1);
      expect(plans[0]).toMatch(
        dialect === 'sqlite' ? /USING INDEX sqlite_autoindex_jobs_\d \(key=\?\)/ : /jobs_key_key/,
      );
    });

    it('retention finds finished deliveries by completion time', async () => {
      const plans = await plansOf((spy) => pruneFinished(spy, 1_000));
      expect(plans.length).toBeGreaterThanOrEqual(1);
      expect(plans[0]).toContain('deliveries_completed_idx');
    });
  });
}
