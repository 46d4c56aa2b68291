/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, or `BENCH_PROFILE=1 npm
 * run bench`, which writes bench/profiles/*.cpuprofile): the functions with
 * the most self time, and self time by package.
 *
 *   npx tsx bench/profile-top.ts bench/profiles/<file>.cpuprofile [count]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on('error', () => process.exit(0));

const [file, countArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-top.ts <file.cpuprofile> [count]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const count = Number(countArg ?? 30);

// Self time per node from samples and their time deltas (µs).
const selfUs = new Map<number, number>();
const samples = profile.samples ?? [];
const deltas = profile.timeDeltas ?? [];
for (let i = 0; i < samples.length; i++) {
  const next = deltas[i + 1] ?? 0;
  selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + next);
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const m = /\/(dist|src)\/(.*)$/.exec(url);
  return m ? `hookdesk ${m[2]}` : url;
}

const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
for (const n of profile.nodes) {
  const us = selfUs.get(n.id) ?? 0;
  if (us === 0) continue;
  const { functionName, url, lineNumber } = n.callFrame;
  const key = `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  const pkg = where(url).replace(/^hookdesk .*/, 'hookdesk');
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
}

const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const wall = (profile.endTime - profile.startTime) / 1e6;
const idle = [...byFn.entries()]
  .filter(([k]) => k.startsWith('(idle)'))
  .reduce((a, [, v]) => a + v, 0);
process.stdout.write(
  `${file}\nwall ${wall.toFixed(1)} s, sampled ${(total / 1e6).toFixed(1)} s, idle ${pct(idle)}\n\nTop self time:\n`,
);
for (const [k, us] of [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, count))
  process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
process.stdout.write('\nSelf time by package:\n');
for (const [k, us] of [...byPkg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20))
  process.stdout.write(`${pct(us)}  ${k}\n`);
