import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CredentialVault, readOrCreateKeyFile } from '../src/channels/vault.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { redactUrl } from '../src/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'hookdesk-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : 'other';
  }
  return undefined;
}

describe('credential vault (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const vault = new CredentialVault(key, undefined);
  const secrets = { authToken: 'tok-secret', appSecret: 'app-secret' };

  it('round-trips, with a fresh IV each time and no secret in the stored text', () => {
    const a = vault.encrypt('channel-1', secrets);
    const b = vault.encrypt('channel-1', secrets);
    expect(a).not.toBe(b);
    expect(a).not.toContain('tok-secret');
    expect(Buffer.from(a.split('.')[3]!, 'base64').toString('latin1')).not.toContain('tok-secret');
    expect(vault.decrypt('channel-1', a)).toEqual(secrets);
  });

  it('refuses another channel’s ciphertext, another key and any tampering (503, not garbage)', () => {
    const stored = vault.encrypt('channel-1', secrets);
    expect(codeOf(() => vault.decrypt('channel-2', stored))).toBe('service_unavailable');
    expect(
      codeOf(() => new CredentialVault(randomBytes(32), undefined).decrypt('channel-1', stored)),
    ).toBe('service_unavailable');
    const [v, iv, tag, body] = stored.split('.');
    const flipped = Buffer.from(body!, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    expect(
      codeOf(() => vault.decrypt('channel-1', [v, iv, tag, flipped.toString('base64')].join('.'))),
    ).toBe('service_unavailable');
    expect(codeOf(() => vault.decrypt('channel-1', 'plain text'))).toBe('service_unavailable');
  });

  it('without a configured key: a key file beside SQLite, memory for :memory:, 409 for a server', () => {
    const database = join(dir, 'hookdesk.db');
    const fileVault = new CredentialVault(undefined, database);
    const stored = fileVault.encrypt('c', secrets);
    expect(statSync(`${database}.key`).mode & 0o777).toBe(0o600);
    // Another process (another vault) on the same database reads the same key.
    expect(new CredentialVault(undefined, database).decrypt('c', stored)).toEqual(secrets);
    expect(new CredentialVault(undefined, ':memory:').encrypt('c', secrets)).toMatch(/^v1\./);
    expect(codeOf(() => new CredentialVault(undefined, undefined).encrypt('c', secrets))).toBe(
      'conflict',
    );
  });

  it('keeps the first key file written and rejects a damaged one', () => {
    const path = join(dir, 'race.key');
    const first = readOrCreateKeyFile(path);
    expect(readOrCreateKeyFile(path).equals(first)).toBe(true);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.toString('base64'));
    const damaged = join(dir, 'damaged.key');
    writeFileSync(damaged, 'short');
    expect(() => readOrCreateKeyFile(damaged)).toThrow(/32-byte/);
  });
});

describe('HOOKDESK_ENCRYPTION_KEY', () => {
  const key = randomBytes(32);
  const load = (value: string) => loadConfig({ HOOKDESK_ENCRYPTION_KEY: value });

  it('takes 32 bytes as hex, base64 or base64url', () => {
    expect(load(key.toString('hex')).encryptionKey?.equals(key)).toBe(true);
    expect(load(key.toString('base64')).encryptionKey?.equals(key)).toBe(true);
    expect(load(key.toString('base64url')).encryptionKey?.equals(key)).toBe(true);
    expect(loadConfig({}).encryptionKey).toBeUndefined();
  });

  it('stops on anything else, naming the variable', () => {
    for (const bad of [
      'abc',
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      'z'.repeat(64),
    ]) {
      try {
        load(bad);
        expect.unreachable(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).variable).toBe('HOOKDESK_ENCRYPTION_KEY');
      }
    }
  });
});

describe('request logs', () => {
  it('redact secret query parameters and leave other URLs alone', () => {
    expect(redactUrl('/a/b?token=s3cret&x=1')).toBe('/a/b?token=[redacted]&x=1');
    // Names are judged decoded, as the router reads them; the spelling is kept.
    for (const name of ['%74oken', '%74%6F%6B%65%6E', 'tok%65n', 'to%6ben']) {
      expect(redactUrl(`/a?x=1&${name}=s3cret`)).toBe(`/a?x=1&${name}=[redacted]`);
    }
    expect(redactUrl('/a?token=s3cret&token=again')).toBe('/a?token=[redacted]&token=[redacted]');
    expect(redactUrl('/a#&token=s3cret')).not.toContain('s3cret');
    expect(redactUrl('/a?hub%2Everify_token=v&x=%ZZ')).toBe(
      '/a?hub%2Everify_token=[redacted]&x=%ZZ',
    );
    expect(redactUrl('/m?hub.mode=subscribe&hub.verify_token=v&hub.challenge=1')).not.toContain(
      '=v&',
    );
    expect(redactUrl('/api/tickets?limit=5&cursor=abc')).toBe('/api/tickets?limit=5&cursor=abc');
    expect(redactUrl('/plain')).toBe('/plain');
  });
});
