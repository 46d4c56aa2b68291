/**
 * HOOKDESK_TRUST_PROXY: whose `X-Forwarded-For` is believed when Hookdesk
 * decides a request's source address (`request.ip`, the key of every per-IP
 * limit). By default nobody's: a client could otherwise pick its own address
 * and with it its own, or someone else's, rate-limit bucket.
 */
import ipaddr from 'ipaddr.js';

/**
 * `false` (trust nothing), `true` (trust every hop), a hop count (trust that
 * many proxies in front), or the proxies' addresses and CIDR ranges.
 */
export type TrustProxy = boolean | number | readonly string[];

/** Named ranges that Fastify's proxy-addr understands. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const MAX_HOPS = 10;

/**
 * Parses the variable's value. Entries are checked strictly (four-part
 * decimal IPv4, as in HOOKDESK_EGRESS_ALLOW) so a typo fails at start-up
 * instead of trusting the wrong network. Throws an Error naming the bad entry.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '' || /^false$/i.test(value)) return false;
  if (/^true$/i.test(value)) return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_HOPS) throw new Error(`a hop count must be at most ${MAX_HOPS}, got ${hops}`);
    return hops === 0 ? false : hops;
  }
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (!isAddressOrRange(entry)) {
      throw new Error(
        `"${entry}" is not an IP address or CIDR range (use true, a hop count, or e.g. 10.0.0.5,172.16.0.0/12)`,
      );
    }
  }
  return Object.freeze(entries);
}

function isAddressOrRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  if (entry.includes('/')) {
    return ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) || ipaddr.IPv6.isValidCIDR(entry);
  }
  return ipaddr.IPv4.isValidFourPartDecimal(entry) || ipaddr.IPv6.isValid(entry);
}

/** Fastify's `trustProxy` option for the parsed value. */
export function fastifyTrustProxy(
  trust: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'boolean') return trust;
  // Fastify refuses a bare number (it cannot tell a proxy from a client that
  // sent its own header). A hop count is the operator's statement that every
  // request arrives through that many proxies (when that holds:
  // docs/operations.md, "Behind a reverse proxy").
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return [...trust];
}
