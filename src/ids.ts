import { v7 } from 'uuid';

/**
 * Ids are UUIDv7: random enough to be unguessable across tenants, and ordered
 * by creation time, so "newest first" and cursor pagination are an index scan
 * on the primary key.
 */
export function newId(): string {
  return v7();
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}
