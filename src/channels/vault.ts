/**
 * Channel credentials at rest: AES-256-GCM (node:crypto) under one 32-byte
 * key. The key comes from HOOKDESK_ENCRYPTION_KEY; without it, a SQLite
 * database gets a key file beside it (`<database>.key`, mode 0600), created on
 * first use, and an in-memory database an in-memory key (its data dies with
 * the process anyway). A PostgreSQL database has no "beside": several
 * machines share it, and a key kept on one of them would strand the others,
 * so storing credentials there needs the variable (409 until it is set).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/dialect.js';
import { AppError } from '../errors.js';

/** Stored form: `v1.<base64 iv>.<base64 tag>.<base64 ciphertext>`; the version allows a later change of scheme. */
const VERSION = 'v1';
const IV_BYTES = 12;

export type Secrets = Record<string, string>;

export class CredentialVault {
  private key: Buffer | null | undefined;

  constructor(
    private readonly configuredKey: Buffer | undefined,
    private readonly localFile: string | undefined,
  ) {}

  /**
   * Encrypts the secrets of one channel. The channel id is authenticated data:
   * a ciphertext copied onto another channel's row fails to decrypt.
   */
  encrypt(channelId: string, secrets: Secrets): string {
    const key = this.requireKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(channelId, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join(
      '.',
    );
  }

  decrypt(channelId: string, stored: string): Secrets {
    const key = this.requireKey();
    const [version, iv, tag, body] = stored.split('.');
    try {
      if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('bad format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAAD(Buffer.from(channelId, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      const text = Buffer.concat([
        decipher.update(Buffer.from(body, 'base64')),
        decipher.final(),
      ]).toString('utf8');
      return JSON.parse(text) as Secrets;
    } catch (error) {
      // A wrong key is an operator problem the provider cannot fix: 503 makes it retry later.
      throw new AppError(
        'service_unavailable',
        'Channel credentials cannot be decrypted: HOOKDESK_ENCRYPTION_KEY is not the key they were stored with.',
        [],
        { cause: error },
      );
    }
  }

  private requireKey(): Buffer {
    if (this.key === undefined) this.key = this.resolveKey();
    if (this.key === null) {
      throw new AppError(
        'conflict',
        'Channel credentials are encrypted at rest: set HOOKDESK_ENCRYPTION_KEY (32 bytes, hex or base64) on every Hookdesk process sharing this PostgreSQL database, then retry.',
      );
    }
    return this.key;
  }

  private resolveKey(): Buffer | null {
    if (!hasKeySource(this.configuredKey, this.localFile)) return null;
    if (this.configuredKey) return this.configuredKey;
    if (this.localFile === undefined) return null;
    if (this.localFile === ':memory:') return randomBytes(32);
    return readOrCreateKeyFile(`${this.localFile}.key`);
  }
}

/**
 * Written to a temporary file, then hard-linked into place: the link either
 * appears complete or fails with EEXIST, so processes starting together all
 * read the one key that won, never a half-written file.
 */
export function readOrCreateKeyFile(path: string): Buffer {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte base64 key`);
  return key;
}

/**
 * Whether channel credentials can be stored at all: a configured key, or a
 * SQLite database to keep a key file beside. False means PostgreSQL without
 * HOOKDESK_ENCRYPTION_KEY (channels answer 409; start-up warns).
 */
export function hasKeySource(
  configuredKey: Buffer | undefined,
  localFile: string | undefined,
): boolean {
  return configuredKey !== undefined || localFile !== undefined;
}

const vaults = new WeakMap<DatabaseHandle, CredentialVault>();

/** One vault per database handle, so the API and the provider endpoints share one key. */
export function vaultFor(config: Config, database: DatabaseHandle): CredentialVault {
  let vault = vaults.get(database);
  if (!vault) {
    vault = new CredentialVault(config.encryptionKey, database.localFile);
    vaults.set(database, vault);
  }
  return vault;
}
