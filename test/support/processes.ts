/**
 * Helpers for real `hookdesk` processes: a child with its pino
 * lines collected and a small JSON client for its HTTP API. Waits go through
 * ./wait.ts (re-exported here for the suites that import them from here).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { startCli, stop } from './cli.js';
import { CA_FILE } from './receiver.js';
import { until } from './wait.js';

export { sleep, until } from './wait.js';

export interface LogLine {
  msg?: string;
  level?: number;
  pid?: number;
  deliveryId?: string;
  recorded?: boolean;
  status?: string;
  err?: { message?: string; code?: string };
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** A `hookdesk <args>` child (the CLI through tsx) with its stdout JSON lines and stderr kept. */
export class HookdeskProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<Exit>;
  stderr = '';
  private partial = '';

  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string>,
  ) {
    this.child = startCli(args, env);
    // Always drain both pipes: a full pipe would block the child's logger.
    this.child.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The attempts this process recorded: its 'delivery attempt' log lines with recorded: true. */
  recordedAttempts(): LogLine[] {
    return this.lines.filter((l) => l.msg === 'delivery attempt' && l.recorded === true);
  }

  /** Log lines with this message. */
  logged(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  waitForLog(msg: string, timeoutMs = 30_000): Promise<void> {
    return until(
      `${this.name} to log "${msg}"`,
      () => {
        if (!this.running) throw new Error(`${this.name} exited early\n${this.describe()}`);
        return this.lines.some((l) => l.msg === msg);
      },
      timeoutMs,
      () => this.describe(),
    );
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<Exit> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  describe(): string {
    const errors = this.lines.filter((l) => (l.level ?? 0) >= 50).slice(-3);
    const tail = [
      ...errors.map((l) => `[error] ${JSON.stringify(l).slice(0, 1500)}`),
      ...this.lines.slice(-15).map((l) => JSON.stringify(l)),
      this.partial,
      this.stderr,
    ];
    return `--- ${this.name} (pid ${this.child.pid}) ---\n${tail.join('\n').slice(-9000)}`;
  }

  private onStdout(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.lines.push({ msg: line });
      }
    }
  }
}

export interface ApiResponse {
  status: number;
  body: any;
  /** Set when no HTTP answer came at all (connection refused, reset, timeout). */
  networkError?: string;
}

/** JSON calls to a running `hookdesk api`/`serve`, each bounded by `timeoutMs`. */
export class ApiClient {
  constructor(
    readonly base: string,
    readonly key: string,
  ) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 10_000,
  ): Promise<ApiResponse> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON: kept as text */
      }
      return { status: res.status, body: parsed };
    } catch (error) {
      return { status: 0, body: null, networkError: String((error as Error).message) };
    }
  }

  async status(path: string): Promise<number> {
    return (await this.call('GET', path)).status;
  }
}

/** True when `body` is the contract's error format with this code. */
export function isErrorBody(body: unknown, code: string): boolean {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)
    ?.error;
  return (
    e?.code === code &&
    typeof e.message === 'string' &&
    e.message.length > 0 &&
    Array.isArray(e.details)
  );
}

export const TEST_KEY = 'hd_fault_suite_bootstrap_key_0123456789';

/** The `x-webhook-delivery` header of a received request. */
export function deliveryHeader(headers: Record<string, unknown>): string {
  return String(headers['x-webhook-delivery']);
}

export type { ChildProcess };

/**
 * `hookdesk worker` children on a test's database, delivering to receivers
 * on loopback (trusting the test CA), logging each attempt; whatever a test
 * started is stopped after it (SIGTERM, then SIGKILL).
 */
export function useWorkerProcesses() {
  const workers: HookdeskProcess[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => stop(w.child)));
  });
  return {
    workers,
    start(databaseUrl: string, names: readonly string[], env: Record<string, string> = {}) {
      const started = names.map(
        (name) =>
          new HookdeskProcess(name, ['worker'], {
            DATABASE_URL: databaseUrl,
            HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
            HOOKDESK_EGRESS_CA_FILE: CA_FILE,
            LOG_LEVEL: 'info',
            ...env,
          }),
      );
      workers.push(...started);
      return started;
    },
    describe: () => workers.map((w) => w.describe()).join('\n'),
  };
}
