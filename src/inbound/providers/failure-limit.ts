/**
 * Rate limits of the provider callbacks (`/api/rpc/channels/{routeKey}/…`).
 *
 * Only requests that fail authentication are counted: an unknown channel
 * (404), a missing credential (401), one that does not verify or is stale
 * (403). Once a source has failed `HOOKDESK_PROVIDER_FAILURE_LIMIT` times
 * within a minute on one channel's URLs, or SOURCE_FACTOR times that on all
 * of them, its requests there are refused with 429 for the rest of that
 * minute, before the channel is looked up or the body is read.
 *
 * Why failures, counted per source: a provider's correctly signed callbacks
 * must never be refused because of someone else's requests. A limit on all
 * requests to a channel, or on a channel's failures whoever sent them, would
 * let anyone who knows a callback URL shut the provider out by failing on
 * purpose; a limit keyed by the failing source stops only that source.
 * A provider's own address is refused only after its own callbacks failed (a
 * channel with a wrong secret), and then for that channel only, unless many
 * channels fail from that one address. Correctly signed requests are never
 * counted (Twilio does not retry an inbound message it could not deliver).
 *
 * Counted in memory per process, in fixed one-minute windows of the injected
 * clock. The source is `request.ip` (see HOOKDESK_TRUST_PROXY); IPv6
 * addresses are counted per /64, the block one subscriber usually holds.
 */
import ipaddr from 'ipaddr.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';

const WINDOW_MS = 60_000;

/** A source's failures over all channels may be this many times the per-channel limit. */
const SOURCE_FACTOR = 10;

/** Keys kept at most; past that the oldest windows are forgotten first, so memory stays bounded. */
const MAX_KEYS = 100_000;

/** Answers that mean "authentication failed" on a provider callback. */
const FAILED = new Set([401, 403, 404]);

/** Failure counts per key in fixed windows. */
export class FailureWindows {
  // Insertion order is window-start order: a key is (re)inserted when its window starts.
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly clock: Clock,
    readonly limit: number,
  ) {}

  /** Seconds until `key` may be tried again; 0 when it may be now. */
  retryAfter(key: string): number {
    const window = this.current(key);
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.start + WINDOW_MS - this.clock.now()) / 1000));
  }

  /** Counts one failure; true when this one used up the key's window. */
  fail(key: string): boolean {
    const window = this.current(key);
    if (window) {
      window.failures += 1;
      return window.failures === this.limit;
    }
    this.forgetOld();
    this.windows.set(key, { start: this.clock.now(), failures: 1 });
    return this.limit === 1;
  }

  get size(): number {
    return this.windows.size;
  }

  private current(key: string) {
    const window = this.windows.get(key);
    if (window && this.clock.now() - window.start >= WINDOW_MS) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  /** Drops expired windows from the front, and the oldest live ones when full. */
  private forgetOld(): void {
    const now = this.clock.now();
    for (const [key, window] of this.windows) {
      if (now - window.start < WINDOW_MS && this.windows.size < MAX_KEYS) return;
      this.windows.delete(key);
    }
  }
}

/** The key of a source address: IPv4 (also when IPv4-mapped) as is, IPv6 by its /64. */
export function sourceOf(ip: string | undefined): string {
  const raw = (ip ?? '').slice(0, 64);
  if (!ipaddr.isValid(raw)) return raw;
  const address = ipaddr.process(raw);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/**
 * Installs the limits on every route of `scope` (the provider callbacks).
 * The per-provider routes need nothing of their own: their failures are the
 * 401/403/404 answers they already give.
 */
export function installFailureLimits(scope: FastifyInstance, clock: Clock, perChannel: number) {
  const byChannel = new FailureWindows(clock, perChannel);
  const bySource = new FailureWindows(clock, perChannel * SOURCE_FACTOR);
  const keysOf = (request: FastifyRequest) => {
    const source = sourceOf(request.ip);
    const routeKey = (request.params as { routeKey?: unknown }).routeKey;
    const channel = `${source} ${typeof routeKey === 'string' ? routeKey.slice(0, 64) : ''}`;
    return { source, channel };
  };

  scope.addHook('onRequest', async (request, reply) => {
    const { source, channel } = keysOf(request);
    const wait = Math.max(bySource.retryAfter(source), byChannel.retryAfter(channel));
    if (wait === 0) return;
    void reply.header('retry-after', String(wait));
    throw new AppError(
      'rate_limited',
      `Too many failed requests from this address; retry in ${wait} seconds.`,
    );
  });

  // onSend sees every answer, errors included, before it is written: the next
  // request from the same source already meets the updated count.
  scope.addHook('onSend', async (request, reply, payload) => {
    if (!FAILED.has(reply.statusCode)) return payload;
    const { source, channel } = keysOf(request);
    const channelFull = byChannel.fail(channel);
    const sourceFull = bySource.fail(source);
    if (channelFull || sourceFull) {
      // The route key is left out: for some channels the URL is the credential.
      request.log.warn(
        { source, scope: sourceFull ? 'all channels' : 'one channel' },
        'too many failed provider callbacks: this source is refused until its minute is over',
      );
    }
    return payload;
  });
}
