/**
 * API keys are 32 random bytes behind a recognisable prefix (`hdk_`, so secret
 * scanners can find leaked ones). Only a SHA-256 hash is stored: the key has
 * 256 bits of entropy, so a slow password hash would add nothing but latency
 * to every request.
 */
import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'hdk_';
/** Characters of the key shown in lists. */
const DISPLAY_PREFIX_LENGTH = 12;

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}
