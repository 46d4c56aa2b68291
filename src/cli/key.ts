/**
 * `hookdesk key create`: a new API key for an existing organization, so a
 * lost bootstrap key can be replaced without touching any data. The key acts
 * as the organization's first user of the requested role (the oldest admin
 * cannot be deleted while it is the last one, so an admin always exists).
 */
import type { Clock } from '../clock.js';
import type { Db, Executor, Role } from '../db/schema.js';
import { insertApiKey } from '../api-keys/api-keys.repository.js';
import { isUuid } from '../ids.js';

/** A mistake on the command line: printed as one line, exit code 1. */
export class UsageError extends Error {}

export interface KeyCreateOptions {
  org: string;
  role: Role;
  name: string;
}

export interface CreatedKey {
  organizationId: string;
  userId: string;
  role: Role;
  apiKeyId: string;
  apiKey: string;
}

const LISTED = 5;

export function parseRole(value: string): Role {
  if (value === 'admin' || value === 'agent') return value;
  throw new UsageError(`--role must be admin or agent, not "${value}"`);
}

export async function createKeyForOrganization(
  db: Db,
  clock: Clock,
  opts: KeyCreateOptions,
): Promise<CreatedKey> {
  return db.transaction().execute(async (trx) => {
    // Ids are UUIDs (PostgreSQL compares them as uuid), so anything else can only be a name.
    const matches = await trx
      .selectFrom('organizations')
      .select(['id', 'name'])
      .where((eb) =>
        isUuid(opts.org)
          ? eb.or([eb('id', '=', opts.org.toLowerCase()), eb('name', '=', opts.org)])
          : eb('name', '=', opts.org),
      )
      .orderBy('id')
      .limit(LISTED + 1)
      .execute();
    if (matches.length === 0) throw new UsageError(await unknownOrganization(trx, opts.org));
    const exact = matches.find((m) => m.id === opts.org.toLowerCase());
    if (!exact && matches.length > 1) {
      throw new UsageError(
        `several organizations are named "${opts.org}"; pass one id with --org: ${list(matches)}`,
      );
    }
    const organizationId = (exact ?? matches[0]!).id;
    const user = await trx
      .selectFrom('users')
      .select('id')
      .where('organization_id', '=', organizationId)
      .where('role', '=', opts.role)
      .orderBy('created_at')
      .orderBy('id')
      .executeTakeFirst();
    if (!user) {
      throw new UsageError(
        `organization ${organizationId} has no ${opts.role} user; add one with POST /api/users or use --role admin`,
      );
    }
    const { row, key } = await insertApiKey(trx, clock, {
      organizationId,
      userId: user.id,
      name: opts.name,
    });
    return { organizationId, userId: user.id, role: opts.role, apiKeyId: row.id, apiKey: key };
  });
}

/** There is no `org list` command, so the error names the organizations that exist. */
async function unknownOrganization(db: Executor, org: string): Promise<string> {
  const rows = await db
    .selectFrom('organizations')
    .select(['id', 'name'])
    .orderBy('id')
    .limit(LISTED + 1)
    .execute();
  return rows.length === 0
    ? `no organization "${org}": the database has none yet; create one with \`hookdesk org create\``
    : `no organization with id or name "${org}"; pass one of: ${list(rows)}`;
}

function list(rows: { id: string; name: string }[]): string {
  const shown = rows.slice(0, LISTED).map((r) => `${r.id} (${JSON.stringify(r.name)})`);
  return shown.join(', ') + (rows.length > LISTED ? ', …' : '');
}
