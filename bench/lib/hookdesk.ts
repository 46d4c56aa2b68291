/**
 * Real `hookdesk` processes for the benchmark: the compiled CLI (`npm run
 * build` → dist/cli/main.js) run by node, logs to a file (not a pipe, so the
 * harness does no work per log line), optionally under `--cpu-prof`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled CLI; BENCH_MAIN points at another build (say, of an older commit, for before/after). */
export const MAIN = process.env.BENCH_MAIN ?? join(ROOT, 'dist/cli/main.js');
export const CA_FILE = join(ROOT, 'test/fixtures/tls/ca.pem');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `intervalMs` until it returns true; false after `timeoutMs`. Bounded. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
  return false;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc; NaN if unknown. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export interface StartOptions {
  command: 'worker' | 'serve' | 'api';
  env: Record<string, string>;
  logFile: string;
  /** Directory for a V8 CPU profile (`node --cpu-prof`), written when the process exits. */
  profileDir?: string | undefined;
  cwd: string;
}

export class HookdeskProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(readonly opts: StartOptions) {
    const out = openSync(opts.logFile, 'a');
    const args = [
      ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
      // Extra node flags for investigations, e.g. BENCH_NODE_ARGS="--trace-gc".
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      MAIN,
      opts.command,
    ];
    this.child = spawn(process.execPath, args, {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
        HOOKDESK_EGRESS_CA_FILE: CA_FILE,
        ...opts.env,
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return existsSync(this.opts.logFile) ? readFileSync(this.opts.logFile, 'utf8') : '';
  }

  /**
   * Waits until a pino line with exactly this `msg` has been logged `times`
   * times (once per delivery thread, say); throws with the log's tail if the
   * process dies or time runs out.
   */
  async waitForLog(msg: string, timeoutMs = 30_000, times = 1): Promise<void> {
    const needle = `"msg":"${msg}"`;
    const ok = await until(
      () => {
        if (!this.running) return true;
        return this.log().split(needle).length - 1 >= times;
      },
      timeoutMs,
      100,
    );
    if (!ok || !this.running) {
      throw new Error(
        `hookdesk ${this.opts.command} ${this.running ? 'did not log' : 'exited before logging'} "${msg}":\n${this.log().slice(-3000)}`,
      );
    }
  }

  cpuMs(): number {
    return cpuMs(this.pid);
  }

  /** Resident set size now and its peak (VmHWM), in MB, from /proc. */
  memory(): { rssMb: number; peakMb: number } | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
    } catch {
      return null;
    }
  }

  /** SIGTERM (graceful: the worker lets attempts finish), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    this.child.kill('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}
