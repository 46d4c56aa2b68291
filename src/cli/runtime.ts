/**
 * Process start-up shared by every CLI command: open the database, migrate
 * (and bootstrap the default organization) under the migration lock.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DatabaseHandle, OpenOptions } from '../db/dialect.js';
import { migrate, type MigrateResult } from '../db/migrate.js';
import { openDatabase } from '../db/open.js';
import { bootstrapDefaultOrganization, type BootstrapResult } from '../orgs/organizations.js';
import { databaseStartupError } from './startup-errors.js';

export interface Prepared {
  database: DatabaseHandle;
  migrations: MigrateResult;
  bootstrap: BootstrapResult;
}

export async function prepareDatabase(
  config: Config,
  clock: Clock,
  options: OpenOptions = {},
): Promise<Prepared> {
  const database = openDatabase(config.databaseUrl, options);
  try {
    let bootstrap: BootstrapResult = { created: null, generatedKey: false };
    const migrations = await migrate(database, clock, async (trx) => {
      bootstrap = await bootstrapDefaultOrganization(trx, clock, config.bootstrapApiKey);
    });
    return { database, migrations, bootstrap };
  } catch (error) {
    await database.close();
    // The first query is the first connection: an unreachable server or a bad login shows here.
    throw databaseStartupError(error, config.databaseUrl);
  }
}
