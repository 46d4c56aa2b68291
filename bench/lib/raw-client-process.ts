/**
 * Figure 1, the raw ceiling, as its own process (like the worker it is
 * compared with): reads the pending backlog's exact payloads and webhook
 * settings once (reading is not timed), then POSTs every one of them, signed
 * with the same headers Hookdesk sends, to the same receiver URLs, straight
 * through an undici Agent with keep-alive and the same concurrency. Nothing
 * is written anywhere. The reading and the per-request code are
 * signed-post.ts, which the BullMQ peer (figure 1b) sends with too.
 */
import { readBacklog, receiverAgent, signedPost } from './signed-post.js';

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
  const rows = await readBacklog(job.databaseUrl, job.webhookIds);
  const agent = receiverAgent(job.caFile);
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
        if (await signedPost(row, agent)) ok += 1;
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
