/**
 * What every provider adapter does the same way: find the channel a callback
 * is addressed to, answer 401/403 for a missing or wrong credential, compare
 * secrets in constant time, and remember handled provider events so a retry
 * or a replay stores nothing twice.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import { CHANNEL_SPECS, type Provider } from '../../channels/channel-types.js';
import { findChannelByRouteKey } from '../../channels/channels.repository.js';
import { vaultFor, type Secrets } from '../../channels/vault.js';
import type { ChannelsTable, Executor } from '../../db/schema.js';
import { AppError, notFound } from '../../errors.js';
import type { AppDeps } from '../../http/deps.js';
import { redactedRequest } from '../../logger.js';

/** Prefix of every provider callback; `:routeKey` is the channel's random URL segment. */
export const CHANNEL_ROUTE = '/api/rpc/channels/:routeKey';

/**
 * Route options shared by provider callbacks: public (no API key),
 * documented under one tag, and logged without the credentials some
 * providers put in the query string.
 */
export function callbackRoute(summary: string) {
  return {
    schema: {
      tags: ['provider callbacks'],
      summary,
      security: [],
      params: Type.Object({ routeKey: Type.String({ maxLength: 64 }) }),
    },
    logSerializers: { req: redactedRequest },
  };
}

export interface LoadedChannel {
  row: ChannelsTable;
  secrets: Secrets;
}

const loaded = new WeakMap<FastifyRequest, Promise<LoadedChannel>>();

/**
 * The channel named by the `:routeKey` path segment, with its secrets
 * decrypted; loaded once per request (hooks and handler share it). A key of
 * another provider's channel answers 404 like an unknown key.
 */
export function channelOf(
  deps: AppDeps,
  request: FastifyRequest,
  provider: Provider,
): Promise<LoadedChannel> {
  let pending = loaded.get(request);
  if (!pending) {
    pending = load(deps, request, provider);
    loaded.set(request, pending);
  }
  return pending;
}

async function load(
  deps: AppDeps,
  request: FastifyRequest,
  provider: Provider,
): Promise<LoadedChannel> {
  const routeKey = (request.params as { routeKey?: string }).routeKey ?? '';
  const row = /^[A-Za-z0-9_-]{1,64}$/.test(routeKey)
    ? await findChannelByRouteKey(deps.database.db, routeKey)
    : undefined;
  if (!row || CHANNEL_SPECS[row.type].provider !== provider) throw notFound('Channel');
  return { row, secrets: vaultFor(deps.config, deps.database).decrypt(row.id, row.credentials) };
}

/**
 * An onRequest hook: a callback to an unknown channel is refused (404)
 * before its body is read.
 */
export function knownChannel(deps: AppDeps, provider: Provider) {
  return async (request: FastifyRequest): Promise<void> => {
    await channelOf(deps, request, provider);
  };
}

/** No credential at all: 401, as for a missing API key. */
export function missingCredential(what: string): AppError {
  return new AppError('unauthorized', `Missing ${what}.`);
}

/** A credential that does not verify, or a stale one: 403. */
export function badCredential(what: string): AppError {
  return new AppError('forbidden', `The ${what} does not verify.`);
}

/** Constant-time string comparison; hashing first makes unequal lengths take the same path. */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/** How far a signed timestamp may be from now, either way (provider queues lag; clocks drift). */
export const REPLAY_WINDOW_MS = 10 * 60_000;

/** A signed Unix-seconds timestamp within the replay window of now. */
export function isFresh(clock: Clock, seconds: string): boolean {
  if (!/^\d{1,12}$/.test(seconds)) return false;
  return Math.abs(clock.now() - Number(seconds) * 1000) <= REPLAY_WINDOW_MS;
}

/**
 * Records a provider event key in the caller's transaction. False when the
 * key was already there: the event is a retry or a replay and must change
 * nothing. Rolled back with the transaction, so a failed attempt can be retried.
 */
export async function firstSeen(
  trx: Executor,
  clock: Clock,
  channel: ChannelsTable,
  dedupeKey: string,
): Promise<boolean> {
  const inserted = await trx
    .insertInto('provider_events')
    .values({
      channel_id: channel.id,
      // Long provider ids are hashed so the key fits any index.
      dedupe_key: dedupeKey.length > 200 ? sha256Hex(dedupeKey) : dedupeKey,
      organization_id: channel.organization_id,
      received_at: clock.now(),
    })
    .onConflict((oc) => oc.doNothing())
    .returning('channel_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/**
 * How long an event key is kept at least, whatever HOOKDESK_RETENTION_DAYS
 * says: longer than any provider retries a delivery (Meta: 7 days), so a
 * late retry is still recognised.
 */
export const MIN_DEDUPE_DAYS = 8;

/** Deletes up to `batchSize` event keys received before `before`; returns how many. */
export async function pruneProviderEvents(
  db: Executor,
  before: number,
  batchSize = 1000,
): Promise<number> {
  const result = await sql`
    delete from provider_events where (channel_id, dedupe_key) in (
      select channel_id, dedupe_key from provider_events
      where received_at < ${before} limit ${batchSize}
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
