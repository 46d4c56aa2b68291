/**
 * Creating an API key, shared by `POST /api/api-keys` and `hookdesk key
 * create`: the plain key is returned once to the caller and only its hash is
 * stored.
 */
import type { Clock } from '../clock.js';
import type { ApiKeysTable, Executor } from '../db/schema.js';
import { newId } from '../ids.js';
import { displayPrefix, generateApiKey, hashApiKey } from './keys.js';

export interface NewApiKey {
  organizationId: string;
  /** The user the key acts as; the caller checks it belongs to the organization. */
  userId: string;
  name: string;
}

export async function insertApiKey(
  trx: Executor,
  clock: Clock,
  input: NewApiKey,
): Promise<{ row: ApiKeysTable; key: string }> {
  const key = generateApiKey();
  const row: ApiKeysTable = {
    id: newId(),
    organization_id: input.organizationId,
    user_id: input.userId,
    name: input.name,
    prefix: displayPrefix(key),
    key_hash: hashApiKey(key),
    created_at: clock.now(),
    last_used_at: null,
    revoked_at: null,
  };
  await trx.insertInto('api_keys').values(row).execute();
  return { row, key };
}
