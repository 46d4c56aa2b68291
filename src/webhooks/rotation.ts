/**
 * Rotating a webhook's signing secret (docs/api.md, "Rotating a secret"): the
 * new secret signs at once, and the one it replaces keeps signing beside it
 * for the overlap, so receivers can switch without refusing a delivery. At
 * most two secrets sign: a rotation during an overlap drops the older one.
 * The new secret is answered once, here, and never shown again.
 */
import type { Clock } from '../clock.js';
import { dialectOf } from '../db/registry.js';
import type { Executor } from '../db/schema.js';
import { invalid } from '../errors.js';
import { generateSecret } from './secrets.js';
import type { RotateInput } from './webhooks.input.js';
import { getWebhookInScope, type WebhookScope } from './webhooks.repository.js';

const HOUR_MS = 3_600_000;

export interface Rotated {
  secret: string;
  /** Epoch ms; null when the replaced secret does not sign (no overlap, or none). */
  previousSecretExpiresAt: number | null;
}

export async function rotateSecret(
  trx: Executor,
  clock: Clock,
  scope: WebhookScope,
  id: string,
  input: RotateInput,
): Promise<Rotated> {
  // Locked where writers are concurrent: of two rotations at once, the second
  // must see the first's secret, or the first's answer would name a secret
  // that never signs.
  const current = await getWebhookInScope(trx, scope, id, {
    lock: dialectOf(trx).capabilities.concurrentWriters,
  });
  if (input.secret !== null && input.secret === current.secret) {
    throw invalid('secret', 'is the current secret; a rotation needs a new one');
  }
  const now = clock.now();
  const secret = input.secret ?? generateSecret();
  const overlap = current.secret !== null && input.overlapHours > 0;
  const previousSecretExpiresAt = overlap ? now + input.overlapHours * HOUR_MS : null;
  await trx
    .updateTable('webhooks')
    .set({
      secret,
      previous_secret: overlap ? current.secret : null,
      previous_secret_expires_at: previousSecretExpiresAt,
      updated_at: now,
    })
    .where('id', '=', current.id)
    .execute();
  return { secret, previousSecretExpiresAt };
}
