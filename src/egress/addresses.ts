/**
 * Which IP addresses webhooks may reach. Only public unicast destinations are
 * allowed: everything ipaddr.js classifies as a special range is refused, and
 * IPv6 forms that carry an IPv4 address are judged by that address, because a
 * dual-stack host or a NAT64/6to4/ISATAP gateway will deliver the packet to it.
 */
import ipaddr from 'ipaddr.js';

type IP = ipaddr.IPv4 | ipaddr.IPv6;

/** Human words for ipaddr.js range names; they end up in 400 responses. */
const RANGE_WORDS: Partial<Record<string, string>> = {
  unspecified: 'an unspecified ("this network") address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  private: 'a private network address',
  reserved: 'a reserved or documentation address',
  benchmarking: 'a benchmarking address',
  as112: 'an AS112 (DNS sink) address',
  as112v6: 'an AS112 (DNS sink) address',
  amt: 'an AMT relay address',
  uniqueLocal: 'a unique-local (private) address',
  deprecatedSiteLocal: 'a site-local address',
  discard: 'a discard-only address',
  rfc6145: 'an IPv4-translated address',
  teredo: 'a Teredo tunnel address',
  deprecatedOrchid: 'an ORCHID address',
  orchid2: 'an ORCHID address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID address',
  segmentRouting: 'a segment routing address',
};

// Only 2000::/3 is allocated for global unicast; anything else ipaddr.js calls
// "unicast" (for example ::2:0:0:1) is unassigned IETF space, not a destination.
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const NAT64 = [ipaddr.parseCIDR('64:ff9b::/96'), ipaddr.parseCIDR('64:ff9b:1::/48')];
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

interface Embedded {
  /** Name of the IPv6 form, for the reason text. */
  readonly form: string;
  readonly ipv4: ipaddr.IPv4;
  /** True when the whole IPv6 prefix only exists to carry the IPv4 address. */
  readonly replacesPrefix: boolean;
}

/** A host as a URL writes it, IPv6 literals in [brackets], without the brackets. */
export function withoutBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Parses an address in any form ipaddr.js accepts, with or without [brackets]. */
export function parseAddress(ip: string): IP | undefined {
  const bare = withoutBrackets(ip);
  try {
    return ipaddr.parse(bare);
  } catch {
    return undefined;
  }
}

/**
 * Why an address is not a public unicast destination, as a phrase such as
 * "a loopback address", or undefined when it is public. Unparseable input is
 * blocked: failing closed is the only safe answer for a guard.
 */
export function blockedAddressReason(ip: string): string | undefined {
  const addr = parseAddress(ip);
  if (addr === undefined) return 'not a valid IP address';
  return addr instanceof ipaddr.IPv4 ? ipv4Reason(addr) : ipv6Reason(addr);
}

/** True when an IP (v4 or v6, any form) is not a public unicast destination. */
export function isBlockedAddress(ip: string): boolean {
  return blockedAddressReason(ip) !== undefined;
}

function ipv4Reason(addr: ipaddr.IPv4): string | undefined {
  const range = addr.range();
  return range === 'unicast' ? undefined : rangeWords(range);
}

function ipv6Reason(addr: ipaddr.IPv6): string | undefined {
  const range = addr.range();
  // ::1 and :: also sit in ::/96; name them as what they are, not as 0.0.0.x.
  if (range === 'loopback' || range === 'unspecified') return rangeWords(range);
  const embedded = embeddedIPv4(addr);
  for (const e of embedded) {
    const inner = ipv4Reason(e.ipv4);
    if (inner !== undefined) return `${e.form} form of ${e.ipv4.toString()}, ${inner}`;
  }
  if (embedded.some((e) => e.replacesPrefix)) return undefined;
  if (range !== 'unicast') return rangeWords(range);
  return addr.match(GLOBAL_UNICAST) ? undefined : 'outside the global unicast range (2000::/3)';
}

/**
 * The IPv4 addresses an IPv6 address carries. A prefix form (mapped, NAT64,
 * 6to4, compatible) replaces the IPv6 judgement; an ISATAP interface
 * identifier can sit behind any /64, so the prefix is judged as well.
 */
function embeddedIPv4(addr: ipaddr.IPv6): Embedded[] {
  const bytes = addr.toByteArray();
  const found: Embedded[] = [];
  if (addr.isIPv4MappedAddress()) {
    found.push({ form: 'an IPv4-mapped', ipv4: addr.toIPv4Address(), replacesPrefix: true });
  } else if (NAT64.some((net) => addr.match(net))) {
    // RFC 6052 /96 layout: the IPv4 address is the last 32 bits. It is the only
    // layout of 64:ff9b::/96, and how 64:ff9b:1::/48 is subnetted in practice.
    found.push({ form: 'a NAT64', ipv4: ipv4At(bytes, 12), replacesPrefix: true });
  } else if (addr.match(SIX_TO_FOUR)) {
    found.push({ form: 'a 6to4', ipv4: ipv4At(bytes, 2), replacesPrefix: true });
  } else if (addr.match(IPV4_COMPATIBLE)) {
    found.push({ form: 'an IPv4-compatible', ipv4: ipv4At(bytes, 12), replacesPrefix: true });
  }
  if (isIsatap(addr)) {
    found.push({ form: 'an ISATAP', ipv4: ipv4At(bytes, 12), replacesPrefix: false });
  }
  return found;
}

/**
 * ISATAP interface identifiers are 0000:5efe or 0200:5efe followed by the IPv4
 * address (RFC 5214); the mask also accepts the group bit (0100, 0300), which
 * changes nothing about where the packet goes.
 */
function isIsatap(addr: ipaddr.IPv6): boolean {
  const [high, low] = [addr.parts[4] ?? -1, addr.parts[5] ?? -1];
  return high >= 0 && (high & 0xfcff) === 0 && low === 0x5efe;
}

function ipv4At(bytes: readonly number[], offset: number): ipaddr.IPv4 {
  return new ipaddr.IPv4(bytes.slice(offset, offset + 4));
}

function rangeWords(range: string): string {
  return RANGE_WORDS[range] ?? 'a special-purpose address';
}
