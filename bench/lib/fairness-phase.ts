/**
 * Figure 8, fairness between organizations: organization B's commit → arrival
 * latency alone, then again while organization A's nine webhooks point at
 * endpoints that never answer (each request held until the worker's
 * timeout). Without a share per organization and per host, A's tarpits
 * would hold every slot of the worker and B would wait for their timeouts.
 */
import { join } from 'node:path';
import { HookdeskProcess, sleep, until } from './hookdesk.js';
import { openLoop } from './load.js';
import { api, hookdeskEnv, type Ctx } from './phases.js';
import { BENCH_SECRET, createOrg } from './seed.js';
import { percentile } from './stats.js';

/** Tickets/s of organization A (each to 9 hanging webhooks). */
const TARPIT_RATE = 20;
const TARPIT_WEBHOOKS = 9;

export interface LatencySample {
  count: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
}

export interface FairnessFigure {
  /** Tickets/s of organization B. */
  rate: number;
  alone: LatencySample;
  withTarpits: LatencySample;
  /** Requests to A's tarpits that the receiver held. */
  hung: number;
}

export async function fairnessPhase(ctx: Ctx, port: number): Promise<FairnessFigure> {
  const { config, receiver } = ctx;
  const groupA = `${ctx.dialect}-fair-a`;
  const groupB = `${ctx.dialect}-fair-b`;
  const a = await createOrg(ctx.database, 'fairness-a');
  const b = await createOrg(ctx.database, 'fairness-b');
  const serve = new HookdeskProcess({
    command: 'serve',
    env: hookdeskEnv(ctx, { PORT: String(port) }),
    logFile: join(ctx.workDir, 'serve-fairness.log'),
    cwd: ctx.workDir,
  });
  const base = `http://127.0.0.1:${port}`;
  const rate = config.isolationRate;
  try {
    await serve.waitForLog('delivery worker started', 30_000, config.workerThreads);
    const hook = (key: string, url: string) =>
      api(base, key, 'POST', '/api/webhooks', {
        name: 'bench',
        url,
        events: ['ticket.created'],
        secret: BENCH_SECRET,
      });
    const hangPaths = Array.from({ length: TARPIT_WEBHOOKS }, (_, i) => `/${groupA}/${i}`);
    for (const path of hangPaths) await hook(a.apiKey, receiver.url(path));
    await hook(b.apiKey, receiver.url(`/${groupB}/0`));
    await receiver.configure({ latency: [groupB], hang: hangPaths });

    const measureB = async (): Promise<LatencySample> => {
      await receiver.clear(groupB);
      const load = await openLoop({
        baseUrl: base,
        apiKeys: [b.apiKey],
        rate,
        seconds: config.seconds,
        label: 'fairness-b',
      });
      await until(async () => (await receiver.count(groupB)) >= load.created, 20_000, 100);
      const s = await receiver.stats(groupB);
      return {
        count: s.latencies.length,
        missing: load.created - s.count,
        p50: percentile(s.latencies, 50),
        p99: percentile(s.latencies, 99),
        max: s.latencies.length ? Math.max(...s.latencies) : NaN,
      };
    };

    ctx.log(`  fairness: organization B alone, ${rate} events/s…`);
    const alone = await measureB();
    ctx.log(
      `  fairness: B at ${rate} events/s while A sends ${TARPIT_RATE} events/s to ${TARPIT_WEBHOOKS} hanging webhooks…`,
    );
    // A's tarpits fill first, then B's load runs beside them.
    const tarpits = openLoop({
      baseUrl: base,
      apiKeys: [a.apiKey],
      rate: TARPIT_RATE,
      seconds: config.seconds + 2,
      label: 'fairness-a',
    });
    await sleep(2_000);
    const withTarpits = await measureB();
    await tarpits;
    const hung = await receiver.count(groupA);
    await receiver.release();
    ctx.log(`  fairness p99 ${withTarpits.p99} ms (alone ${alone.p99} ms)`);
    return { rate, alone, withTarpits, hung };
  } finally {
    await serve.stop();
  }
}
