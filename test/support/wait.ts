/**
 * The one way tests wait: for an event (a worker's `events`, graphile-worker's
 * EventMonitor pattern), or, where nothing emits one (another process, a
 * receiver), by polling a condition with `until`. Every wait is bounded in
 * time and count; `sleep` is for pacing that a test does on purpose.
 */
import type { EventEmitter } from 'node:events';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it holds; bounded in time and count. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  detail: () => string = () => '',
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    if (await check()) return;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
}

type Args<E, K extends keyof E> = E[K] extends unknown[] ? E[K] : never;

/**
 * Resolves with the arguments of the next `name` event that `match` accepts,
 * or rejects after `timeoutMs`. Subscribe before doing what causes the event.
 */
export function nextEvent<E extends Record<keyof E, unknown[]>, K extends keyof E & string>(
  emitter: EventEmitter<E>,
  name: K,
  timeoutMs: number,
  match: (...args: Args<E, K>) => boolean = () => true,
): Promise<Args<E, K>> {
  const target = emitter as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!match(...(args as Args<E, K>))) return;
      done();
      resolve(args as Args<E, K>);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the "${name}" event`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      target.off(name, listener);
    };
    target.on(name, listener);
  });
}

/**
 * Keeps every `name` event from now on, until `release()`: for tests that
 * look at what happened in between (graphile-worker's EventMonitor).
 */
export class EventMonitor<E extends Record<keyof E, unknown[]>, K extends keyof E & string> {
  readonly seen: Args<E, K>[] = [];
  private readonly listener = (...args: unknown[]) => void this.seen.push(args as Args<E, K>);

  constructor(
    private readonly emitter: EventEmitter<E>,
    private readonly name: K,
  ) {
    (emitter as unknown as EventEmitter).on(name, this.listener);
  }

  release(): void {
    (this.emitter as unknown as EventEmitter).off(this.name, this.listener);
  }
}
