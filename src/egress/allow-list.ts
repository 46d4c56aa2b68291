/**
 * HOOKDESK_EGRESS_ALLOW: the operator's explicit exemptions from the SSRF
 * rules (docs/security.md, "Receivers"), and the only thing that can lift
 * them. Entries are parsed strictly so a typo fails at startup instead of
 * silently exempting the wrong network.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { parseAddress } from './addresses.js';
import { normalizeHostName } from './names.js';

/**
 * One allow-list entry. Without `port` the rule covers every port; with it,
 * only that port (URLs without a port use 443 for https, 80 for http).
 */
export type AllowRule =
  | { readonly kind: 'host'; readonly host: string; readonly port?: number }
  | { readonly kind: 'ip'; readonly address: string; readonly port?: number }
  | {
      readonly kind: 'cidr';
      readonly network: string;
      readonly prefixLength: number;
      readonly port?: number;
    };

/**
 * Parses entries such as `127.0.0.1`, `localhost`, `10.0.0.0/8`, `[::1]:8443`,
 * `hooks.corp.example:443` or `::1`. Throws an Error naming the bad entry.
 */
export function parseAllowList(entries: readonly string[]): AllowRule[] {
  return entries.map(parseAllowEntry);
}

function parseAllowEntry(raw: string): AllowRule {
  const entry = raw.trim();
  const fail = (why: string): Error => new Error(`invalid allow-list entry "${entry}": ${why}`);
  if (entry === '') throw fail('it is empty');

  const { target, portText } = splitPort(entry);
  const port = portText === undefined ? undefined : parsePort(portText, fail);
  const withPort = <T extends object>(rule: T): T & { port?: number } =>
    port === undefined ? rule : { ...rule, port };

  if (target.includes('%')) throw fail('IPv6 zone IDs are not supported');
  if (entry.startsWith('[') && !ipaddr.IPv6.isValid(target.split('/')[0] ?? '')) {
    throw fail('only IPv6 addresses go in [brackets]');
  }
  if (target.includes('/')) {
    // IPv4 must be four decimal parts: ipaddr would read "10/8" as 0.0.0.10/8.
    if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(target) && !ipaddr.IPv6.isValidCIDR(target)) {
      throw fail('not a valid CIDR range (use e.g. 10.0.0.0/8 or fd00::/8)');
    }
    const [network, prefixLength] = ipaddr.parseCIDR(target);
    return withPort({ kind: 'cidr', network: network.toString(), prefixLength });
  }
  if (ipaddr.IPv6.isValid(target) || ipaddr.IPv4.isValidFourPartDecimal(target)) {
    // process() turns ::ffff:a.b.c.d into a.b.c.d, the form addresses are matched in.
    return withPort({ kind: 'ip', address: ipaddr.process(target).toString() });
  }
  return withPort({ kind: 'host', host: parseHostName(target, fail) });
}

/** Brackets carry a port for IPv6; an unbracketed IPv6 address has none. */
function splitPort(entry: string): { target: string; portText: string | undefined } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed) return { target: bracketed[1] ?? '', portText: bracketed[2] };
  if ((entry.match(/:/g) ?? []).length >= 2) return { target: entry, portText: undefined };
  const colon = entry.lastIndexOf(':');
  return colon < 0
    ? { target: entry, portText: undefined }
    : { target: entry.slice(0, colon), portText: entry.slice(colon + 1) };
}

function parsePort(text: string, fail: (why: string) => Error): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw fail('the port must be a number from 1 to 65535');
  return port;
}

/** Normalizes like the URL parser does (IDN to punycode, case) so rules match URLs. */
function parseHostName(target: string, fail: (why: string) => Error): string {
  if (!/^[\p{L}\p{N}._-]+$/u.test(target)) throw fail('not a host name, IP address or CIDR range');
  let host: string;
  try {
    host = normalizeHostName(new URL(`https://${target}/`).hostname);
  } catch {
    throw fail('not a valid host name');
  }
  // The URL parser reads "127.1" or "0x7f.0.0.1" as IPv4; require the plain spelling.
  if (isIP(host) !== 0 || /^[\d.]+$/.test(target)) {
    throw fail('IPv4 addresses must be written as four decimal numbers, e.g. 127.0.0.1');
  }
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) throw fail('not a valid host name');
  return host;
}

/**
 * True when a host name is listed. `port` undefined means "unknown": then only
 * rules without a port apply, so an unknown port never widens an exemption.
 */
export function isHostAllowed(
  rules: readonly AllowRule[],
  host: string,
  port: number | undefined,
): boolean {
  const name = normalizeHostName(host);
  return rules.some((r) => r.kind === 'host' && r.host === name && portMatches(r, port));
}

/** True when an address is listed or inside a listed range (same `port` rule as above). */
export function isAddressAllowed(
  rules: readonly AllowRule[],
  ip: string,
  port: number | undefined,
): boolean {
  const addr = parseAddress(ip);
  if (addr === undefined) return false;
  // An IPv4-mapped address is the IPv4 host itself on a dual-stack socket.
  const candidates =
    addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress()
      ? [addr, addr.toIPv4Address()]
      : [addr];
  return rules.some((rule) => {
    if (rule.kind === 'host' || !portMatches(rule, port)) return false;
    const [network, bits] =
      rule.kind === 'ip'
        ? [ipaddr.parse(rule.address), undefined]
        : [ipaddr.parse(rule.network), rule.prefixLength];
    const prefix = bits ?? (network.kind() === 'ipv4' ? 32 : 128);
    return candidates.some((c) => c.kind() === network.kind() && c.match(network, prefix));
  });
}

function portMatches(rule: AllowRule, port: number | undefined): boolean {
  return rule.port === undefined || rule.port === port;
}
