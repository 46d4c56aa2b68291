/**
 * The host rules shared by create-time URL checks, the guarded lookup and the
 * agent's connect step, so the three can never disagree about a destination.
 */
import { isIP } from 'node:net';
import { blockedAddressReason, withoutBrackets } from './addresses.js';
import { isAddressAllowed, isHostAllowed } from './allow-list.js';
import { allowEntryFor, allowHttpHint, allowListHint } from './hints.js';
import { localNameReason, normalizeHostName } from './names.js';
import type { EgressPolicy } from './policy.js';

/** Why a literal address may not be reached on `port`, or undefined when it may. */
export function addressRefusal(
  policy: EgressPolicy,
  address: string,
  port: number | undefined,
): string | undefined {
  if (isAddressAllowed(policy.allow, address, port)) return undefined;
  return blockedAddressReason(address);
}

/**
 * Why a host (a name, or an IP literal with or without [brackets]) may not be
 * reached on `port`, as a sentence that ends with the allow-list entry
 * exempting it when one can, or undefined when it passes the static rules.
 * Names passing here must still have their resolved addresses checked.
 */
export function hostRefusal(
  policy: EgressPolicy,
  host: string,
  port: number | undefined,
): string | undefined {
  const why = hostReason(policy, host, port);
  return why === undefined ? undefined : `${why}${allowListHint(host, port)}`;
}

/**
 * The closing sentence for refused plain http to `host` on `port`: the http
 * setting, and the allow-list entry too when the host is refused as well, so
 * following it really lets the URL through. '' when no entry could exempt
 * the host. A name that passes here may still resolve to a refused address,
 * which only delivery time can tell.
 */
export function plainHttpHint(policy: EgressPolicy, host: string, port: number): string {
  if (hostReason(policy, host, port) === undefined) return allowHttpHint();
  const entry = allowEntryFor(host, port);
  return entry === undefined ? '' : allowHttpHint(entry);
}

function hostReason(
  policy: EgressPolicy,
  host: string,
  port: number | undefined,
): string | undefined {
  const bare = withoutBrackets(host);
  if (isIP(bare) !== 0) {
    const why = addressRefusal(policy, bare, port);
    return why === undefined
      ? undefined
      : `The address ${bare} is ${why}; webhooks can only be sent to public addresses.`;
  }
  const name = normalizeHostName(bare);
  if (isHostAllowed(policy.allow, name, port)) return undefined;
  return localNameReason(name);
}

/** The port a URL connects to: its own, or the scheme's default. */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'http:' ? 80 : 443;
}
