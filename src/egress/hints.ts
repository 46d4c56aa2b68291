/**
 * The closing sentence of a refusal: what the server's operator can set so
 * the destination passes. Refusals reach tenants through the API (a 400's
 * details, an attempt's error), and a tenant cannot change the server's
 * settings, so the sentence names the exact setting and entry for them to
 * pass on. Every suggested entry is parsed and matched here with the real
 * allow-list rules before it is offered, so a hint can never name an entry
 * that would not let the destination through.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { withoutBrackets } from './addresses.js';
import { isAddressAllowed, isHostAllowed, parseAllowList, type AllowRule } from './allow-list.js';
import { normalizeHostName } from './names.js';

/** The settings src/config.ts reads into the egress policy; refusals quote them. */
export const ALLOW_LIST_SETTING = 'HOOKDESK_EGRESS_ALLOW';
export const ALLOW_HTTP_SETTING = 'HOOKDESK_EGRESS_ALLOW_HTTP';

/**
 * The narrowest allow-list entry that lets `host` (a name, or an IP literal
 * with or without [brackets]) through on `port`: `hooks.corp.example:8443`,
 * `127.0.0.1:4000`, `[::1]:4000`, or without a port when `port` is unknown
 * (then only port-less rules apply). Undefined when no entry can, e.g. a name
 * the allow-list parser does not accept.
 */
export function allowEntryFor(host: string, port: number | undefined): string | undefined {
  const bare = withoutBrackets(host);
  const literal = isIP(bare) !== 0;
  const target = literal ? addressTarget(bare) : normalizeHostName(bare);
  if (target === undefined || target === '') return undefined;
  const entry = port === undefined ? target : `${target}:${port}`;
  let rules: AllowRule[];
  try {
    rules = parseAllowList([entry]);
  } catch {
    return undefined;
  }
  const passes = literal ? isAddressAllowed(rules, bare, port) : isHostAllowed(rules, bare, port);
  return passes ? entry : undefined;
}

/**
 * An address as an entry's target. IPv4-mapped IPv6 is written as the IPv4
 * address it is (the form the allow list matches it in); other IPv6 goes in
 * brackets so a port can follow.
 */
function addressTarget(bare: string): string | undefined {
  try {
    const addr = ipaddr.process(bare);
    return addr.kind() === 'ipv6' ? `[${addr.toString()}]` : addr.toString();
  } catch {
    return undefined;
  }
}

/** " The server's operator can allow this destination by adding ENTRY to ...", or '' when no entry can. */
export function allowListHint(host: string, port: number | undefined): string {
  const entry = allowEntryFor(host, port);
  return entry === undefined
    ? ''
    : ` The server's operator can allow this destination by adding ${entry} to ${ALLOW_LIST_SETTING}.`;
}

/**
 * The sentence for refused plain http. `entry` is the allow-list entry the
 * destination needs as well, when its host is refused too: enabling http
 * alone would only trade this refusal for the next one.
 */
export function allowHttpHint(entry?: string): string {
  const http = `${ALLOW_HTTP_SETTING}=true (development only)`;
  return entry === undefined
    ? ` The server's operator can allow it with ${http}.`
    : ` The server's operator can allow it with ${http} and by adding ${entry} to ${ALLOW_LIST_SETTING}.`;
}
