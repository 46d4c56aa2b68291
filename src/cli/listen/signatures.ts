/**
 * The signature verdict `hookdesk listen` prints, and on which it decides
 * whether to forward. Both headers Hookdesk signs are checked when present:
 * `X-Webhook-Signature` and the Standard Webhooks `webhook-signature`. A
 * request is valid when at least one was sent and every one sent matches.
 */
import { verifyStandardSignature } from '../../delivery/standard-verify.js';
import { verifyWebhookSignature } from '../../delivery/signature.js';

export interface SignedHeaders {
  xWebhookSignature?: string | undefined;
  webhookSignature?: string | undefined;
  webhookId?: string | undefined;
  webhookTimestamp?: string | undefined;
}

export type Verdict =
  | { kind: 'not checked' }
  | { kind: 'none sent' }
  | { kind: 'valid'; checked: string[] }
  | { kind: 'INVALID'; reasons: string[] };

const MISMATCH = 'does not match the body and --secret';

export function checkSignatures(
  secret: string | undefined,
  body: Buffer,
  h: SignedHeaders,
): Verdict {
  if (secret === undefined) return { kind: 'not checked' };
  if (h.xWebhookSignature === undefined && h.webhookSignature === undefined)
    return { kind: 'none sent' };
  const checked: string[] = [];
  const reasons: string[] = [];
  if (h.xWebhookSignature !== undefined) {
    if (verifyWebhookSignature(secret, body, h.xWebhookSignature))
      checked.push('X-Webhook-Signature');
    else reasons.push(`X-Webhook-Signature ${MISMATCH}`);
  }
  if (h.webhookSignature !== undefined) {
    if (h.webhookId === undefined || h.webhookTimestamp === undefined)
      reasons.push('webhook-signature came without webhook-id or webhook-timestamp');
    else if (
      verifyStandardSignature(secret, h.webhookId, h.webhookTimestamp, body, h.webhookSignature)
    )
      checked.push('webhook-signature');
    else reasons.push(`webhook-signature ${MISMATCH} (with webhook-id and webhook-timestamp)`);
  }
  return reasons.length > 0 ? { kind: 'INVALID', reasons } : { kind: 'valid', checked };
}

/** The `signature:` line's text. */
export function describeVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'not checked':
      return 'not checked (no --secret)';
    case 'none sent':
      return 'none sent';
    case 'valid':
      return `valid (${v.checked.join(', ')})`;
    case 'INVALID':
      return `INVALID: ${v.reasons.join('; ')}`;
  }
}
