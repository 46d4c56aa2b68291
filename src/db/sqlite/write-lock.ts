/**
 * One writer at a time among the threads of a process, first come first
 * served, waited for without blocking the event loop.
 *
 * SQLite has one writer. Between processes, `busy_timeout` makes a second
 * writer retry with sleeps (1, 2, 5, 10 … 100 ms) while its whole thread
 * stands still. That is tolerable between an API process and a worker
 * process, but not between the API thread and the background thread of
 * `hookdesk serve`: measured, the API stalled for seconds while the two took
 * turns through the busy handler. So the threads of one process queue here
 * (a ticket lock in shared memory: `Atomics.waitAsync`) before BEGIN, and
 * SQLite's own lock is then always free for them.
 */

// In Node since 16; TypeScript types it only from lib ES2024 on.
const { waitAsync } = Atomics as unknown as {
  waitAsync: (
    this: void,
    cells: Int32Array,
    index: number,
    value: number,
  ) => { async: false; value: string } | { async: true; value: Promise<string> };
};

/** [next ticket, ticket being served]. */
const NEXT = 0;
const SERVING = 1;

export class WriteLock {
  private readonly cells: Int32Array;

  /** `shared` is the `SharedArrayBuffer` of another thread's lock, or none for a new one. */
  constructor(readonly shared: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.cells = new Int32Array(shared);
  }

  async acquire(): Promise<void> {
    const mine = Atomics.add(this.cells, NEXT, 1);
    // Bounded by the holders ahead: each one's release moves SERVING and wakes the waiters.
    for (;;) {
      const serving = Atomics.load(this.cells, SERVING);
      if (serving === mine) return;
      const wait = waitAsync(this.cells, SERVING, serving);
      if (wait.async) await wait.value;
    }
  }

  /** Another holder is waiting: more than the current ticket has been handed out. */
  get contended(): boolean {
    return Atomics.load(this.cells, NEXT) - Atomics.load(this.cells, SERVING) > 1;
  }

  release(): void {
    Atomics.add(this.cells, SERVING, 1);
    Atomics.notify(this.cells, SERVING);
  }
}
