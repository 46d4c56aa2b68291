/**
 * An organization's own settings: its name and how inbound email is handled
 * (what unmatched mail does, and the optional token the public inbound
 * endpoint then requires). The token is stored only as a SHA-256 hash, like
 * API keys: it is at least 20 characters chosen by an admin, and a slow hash
 * would only add latency to every inbound email.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, InboundUnmatched } from '../db/schema.js';
import { notFound } from '../errors.js';

export interface OrganizationSettings {
  id: string;
  name: string;
  inboundUnmatched: InboundUnmatched;
  inboundTokenHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface OrganizationSettingsPatch {
  name?: string | undefined;
  inboundEmail?:
    | {
        unmatched?: InboundUnmatched | undefined;
        /** A new token, or null to stop requiring one. */
        token?: string | null | undefined;
      }
    | undefined;
}

function hashInboundToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Whether `given` is the organization's token. Both sides are hashed first,
 * so the comparison is constant-time over equal-length digests whatever was
 * sent.
 */
export function inboundTokenMatches(tokenHash: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const expected = Buffer.from(tokenHash, 'hex');
  const actual = Buffer.from(hashInboundToken(given), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export async function findOrganizationSettings(
  db: Executor,
  organizationId: string,
): Promise<OrganizationSettings | undefined> {
  const row = await db
    .selectFrom('organizations')
    .select(['id', 'name', 'inbound_unmatched', 'inbound_token_hash', 'created_at', 'updated_at'])
    .where('id', '=', organizationId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    inboundUnmatched: row.inbound_unmatched,
    inboundTokenHash: row.inbound_token_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function getOrganizationSettings(
  db: Executor,
  organizationId: string,
): Promise<OrganizationSettings> {
  const settings = await findOrganizationSettings(db, organizationId);
  if (!settings) throw notFound('Organization');
  return settings;
}

/** Applies a partial change; a patch that changes nothing writes nothing. */
export async function updateOrganizationSettings(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  patch: OrganizationSettingsPatch,
): Promise<OrganizationSettings> {
  const current = await getOrganizationSettings(trx, organizationId);
  const token = patch.inboundEmail?.token;
  const next: OrganizationSettings = {
    ...current,
    name: patch.name ?? current.name,
    inboundUnmatched: patch.inboundEmail?.unmatched ?? current.inboundUnmatched,
    inboundTokenHash:
      token === undefined
        ? current.inboundTokenHash
        : token === null
          ? null
          : hashInboundToken(token),
  };
  if (
    next.name === current.name &&
    next.inboundUnmatched === current.inboundUnmatched &&
    next.inboundTokenHash === current.inboundTokenHash
  ) {
    return current;
  }
  next.updatedAt = clock.now();
  await trx
    .updateTable('organizations')
    .set({
      name: next.name,
      inbound_unmatched: next.inboundUnmatched,
      inbound_token_hash: next.inboundTokenHash,
      updated_at: next.updatedAt,
    })
    .where('id', '=', organizationId)
    .execute();
  return next;
}

/** The wire shape of `GET/PATCH /api/organization`; the token itself is never shown. */
export function toOrganizationDto(s: OrganizationSettings) {
  return {
    id: s.id,
    name: s.name,
    inboundEmail: { unmatched: s.inboundUnmatched, tokenSet: s.inboundTokenHash !== null },
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}
