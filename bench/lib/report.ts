/** The results table (stdout) and the record appended to bench/RESULTS.md. */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DialectResult } from '../run.js';
import { ROOT } from './hookdesk.js';
import type { Machine } from './machine.js';
import type { ApiFigure, BenchConfig } from './phases.js';
import { fmt } from './stats.js';

/** Figure 9's targets: the drain with history ÷ on the empty database, and while pruning ÷ with history. */
const TARGET_HISTORY = { withHistory: 0.85, whilePruning: 0.8 } as const;

/** Figure 2's target: Hookdesk's drain rate ÷ the BullMQ peer's (figure 1b). */
const TARGET_BULLMQ_RATIO = { sqlite: 1.25, postgres: 1.0 } as const;
/** Requests/s the API should take: one organization, and spread over several (figure 7b). */
const TARGET_API = {
  // SQLite has no per-organization lock: its one figure is 1,000 whatever the spread.
  sqlite: { one: 1_000, spread: null },
  postgres: { one: 300, spread: 600 },
} as const;
const TARGET_API_P99_MS = 50;

function verdict(ok: boolean | null): string {
  return ok === null ? '' : ok ? 'met' : '**missed**';
}

function ms(n: number): string {
  return `${fmt(n)} ms`;
}

export function renderTable(r: DialectResult, c: BenchConfig, m: Machine): string {
  const db = r.dialect === 'sqlite' ? `SQLite ${m.sqlite}` : `PostgreSQL ${m.postgres ?? '?'}`;
  const rows: [string, string, string, string][] = [];
  const { raw, drain, serve, memory } = r;
  rows.push([
    '1. Raw ceiling',
    raw
      ? `${fmt(raw.perSecond)} req/s (undici keep-alive, ${raw.concurrency} concurrent, ${fmt(raw.ok)} signed POSTs, ${raw.failed} failed; CPU per request: client ${fmt((1000 * raw.cpuMs) / raw.ok)} µs, receiver ${fmt((1000 * raw.receiverCpuMs) / raw.ok)} µs)`
      : 'not run',
    'reference',
    '',
  ]);
  const peer = r.bullmq && r.bullmq.skipped === null ? r.bullmq : null;
  const skipped = r.bullmq && r.bullmq.skipped !== null ? r.bullmq.skipped : null;
  rows.push([
    '1b. BullMQ peer',
    peer
      ? `${fmt(peer.perSecond)} deliveries/s (BullMQ ${peer.bullmqVersion} on Redis ${peer.redisVersion} at ${peer.redis}, ${peer.persistence}, one worker process, ${peer.concurrency} concurrent, ${fmt(peer.jobs)} jobs, ${fmt(peer.completed)} completed in ${fmt(peer.elapsedMs / 1000, 1)} s, ${peer.failed} failed${peer.retried ? `, ${peer.retried} attempts retried` : ''}; CPU per job: worker ${fmt((1000 * peer.cpuMs) / peer.completed)} µs, redis-server ${fmt((1000 * peer.redisCpuMs) / peer.completed)} µs, receiver ${fmt((1000 * peer.receiverCpuMs) / peer.completed)} µs)`
      : skipped
        ? `skipped (${skipped})`
        : 'not run',
    'reference',
    '',
  ]);
  const rawRatio = raw && drain ? drain.perSecond / raw.perSecond : NaN;
  const ratio = peer && drain ? drain.perSecond / peer.perSecond : NaN;
  const target = TARGET_BULLMQ_RATIO[r.dialect];
  const ratios = [
    peer ? `**ratio to BullMQ ${fmt(ratio, 2)}**` : '',
    raw ? `ratio to the raw ceiling ${fmt(rawRatio, 2)}` : '',
  ]
    .filter(Boolean)
    .map((text, i) => (i === 0 ? ` — ${text}` : `, ${text}`))
    .join('');
  const targetText = `≥ ${target.toFixed(target % 1 === 0 ? 1 : 2)}× BullMQ`;
  rows.push([
    '2. Drain throughput',
    drain
      ? `${fmt(drain.perSecond)} deliveries/s (${fmt(drain.succeeded)} of ${fmt(drain.backlog)} over ${drain.webhooks} webhooks in ${fmt(drain.seconds, 1)} s; ${fmt(drain.attempts)} attempts recorded; ${drain.duplicates} duplicates; ${drain.connections} TLS connections; CPU per delivery: worker ${fmt((1000 * drain.workerCpuMs) / drain.succeeded)} µs, receiver ${fmt((1000 * drain.receiverCpuMs) / drain.succeeded)} µs${r.dialect === 'postgres' ? `, PostgreSQL backends ${fmt((1000 * drain.dbCpuMs) / drain.succeeded)} µs` : ''}; worker peak RSS ${fmt(drain.peakRssMb)} MB)${ratios}`
      : 'not run',
    skipped ? `${targetText} (BullMQ peer skipped: ${skipped})` : targetText,
    verdict(Number.isFinite(ratio) ? ratio >= target && drain!.succeeded === drain!.backlog : null),
  ]);
  const lat = serve?.latency;
  rows.push([
    '3. Latency, commit → arrival',
    lat
      ? `p50 ${ms(lat.p50)}, p95 ${ms(lat.p95)}, p99 ${ms(lat.p99)} (max ${ms(lat.max)}; ${fmt(lat.count)} events at ${lat.rate}/s${c.latencyOrgs > 1 ? ` over ${c.latencyOrgs} organizations` : ''}, ${lat.missing} missing; sent ${fmt(lat.load.sent)}, ${lat.load.failed} API errors, ${lat.load.skipped} skipped, API p99 ${ms(lat.load.apiP99)})`
      : 'not run',
    'p99 ≤ 50 ms',
    verdict(lat ? lat.p99 <= 50 && lat.missing === 0 : null),
  ]);
  const retry = serve?.retry;
  rows.push([
    '4. Retry accuracy, abs(actual − scheduled)',
    retry
      ? `p99 ${ms(retry.p99)} (p50 ${ms(retry.p50)}, max ${ms(retry.max)}; ${retry.samples} retries)`
      : 'not run',
    'p99 ≤ 250 ms',
    verdict(retry ? retry.samples > 0 && retry.p99 <= 250 : null),
  ]);
  const iso = serve?.isolation;
  rows.push([
    '5. Isolation, 1 of 10 endpoints hanging',
    iso
      ? `p99 ${ms(iso.p99)} for the other 9 (p50 ${ms(iso.p50)}, max ${ms(iso.max)}; ${fmt(iso.count)} deliveries, ${iso.missing} missing; ${iso.hung} requests hung)`
      : 'not run',
    'p99 ≤ 100 ms',
    verdict(iso ? iso.p99 <= 100 && iso.missing === 0 : null),
  ]);
  rows.push([
    '6. Backlog memory',
    memory
      ? `peak RSS ${fmt(memory.peakRssMb)} MB with ${fmt(memory.backlog)} pending${memory.full ? '' : ` (smaller than 1,000,000: BENCH_FULL=1 for the full figure)`}; RSS at start ${fmt(memory.startRssMb)} MB; ${memory.drained ? `drained in ${fmt(memory.drainSeconds)} s (${fmt(memory.backlog / memory.drainSeconds)}/s)` : `NOT drained: ${fmt(memory.delivered)} delivered in ${fmt(memory.drainSeconds)} s`}`
      : 'not run',
    '≤ 300 MB, drains',
    verdict(memory ? memory.peakRssMb <= 300 && memory.drained : null),
  ]);
  const apiTarget = TARGET_API[r.dialect];
  rows.push(
    apiRow('7. API, POST /api/tickets (5 webhooks), one organization', serve?.api, apiTarget.one),
  );
  if (serve?.apiSpread)
    rows.push(
      apiRow(
        `7b. API, the same over ${serve.apiSpread.organizations} organizations`,
        serve.apiSpread,
        apiTarget.spread,
      ),
    );
  if (serve?.apiAlone)
    rows.push(
      apiRow(
        '7c. API alone: figure 7 against `hookdesk api`, no worker running',
        serve.apiAlone,
        apiTarget.one,
      ),
    );
  if (serve?.apiAloneSpread)
    rows.push(
      apiRow(
        `7d. API alone over ${serve.apiAloneSpread.organizations} organizations`,
        serve.apiAloneSpread,
        apiTarget.spread,
      ),
    );
  const fair = r.fairness;
  rows.push([
    '8. Fairness, another organization with 9 hanging webhooks',
    fair
      ? `p99 ${ms(fair.withTarpits.p99)} (p50 ${ms(fair.withTarpits.p50)}, max ${ms(fair.withTarpits.max)}; ${fmt(fair.withTarpits.count)} deliveries at ${fair.rate}/s, ${fair.withTarpits.missing} missing; ${fmt(fair.hung)} requests hung) vs. alone p99 ${ms(fair.alone.p99)} (p50 ${ms(fair.alone.p50)})`
      : 'not run',
    'p99 ≤ 100 ms',
    verdict(fair ? fair.withTarpits.p99 <= 100 && fair.withTarpits.missing === 0 : null),
  ]);
  rows.push(rateRow(r));
  rows.push(orderingRow(r));
  rows.push(historyRow(r));
  return [
    `### ${db} — ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}`,
    '',
    `Load average before/after: ${r.loadBefore} / ${r.loadAfter}; this dialect took ${fmt(r.seconds)} s. Worker concurrency ${c.concurrency} per process, ${c.workerThreads} delivery thread(s) per process, attempt timeout ${c.timeoutMs} ms.`,
    '',
    '| Figure | Measured | Target | |',
    '|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function orderingRow(r: DialectResult): [string, string, string, string] {
  const f = r.ordering;
  const target = 'reference: the cost of ordering';
  if (!f) return ['11. Ordered delivery', 'not run', target, ''];
  const { baseline: e, ordered: o } = f;
  const cpu = (d: typeof o) => `${fmt((1000 * d.workerCpuMs) / d.succeeded)} µs`;
  return [
    '11. Ordered delivery',
    `**${fmt(o.perSecond / e.perSecond, 2)}× unordered** — ${fmt(o.perSecond)} deliveries/s (${fmt(o.succeeded)} of ${fmt(o.backlog)} over ${o.webhooks} webhooks with ordering, ${fmt(f.tickets)} tickets, in ${fmt(o.seconds, 1)} s) vs. ${fmt(e.perSecond)}/s ${f.baselineIsFigure2 ? '(figure 2)' : '(its own unordered drain first)'}; worker CPU per delivery ${cpu(o)} vs. ${cpu(e)}${o.dbCpuMs ? `, PostgreSQL backends ${fmt((1000 * o.dbCpuMs) / o.succeeded)} µs vs. ${fmt((1000 * (e.dbCpuMs ?? 0)) / e.succeeded)} µs` : ''}`,
    target,
    '',
  ];
}

function rateRow(r: DialectResult): [string, string, string, string] {
  const f = r.rate;
  const target = 'drain ≥ 0.85× alone; limited: ≤ 2× its limit in any second, average ≤ its limit';
  if (!f) return ['10. Rate-limited neighbour', 'not run', target, ''];
  const ratio = f.beside.perSecond / f.baseline.perSecond;
  return [
    '10. Rate-limited neighbour',
    `**${fmt(ratio, 2)}× alone** — ${fmt(f.beside.perSecond)} deliveries/s (${fmt(f.beside.succeeded)} of ${fmt(f.beside.backlog)} in ${fmt(f.beside.seconds, 1)} s) beside a webhook limited to ${f.limit}/s holding ${f.limitedBacklog}, vs. ${fmt(f.baseline.perSecond)}/s ${f.baselineIsFigure2 ? '(figure 2)' : '(its own drain first)'}; the limited webhook: ${f.limitedStarted} attempts started, at most ${f.busiestSecond} in any one second, ${fmt(f.averagePerSecond, 2)}/s on average`,
    target,
    verdict(
      ratio >= 0.85 &&
        f.beside.succeeded === f.beside.backlog &&
        f.limitedStarted === f.limitedBacklog &&
        f.busiestSecond <= 2 * f.limit &&
        f.averagePerSecond <= f.limit * 1.02,
    ),
  ];
}

function historyRow(r: DialectResult): [string, string, string, string] {
  const h = r.history;
  const target = `drain ≥ ${TARGET_HISTORY.withHistory.toFixed(2)}× empty; ≥ ${TARGET_HISTORY.whilePruning.toFixed(2)}× while pruning`;
  if (!h) return ['9. History', 'not run', target, ''];
  const { baseline: e, withHistory: a, whilePruning: b } = h;
  const ratioA = a.perSecond / e.perSecond;
  const ratioB = b.perSecond / a.perSecond;
  const cpu = (d: typeof a) => `${fmt((1000 * d.workerCpuMs) / d.succeeded)} µs`;
  const all = (d: typeof a) => d.succeeded === d.backlog;
  const pruned =
    h.pruneSeconds === null
      ? `NOT all pruned: ${fmt(h.oldLeft)} still left when the wait ended`
      : `all ${fmt(h.old)} pruned in ${fmt(h.pruneSeconds, 1)} s`;
  return [
    '9. History',
    `with ${fmt(h.history)} finished deliveries in the tables (${fmt(h.old)} past a 30-day retention; inserted in ${fmt(h.insertSeconds)} s, not timed): ` +
      `**${fmt(ratioA, 2)}× empty** — ${fmt(a.perSecond)} deliveries/s (${fmt(a.succeeded)} of ${fmt(a.backlog)} in ${fmt(a.seconds, 1)} s, retention off) vs. ${fmt(e.perSecond)}/s ${h.baselineIsFigure2 ? '(figure 2)' : '(its own drain on the database before the history)'}; ` +
      `while retention prunes: **${fmt(ratioB, 2)}× that** — ${fmt(b.perSecond)} deliveries/s (${fmt(b.succeeded)} of ${fmt(b.backlog)} in ${fmt(b.seconds, 1)} s, first arrival ${fmt(h.drainStartedAfterS, 1)} s after pruning began), ${fmt(h.prunedDuringDrain)} old rows pruned by the time it finished, ${pruned}; ` +
      `worker CPU per delivery: empty ${cpu(e)}, with history ${cpu(a)}, while pruning ${cpu(b)}`,
    target,
    verdict(
      ratioA >= TARGET_HISTORY.withHistory &&
        ratioB >= TARGET_HISTORY.whilePruning &&
        all(a) &&
        all(b),
    ),
  ];
}

function commandLine(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_') || k === 'DATABASE_URL')
    .map(([k, v]) => `${k}=${(v ?? '').replace(/\/\/([^:@/]*):[^@]*@/, '//$1:***@')}`)
    .sort();
  const quote = (a: string) => (/^[\w./:=@,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [...env.map(quote), 'npm run bench --', ...process.argv.slice(2).map(quote)].join(' ');
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

export async function appendResults(
  results: DialectResult[],
  c: BenchConfig,
  m: Machine,
  label: string,
): Promise<string> {
  const file = join(ROOT, 'bench/RESULTS.md');
  if (!existsSync(file))
    writeFileSync(file, '# Benchmark results\n\nAppended by `npm run bench -- --record`.\n');
  const head = [
    '',
    `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${label ? ` — ${label}` : ''}`,
    '',
    `- Command: \`${commandLine()}\``,
    `- Commit: ${commit()} (plus any uncommitted changes in the working tree)`,
    `- Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGb} GB RAM, ${m.os}, Node ${m.node}, SQLite ${m.sqlite}${m.postgres ? `, PostgreSQL ${m.postgres}` : ''}`,
    `- Sizes: backlog ${c.backlog} over ${c.webhooks} webhooks, ${c.seconds} s per load phase, ${c.rate} events/s, memory backlog ${c.memoryBacklog}, history ${c.history}`,
    '',
  ];
  appendFileSync(file, [...head, ...results.map((r) => renderTable(r, c, m) + '\n')].join('\n'));
  // Keep the file as `npm run lint` (prettier --check) wants it.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(
    file,
    await prettier.format(readFileSync(file, 'utf8'), { ...options, filepath: file }),
  );
  return file;
}

function apiRow(
  title: string,
  a: ApiFigure | null | undefined,
  perSecond: number | null,
): [string, string, string, string] {
  return [
    title,
    a
      ? `${fmt(a.requestsPerSecond)} req/s, p99 ${ms(a.p99)} (p50 ${ms(a.p50)}; ${fmt(a.total)} requests, ${a.connections} connections, ${a.seconds} s; ${a.errors} errors, ${a.timeouts} timeouts, ${a.non2xx} non-2xx${
          a.non2xx > 0
            ? `: ${Object.entries(a.statusCodes)
                .map(([c, n]) => `${n}× ${c}`)
                .join(', ')}`
            : ''
        })`
      : 'not run',
    perSecond === null
      ? 'no errors'
      : `≥ ${fmt(perSecond)} req/s, p99 ≤ ${TARGET_API_P99_MS} ms, no errors`,
    verdict(
      a
        ? a.errors + a.timeouts + a.non2xx === 0 &&
            (perSecond === null || (a.requestsPerSecond >= perSecond && a.p99 <= TARGET_API_P99_MS))
        : null,
    ),
  ];
}
