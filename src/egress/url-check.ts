/**
 * Static checks at webhook create/update time (docs/security.md, "Receivers").
 * Every reason is a short sentence, because the API returns it to the user in
 * a 400; a refusal the operator can lift ends with the setting that lifts it
 * (hints.ts).
 */
import type { DetailCode } from '../errors.js';
import { effectivePort, hostRefusal, plainHttpHint } from './destination.js';
import type { EgressPolicy } from './policy.js';

/** `code` tells the refusals apart for clients; `reason` is the sentence shown to the user. */
export type WebhookUrlCheck =
  { ok: true; url: URL } | { ok: false; reason: string; code: DetailCode };

/**
 * Parses a webhook URL and applies the scheme, credential, host-name and
 * IP-literal rules. IP literals are judged after the WHATWG parser normalized
 * them, so `0x7f.1`, `2130706433` and `[::ffff:7f00:1]` all read as loopback.
 */
export function checkWebhookUrl(raw: string, policy: EgressPolicy): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'The URL is not valid.', code: 'invalid_url' };
  }
  // Not exemptable by the allow list: the allow list names destinations, not schemes.
  if (url.protocol === 'http:' && !policy.allowHttp) {
    // No hint for a URL with credentials: no setting lets those through.
    const hint = hasCredentials(url) ? '' : plainHttpHint(policy, url.hostname, effectivePort(url));
    return {
      ok: false,
      reason: `Webhook URLs must use https; plain http is not enabled.${hint}`,
      code: 'https_required',
    };
  }
  // No setting enables another scheme or credentials, so these two reasons name none.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return {
      ok: false,
      reason: `Webhook URLs must use https, not ${url.protocol.slice(0, -1)}.`,
      code: 'https_required',
    };
  }
  if (hasCredentials(url)) {
    return {
      ok: false,
      reason: 'Webhook URLs must not contain a username or password; use custom headers instead.',
      code: 'url_credentials',
    };
  }
  const reason = hostRefusal(policy, url.hostname, effectivePort(url));
  return reason === undefined
    ? { ok: true, url }
    : { ok: false, reason, code: 'blocked_destination' };
}

function hasCredentials(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}
