/**
 * Figure 1, the raw ceiling, as its own process (like the worker it is
 * compared with): reads the pending backlog's exact payloads and webhook
 * settings once (reading is not timed), then POSTs every one of them, signed
 * with the same headers Hookdesk sends, to the same receiver URLs, straight
 * through an undici Agent with keep-alive and the same concurrency. Nothing
 * is written anywhere.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { openDatabase } from '../../src/db/open.js';
import { buildHeaders } from '../../src/delivery/sender.js';
import { trustedCas } from '../../src/egress/agent.js';

export interface RawJob {
  databaseUrl: string;
  webhookIds: string[];
  concurrency: number;
  caFile: string;
  maxSeconds: number;
}

export interface RawResult {
  requests: number;
  ok: number;
  failed: number;
  elapsedMs: number;
  perSecond: number;
  /** CPU time (user + system) this process used while sending, ms. */
  cpuMs: number;
}

async function run(job: RawJob): Promise<RawResult> {
  const database = openDatabase(job.databaseUrl);
  const rows = await database.db
    .selectFrom('deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'deliveries.webhook_id')
    .select([
      'deliveries.id as id',
      'deliveries.event_type as eventType',
      'deliveries.payload as payload',
      'webhooks.url as url',
      'webhooks.secret as secret',
      'webhooks.headers as headers',
    ])
    .where('deliveries.webhook_id', 'in', job.webhookIds)
    .where('deliveries.status', '=', 'pending')
    .execute();
  await database.close();

  const agent = new Agent({ connect: { ca: trustedCas(readFileSync(job.caFile, 'utf8')) } });
  let next = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = started + job.maxSeconds * 1000;
  const lane = async () => {
    while (next < rows.length && performance.now() < deadline) {
      const row = rows[next++]!;
      try {
        const res = await request(row.url, {
          method: 'POST',
          headers: buildHeaders({
            url: row.url,
            deliveryId: row.id,
            eventType: row.eventType,
            body: row.payload,
            secret: row.secret,
            customHeaders: JSON.parse(row.headers) as Record<string, string>,
          }),
          body: row.payload,
          dispatcher: agent,
        });
        await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) ok += 1;
        else failed += 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  await agent.close();
  return {
    requests: ok + failed,
    ok,
    failed,
    elapsedMs,
    perSecond: (ok / elapsedMs) * 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

process.once('message', (job: RawJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      process.send?.({ ok: false, error: String((error as Error)?.stack ?? error) }, () =>
        process.exit(1),
      ),
  );
});
