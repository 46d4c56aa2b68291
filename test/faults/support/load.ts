/**
 * Steady API load for fault tests: a ticket POST every `intervalMs`, with a
 * bound on requests outstanding (a tick is skipped when it is reached, so a
 * stalled server never piles up unbounded work). Every answer is kept.
 */
import type { ApiClient, ApiResponse } from '../../support/processes.js';

export interface TicketResult extends ApiResponse {
  n: number;
  startedAt: number;
  at: number;
}

export class TicketLoad {
  readonly results: TicketResult[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly outstanding = new Set<Promise<void>>();
  private n = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly intervalMs = 25,
    private readonly maxOutstanding = 16,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.outstanding.size >= this.maxOutstanding) return;
      const n = ++this.n;
      const startedAt = Date.now();
      const p: Promise<void> = this.api
        .call('POST', '/api/tickets', {
          subject: `Load ${n}`,
          requester: { email: `load${n}@example.com` },
        })
        .then((res) => {
          this.results.push({ ...res, n, startedAt, at: Date.now() });
        })
        .finally(() => this.outstanding.delete(p));
      this.outstanding.add(p);
    }, this.intervalMs);
  }

  /** Stops sending and waits for the answers of requests still outstanding. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.outstanding]);
  }

  /** Ids of the tickets that got 201. */
  created(): string[] {
    return this.results.filter((r) => r.status === 201).map((r) => String(r.body.id));
  }

  /** Results that are neither 201 nor the given allowed statuses. */
  unexpected(allowed: number[] = []): TicketResult[] {
    return this.results.filter((r) => r.status !== 201 && !allowed.includes(r.status));
  }

  /** Count of 201s started after `since`. */
  createdSince(since: number): number {
    return this.results.filter((r) => r.status === 201 && r.startedAt >= since).length;
  }
}
