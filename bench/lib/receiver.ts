/** Starts bench/lib/receiver-process.ts as a child and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ReceiverCommand =
  | { id: number; cmd: 'config'; latency?: string[]; hang?: string[]; failFirst?: string[] }
  | { id: number; cmd: 'stats'; group: string }
  | { id: number; cmd: 'counts' }
  | { id: number; cmd: 'release' }
  | { id: number; cmd: 'clear'; group: string }
  | { id: number; cmd: 'close' };

export interface ReceiverGroupStats {
  count: number;
  firstAt: number;
  lastAt: number;
  /** Event timestamp → arrival, ms, in arrival order (groups with latency tracking only). */
  latencies: number[];
  byPath: Record<string, number>;
  latencyByPath: Record<string, number[]>;
}

export interface ReceiverReply {
  id: number;
  ok: boolean;
  port?: number;
  stats?: ReceiverGroupStats;
  counts?: Record<string, number>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const ENTRY = fileURLToPath(new URL('./receiver-process.ts', import.meta.url));

export class BenchReceiver {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: ReceiverReply) => void>();
  port = 0;

  async start(): Promise<this> {
    const child = fork(ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    const ready = new Promise<ReceiverReply>((resolve, reject) => {
      this.pending.set(0, resolve);
      child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
      setTimeout(() => reject(new Error('receiver did not start within 20 s')), 20_000).unref();
    });
    child.on('message', (r: ReceiverReply) => {
      const done = this.pending.get(r.id);
      this.pending.delete(r.id);
      done?.(r);
    });
    this.port = (await ready).port ?? 0;
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  private call(cmd: DistributiveOmit<ReceiverCommand, 'id'>): Promise<ReceiverReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`receiver did not answer ${cmd.cmd}`));
      }, 30_000);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child!.send({ ...cmd, id });
    });
  }

  async configure(c: { latency?: string[]; hang?: string[]; failFirst?: string[] }): Promise<void> {
    await this.call({ cmd: 'config', ...c });
  }

  async stats(group: string): Promise<ReceiverGroupStats> {
    return (await this.call({ cmd: 'stats', group })).stats!;
  }

  async count(group: string): Promise<number> {
    return (await this.call({ cmd: 'counts' })).counts?.[group] ?? 0;
  }

  /** TLS connections the receiver has accepted since it started. */
  async connections(): Promise<number> {
    return (await this.call({ cmd: 'counts' })).counts?.['*connections'] ?? 0;
  }

  async release(): Promise<void> {
    await this.call({ cmd: 'release' });
  }

  async clear(group: string): Promise<void> {
    await this.call({ cmd: 'clear', group });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 3_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.send({ id: -1, cmd: 'close' });
    });
  }
}
