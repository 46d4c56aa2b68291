/**
 * `hookdesk serve` runs its background roles (./background.ts) on a worker
 * thread with its own database connection, so the API and the delivery
 * worker each have a core: on one thread, a busy API delayed every delivery
 * (bench/RESULTS.md, figure 3) and a slow delivery batch delayed the API.
 * The extra delivery threads of HOOKDESK_WORKER_THREADS (`serve` and
 * `worker`) are threads of the same kind running only a delivery worker.
 *
 * The thread is told of new deliveries by message where the dialect has no
 * cross-process wake-up (SQLite; on PostgreSQL it LISTENs itself), and is
 * asked for its metrics at every scrape. If it dies, the process exits: an
 * API that silently stopped delivering would lose nothing but help no one.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { onLocalWake } from '../delivery/wake.js';
import type { MetricSnapshot } from '../metrics.js';
import type { Background, BackgroundRoles, Slots } from './background.js';

/** Messages from the main thread. */
export type ToThread = { type: 'wake' } | { type: 'metrics'; id: number } | { type: 'stop' };

/** Messages from the background thread. */
export type FromThread =
  | { type: 'ready'; workerId: string }
  | { type: 'metrics'; id: number; snapshot: MetricSnapshot }
  | { type: 'stopped' };

export interface ThreadOptions {
  config: Config;
  roles: BackgroundRoles;
  slots: Slots;
  /** The main thread's `DatabaseHandle.shared`. */
  shared: unknown;
  /** Relay this process's in-process wake-ups to the thread (no LISTEN/NOTIFY). */
  relayWakes: boolean;
  /** Called once if the thread ends on its own (an error, a crash). */
  onFailure: (error: Error) => void;
}

export interface BackgroundThread extends Background {
  metrics(): Promise<MetricSnapshot>;
}

// Built: ./background-thread-main.js. Run through tsx (the tests), the thread
// does not inherit tsx's loader: it registers it, then imports the .ts source.
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
const ENTRY = fromSource
  ? `import(${JSON.stringify(
      import.meta.resolve('tsx/esm/api'),
    )}).then((tsx) => { tsx.register(); return import(${JSON.stringify(
      new URL('./background-thread-main.ts', import.meta.url).href,
    )}); });`
  : new URL('./background-thread-main.js', import.meta.url);

export async function startBackgroundThread(opts: ThreadOptions): Promise<BackgroundThread> {
  const thread = new Worker(ENTRY, {
    eval: fromSource,
    workerData: { config: opts.config, shared: opts.shared, roles: opts.roles, slots: opts.slots },
  });
  let stopping = false;
  let nextId = 0;
  const pending = new Map<number, (s: MetricSnapshot) => void>();
  let stopped: (() => void) | null = null;

  const ready = new Promise<string>((resolve, reject) => {
    thread.on('message', (m: FromThread) => {
      if (m.type === 'ready') resolve(m.workerId);
      else if (m.type === 'metrics') {
        pending.get(m.id)?.(m.snapshot);
        pending.delete(m.id);
      } else if (m.type === 'stopped') stopped?.();
    });
    thread.once('error', (error) => {
      reject(error);
      if (!stopping) opts.onFailure(error);
    });
    thread.once('exit', (code) => {
      for (const done of pending.values()) done([]);
      pending.clear();
      const error = new Error(`the background thread exited (code ${code})`);
      reject(error);
      stopped?.();
      if (!stopping) opts.onFailure(error);
    });
  });
  const workerId = await ready;

  const post = (m: ToThread) => thread.postMessage(m);
  // After the emitting transaction's remaining statements (same macrotask) have run:
  // the thread's claim then rarely has to wait for the write lock.
  let wakeQueued = false;
  const stopRelay = opts.relayWakes
    ? onLocalWake(() => {
        if (wakeQueued) return;
        wakeQueued = true;
        setImmediate(() => {
          wakeQueued = false;
          post({ type: 'wake' });
        });
      })
    : () => {};

  return {
    workerId,
    metrics() {
      if (stopping) return Promise.resolve([]);
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        post({ type: 'metrics', id });
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      stopRelay();
      const done = new Promise<void>((resolve) => (stopped = resolve));
      post({ type: 'stop' });
      // The thread drains attempts in flight (timeout + 2 s) before it answers.
      const limit = setTimeout(
        () => void thread.terminate(),
        opts.config.deliveryTimeoutMs + 10_000,
      );
      await done;
      clearTimeout(limit);
      await thread.terminate();
    },
  };
}
