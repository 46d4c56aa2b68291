/**
 * An interruptible sleep for worker loops, the one both the job runner and
 * the delivery worker use: `sleep(ms)` ends early when `signal()` is called,
 * and a signal that arrives while the loop is busy is remembered so the next
 * sleep returns at once (no lost wake-ups).
 */
export class Waker {
  private pending = false;
  private wake: (() => void) | null = null;

  /** True when a signal arrived since the last `reset()`: the next sleep returns at once. */
  get signalled(): boolean {
    return this.pending;
  }

  signal(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Call at the top of each loop pass: signals before this point are consumed. */
  reset(): void {
    this.pending = false;
  }

  sleep(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
