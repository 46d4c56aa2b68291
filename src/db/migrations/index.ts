/**
 * The ordered, append-only list of migrations. One source serves both
 * dialects: column types come from `ColumnTypes`. Never edit a migration that
 * has shipped; add the next one.
 */
import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../dialect.js';
import { core } from './0001_core.js';
import { webhooks } from './0002_webhooks.js';
import { jobs } from './0003_jobs.js';
import { email } from './0004_email.js';
import { channels } from './0005_channels.js';
import { sla } from './0006_sla.js';
import { queueIndexes } from './0007_queue_indexes.js';
import { providerEventsAge } from './0008_provider_events_age.js';
import { receiverContract } from './0009_receiver_contract.js';
import { receiverContract2 } from './0010_receiver_contract_2.js';

export interface Migration {
  readonly name: string;
  // Migrations see the schema as it was when they were written, not today's types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  up(db: Kysely<any>, t: ColumnTypes): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  core,
  webhooks,
  jobs,
  email,
  channels,
  sla,
  queueIndexes,
  providerEventsAge,
  receiverContract,
  receiverContract2,
];
