/**
 * RFC 5322 Message-IDs as Hookdesk stores them. `messages.email_message_id`
 * holds the bracketed form `<id@host>`; `provider_message_id` of SMTP email
 * holds the same id without brackets (docs/providers.md, "Outgoing ticket email").
 * Input arrives either way, so every id is normalized here before it is
 * compared or stored.
 */
import { randomUUID } from 'node:crypto';

/** Longest id kept; RFC 5322 lines are at most 998 characters. */
const MAX_ID_LENGTH = 998;

/**
 * The id without brackets or surrounding whitespace, or null when nothing
 * usable is left (empty, inner whitespace, or too long).
 */
export function bareMessageId(raw: string | null | undefined): string | null {
  if (raw == null) return null;
  let id = raw.trim();
  if (id.startsWith('<') && id.endsWith('>')) id = id.slice(1, -1).trim();
  if (id === '' || id.length > MAX_ID_LENGTH || /[\s<>]/.test(id)) return null;
  return id;
}

/** The stored, bracketed form of an id, or null when it is not usable. */
export function bracketed(raw: string | null | undefined): string | null {
  const id = bareMessageId(raw);
  return id === null ? null : `<${id}>`;
}

/**
 * The ids of a `References` (or `In-Reply-To`) value: bracketed ids
 * separated by whitespace or commas, or bare ids separated by whitespace.
 * Order is kept, repeats dropped.
 */
export function parseReferences(value: string | readonly string[] | null | undefined): string[] {
  if (value == null) return [];
  const parts = typeof value === 'string' ? [value] : value;
  const ids: string[] = [];
  for (const part of parts) {
    const found = part.match(/<[^<>\s]+>/g) ?? part.split(/[\s,]+/);
    for (const token of found) {
      const id = bracketed(token);
      if (id !== null && !ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}

/**
 * A new Hookdesk Message-ID `<uuid@domain>`. The random (v4) UUID makes it
 * unguessable, which matters because the public delivery-status endpoint
 * finds messages by this id alone.
 */
export function newMessageId(domain: string): string {
  return `<${randomUUID()}@${domain}>`;
}

/** The domain of Hookdesk's Message-IDs: the host of HOOKDESK_PUBLIC_URL. */
export function messageIdDomain(publicUrl: string): string {
  return new URL(publicUrl).hostname || 'localhost';
}
