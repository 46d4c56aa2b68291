/**
 * Creating and changing channels: credentials are checked against the type's
 * fields, split into shown settings (`config`) and secrets, and the secrets
 * are encrypted before they reach the database. Secrets leave only as the
 * callback URLs that embed them, in the answer to the request that set them.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { ChannelType, ChannelsTable, Executor } from '../db/schema.js';
import { Problems } from '../errors.js';
import { newId } from '../ids.js';
import { CHANNEL_SPECS, callbackUrls, configFlag, type ChannelTypeSpec } from './channel-types.js';
import { getChannel, insertChannel, updateChannelRow } from './channels.repository.js';
import type { ChannelDto } from './channels.schemas.js';
import type { CredentialVault, Secrets } from './vault.js';

export type CredentialInput = Record<string, string | null>;

export interface NewChannel {
  type: ChannelType;
  name: string;
  credentials?: CredentialInput | undefined;
}

export interface ChannelPatch {
  name?: string | undefined;
  credentials?: CredentialInput | undefined;
}

/** A channel row and the secrets to embed in the URLs of this one answer. */
export interface ChannelResult {
  row: ChannelsTable;
  reveal: Secrets | undefined;
}

/** Non-secret settings, plus a `has<Field>` flag per optional secret (set or not, never its value). */
type Settings = Record<string, string | boolean>;

/**
 * Checks given credential values and merges them over the current ones.
 * `null` removes an optional field. On create every required field must be present.
 */
function mergeCredentials(
  spec: ChannelTypeSpec,
  input: CredentialInput,
  current: { config: Settings; secrets: Secrets } | null,
): { config: Settings; secrets: Secrets } {
  const problems = new Problems();
  const config: Settings = { ...current?.config };
  const secrets: Secrets = { ...current?.secrets };
  const known = new Set(spec.fields.map((f) => f.name));
  for (const key of Object.keys(input)) {
    if (!known.has(key)) problems.add(`credentials.${key}`, 'is not a known field');
  }
  for (const field of spec.fields) {
    const target = field.secret ? secrets : config;
    const given = input[field.name];
    if (given === undefined) {
      if (!current && !field.optional) problems.add(`credentials.${field.name}`, 'is required');
      continue;
    }
    if (given === null) {
      if (field.optional) delete target[field.name];
      else problems.add(`credentials.${field.name}`, 'is required and cannot be removed');
      continue;
    }
    const parsed = field.parse(given);
    if (typeof parsed === 'string') target[field.name] = parsed;
    else problems.add(`credentials.${field.name}`, parsed.problem);
  }
  problems.throwIfAny();
  for (const field of spec.fields) {
    if (field.secret && field.optional) config[configFlag(field.name)] = field.name in secrets;
  }
  return { config, secrets };
}

export async function createChannel(
  trx: Executor,
  clock: Clock,
  vault: CredentialVault,
  organizationId: string,
  input: NewChannel,
): Promise<ChannelResult> {
  const spec = CHANNEL_SPECS[input.type];
  const { config, secrets } = mergeCredentials(spec, input.credentials ?? {}, null);
  Object.assign(secrets, spec.generate?.());
  const id = newId();
  const now = clock.now();
  const row: ChannelsTable = {
    id,
    organization_id: organizationId,
    type: input.type,
    name: input.name,
    route_key: randomBytes(18).toString('base64url'),
    config: JSON.stringify(config),
    credentials: vault.encrypt(id, secrets),
    created_at: now,
    updated_at: now,
  };
  await insertChannel(trx, row);
  return { row, reveal: secrets };
}

export async function updateChannel(
  trx: Executor,
  clock: Clock,
  vault: CredentialVault,
  organizationId: string,
  id: string,
  patch: ChannelPatch,
): Promise<ChannelResult> {
  const current = await getChannel(trx, organizationId, id);
  if (patch.credentials === undefined) {
    if (patch.name === undefined || patch.name === current.name) {
      return { row: current, reveal: undefined };
    }
    const row = { ...current, name: patch.name, updated_at: clock.now() };
    await updateChannelRow(trx, organizationId, id, changeOf(row));
    return { row, reveal: undefined };
  }
  const spec = CHANNEL_SPECS[current.type];
  const { config, secrets } = mergeCredentials(spec, patch.credentials, {
    config: parseConfig(current),
    secrets: vault.decrypt(current.id, current.credentials),
  });
  const row: ChannelsTable = {
    ...current,
    name: patch.name ?? current.name,
    config: JSON.stringify(config),
    credentials: vault.encrypt(current.id, secrets),
    updated_at: clock.now(),
  };
  await updateChannelRow(trx, organizationId, id, changeOf(row));
  // Only what this request itself set is echoed back inside the URLs.
  const given = Object.fromEntries(
    Object.entries(patch.credentials).filter((e): e is [string, string] => e[1] !== null),
  );
  return { row, reveal: given };
}

function changeOf(row: ChannelsTable) {
  const { name, config, credentials, updated_at } = row;
  return { name, config, credentials, updated_at };
}

export function parseConfig(row: ChannelsTable): Settings {
  return JSON.parse(row.config) as Settings;
}

/** The wire shape; `config` is stored already stripped of secrets. */
export function toChannelDto(row: ChannelsTable, publicUrl: string, reveal?: Secrets): ChannelDto {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    config: parseConfig(row),
    callbackUrls: callbackUrls(publicUrl, row.type, row.route_key, reveal),
    createdAt: iso(row.created_at),
  };
}
