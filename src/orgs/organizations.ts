/**
 * Organizations and their first admin. Used by `hookdesk org create` and by
 * the first-start bootstrap.
 */
import type { Clock } from '../clock.js';
import type { Executor } from '../db/schema.js';
import { newId } from '../ids.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../api-keys/keys.js';

export interface NewOrganization {
  name: string;
  adminEmail: string;
  adminName?: string;
  /** Use this key instead of generating one (bootstrap with HOOKDESK_BOOTSTRAP_API_KEY). */
  apiKey?: string;
}

export interface CreatedOrganization {
  organizationId: string;
  adminUserId: string;
  /** Shown once; only its hash is stored. */
  apiKey: string;
}

export async function createOrganization(
  trx: Executor,
  clock: Clock,
  input: NewOrganization,
): Promise<CreatedOrganization> {
  const now = clock.now();
  const organizationId = newId();
  const adminUserId = newId();
  const apiKey = input.apiKey ?? generateApiKey();
  await trx
    .insertInto('organizations')
    .values({
      id: organizationId,
      name: input.name,
      ticket_counter: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await trx
    .insertInto('users')
    .values({
      id: adminUserId,
      organization_id: organizationId,
      email: input.adminEmail.toLowerCase(),
      name: input.adminName ?? input.adminEmail,
      role: 'admin',
      created_at: now,
      updated_at: now,
    })
    .execute();
  await trx
    .insertInto('api_keys')
    .values({
      id: newId(),
      organization_id: organizationId,
      user_id: adminUserId,
      name: 'Initial admin key',
      prefix: displayPrefix(apiKey),
      key_hash: hashApiKey(apiKey),
      created_at: now,
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return { organizationId, adminUserId, apiKey };
}

export interface BootstrapResult {
  created: CreatedOrganization | null;
  /** True when the key was generated here and must be shown to the operator once. */
  generatedKey: boolean;
}

/** On an empty database, creates the default organization. Runs under the migration lock. */
export async function bootstrapDefaultOrganization(
  trx: Executor,
  clock: Clock,
  bootstrapApiKey: string | undefined,
): Promise<BootstrapResult> {
  const any = await trx.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
  if (any) return { created: null, generatedKey: false };
  const created = await createOrganization(trx, clock, {
    name: 'Default organization',
    adminEmail: 'admin@hookdesk.localhost',
    adminName: 'Admin',
    ...(bootstrapApiKey ? { apiKey: bootstrapApiKey } : {}),
  });
  return { created, generatedKey: bootstrapApiKey === undefined };
}
