/**
 * Bearer API-key authentication for the management API. The key's hash is
 * looked up; the request then acts as the key's user, inside the key's
 * organization (`authOf` in src/http/auth.ts reads it back).
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import type { AppDeps } from '../http/deps.js';
import type { Auth } from '../http/auth.js';
import { hashApiKey } from './keys.js';

/** `last_used_at` is refreshed at most this often, so reads stay reads. */
const LAST_USED_GRANULARITY_MS = 60_000;

export function installAuth(app: FastifyInstance, deps: AppDeps): void {
  const { db } = deps.database;
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1])
      throw new AppError('unauthorized', 'Missing "Authorization: Bearer <api key>" header.');
    const row = await db
      .selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.user_id')
      .select([
        'api_keys.id as apiKeyId',
        'api_keys.organization_id as organizationId',
        'api_keys.user_id as userId',
        'api_keys.last_used_at as lastUsedAt',
        'users.role as role',
      ])
      .where('api_keys.key_hash', '=', hashApiKey(match[1]))
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw new AppError('unauthorized', 'The API key is not valid or has been revoked.');
    const now = deps.clock.now();
    if (row.lastUsedAt === null || now - row.lastUsedAt > LAST_USED_GRANULARITY_MS) {
      await db
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('id', '=', row.apiKeyId)
        .execute();
    }
    const auth: Auth = {
      organizationId: row.organizationId,
      userId: row.userId,
      role: row.role,
      apiKeyId: row.apiKeyId,
    };
    request.auth = auth;
    if (request.routeOptions.config.adminOnly && row.role !== 'admin') {
      throw new AppError('forbidden', 'This endpoint needs an admin API key.');
    }
  });
}
