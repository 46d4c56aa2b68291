/**
 * Rate limits of the public email endpoints, counted by @fastify/rate-limit's
 * in-memory store: per process, a fixed one-minute window per key. Each
 * limiter is separate (per source IP and per organization, per endpoint), and
 * a request must pass every limiter it meets. Several API processes each
 * allow the full rate; put a shared limit in front of them if that matters.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';

/** Throws 429 `rate_limited` (with `Retry-After`) once `key` has used up its minute. */
export type Limiter = (request: FastifyRequest, reply: FastifyReply, key: string) => Promise<void>;

const WINDOW_MS = 60_000;

/** Registers the plugin in this (encapsulated) scope only; nothing is limited until a limiter is asked. */
export async function installRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

export function createLimiter(app: FastifyInstance, perMinute: number): Limiter {
  // The plugin derives keys from the request; this limiter's key for the request is noted here first.
  const keys = new WeakMap<FastifyRequest, string>();
  const check = app.createRateLimit({
    max: perMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (request) => keys.get(request) ?? request.ip,
  });
  return async (request, reply, key) => {
    keys.set(request, key);
    const result = await check(request);
    if (!result.isAllowed && result.isExceeded) {
      void reply.header('retry-after', String(result.ttlInSeconds));
      throw new AppError(
        'rate_limited',
        `Too many requests; retry in ${result.ttlInSeconds} seconds.`,
      );
    }
  };
}
