import type { Clock } from '../clock.js';
import type { Executor } from '../db/schema.js';

/** Unassigns every ticket of a user who is being deleted, raising the usual events. */
export async function unassignTicketsOf(
  _trx: Executor,
  _clock: Clock,
  _organizationId: string,
  _userId: string,
): Promise<void> {
  throw new Error('not implemented');
}
