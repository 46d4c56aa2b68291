/**
 * Prometheus metrics (docs/operations.md, "Health and metrics"). One registry
 * per process (not prom-client's global one, so tests can build many apps).
 * Queue gauges are read from the database at scrape time: they are true across
 * all workers, not just this one.
 */
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Clock } from './clock.js';
import type { Executor } from './db/schema.js';
import { queueStats } from './delivery/queue/gauges.js';

export class Metrics {
  readonly registry = new Registry();
  readonly deliveries = new Counter({
    name: 'hookdesk_deliveries_total',
    help: 'Deliveries that reached a final state, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: 'hookdesk_delivery_attempts_total',
    help: 'Delivery attempts, by outcome (success, failure) and error code (none for HTTP responses).',
    labelNames: ['outcome', 'error_code'] as const,
    registers: [this.registry],
  });
  readonly attemptDuration = new Histogram({
    name: 'hookdesk_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts, from request start to the end of the captured response.',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** Other threads' metrics, added in at scrape time (see `render`). */
  private readonly sources: (() => Promise<MetricSnapshot>)[] = [];

  constructor(
    db: Executor,
    clock: Clock,
    /**
     * `defaultMetrics`: Node's process metrics (once per process). `queueGauges`
     * (default true): the gauges read from the database; off in a second thread
     * whose counters another registry sums in (`addSource`).
     */
    options: { defaultMetrics?: boolean; queueGauges?: boolean } = {},
  ) {
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'hookdesk_' });
    if (options.queueGauges === false) return;
    // One query per scrape sets both gauges: `pending` is registered (and so
    // collected) first, and sets `oldest` before the registry reads it.
    const oldest = new Gauge({
      name: 'hookdesk_oldest_due_delivery_age_seconds',
      help: 'How long the oldest due pending delivery has been waiting; 0 when none is due.',
      registers: [],
    });
    new Gauge({
      name: 'hookdesk_deliveries_pending',
      help: 'Deliveries waiting for an attempt (all workers).',
      registers: [this.registry],
      async collect() {
        const stats = await queueStats(db, clock.now());
        this.set(stats.pending);
        oldest.set(stats.oldestDueAgeSeconds);
      },
    });
    this.registry.registerMetric(oldest);
  }

  /** Adds another thread's metrics to every scrape. */
  addSource(snapshot: () => Promise<MetricSnapshot>): void {
    this.sources.push(snapshot);
  }

  /**
   * The exposition text. Series that other threads also have (the background
   * thread of `hookdesk serve` counts the delivery attempts) are summed, so a
   * scrape sees the process as one.
   */
  async render(): Promise<string> {
    if (this.sources.length === 0) return this.registry.metrics();
    const theirs = await Promise.all(this.sources.map((s) => s()));
    const shared = new Set(theirs.flat().map((m) => m.name));
    const parts: string[] = [];
    const mine: MetricSnapshot = [];
    for (const { name } of this.registry.getMetricsAsArray()) {
      if (shared.has(name)) mine.push(await this.registry.getSingleMetric(name)!.get());
      else parts.push(await this.registry.getSingleMetricAsString(name));
    }
    parts.push((await AggregatorRegistry.aggregate([mine, ...theirs]).metrics()).trimEnd());
    return `${parts.join('\n')}\n`;
  }
}

/** A registry's metrics as JSON (`Registry.getMetricsAsJSON`): what a thread sends for a scrape. */
export type MetricSnapshot = MetricObjectWithValues<MetricValue<string>>[];
