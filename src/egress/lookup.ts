/**
 * Delivery-time resolution (docs/security.md, "Receivers"). The host is
 * resolved exactly once, every answer is checked, and the socket is handed one
 * of the checked addresses: there is no second resolution a rebinding DNS
 * server could answer differently.
 */
import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { toError } from '../errors.js';
import { addressRefusal, hostRefusal } from './destination.js';
import { BlockedDestinationError } from './error.js';
import { isHostAllowed } from './allow-list.js';
import { allowListHint } from './hints.js';
import { normalizeHostName } from './names.js';
import type { EgressPolicy } from './policy.js';

/** Resolves a host name to all its addresses; the edge of the machine, injectable in tests. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

/** getaddrinfo through dns.lookup, so /etc/hosts and the system's order apply as for any client. */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * A `lookup` for net/tls connect options and undici's `connect.lookup`. Node
 * does not tell a lookup the port, so allow-list entries with a port do not
 * apply here; the egress agent uses the port-aware variant.
 */
export function createGuardedLookup(
  policy: EgressPolicy,
  resolver: Resolver = systemResolver,
): LookupFunction {
  return guardedLookupForPort(policy, resolver, undefined);
}

/** As createGuardedLookup, with allow-list entries for `port` applied. */
export function guardedLookupForPort(
  policy: EgressPolicy,
  resolver: Resolver,
  port: number | undefined,
): LookupFunction {
  return (hostname, options, callback) => {
    // Callbacks run on their own tick so an exception in the caller surfaces as
    // an uncaught exception, as with dns.lookup, not as an unhandled rejection.
    resolveChecked(policy, resolver, hostname, port, options).then(
      (picked) =>
        process.nextTick(() => {
          if (options.all === true) callback(null, [picked]);
          else callback(null, picked.address, picked.family);
        }),
      (error: unknown) =>
        process.nextTick(() => callback(toError(error), options.all === true ? [] : '')),
    );
  };
}

async function resolveChecked(
  policy: EgressPolicy,
  resolver: Resolver,
  hostname: string,
  port: number | undefined,
  options: LookupOptions,
): Promise<LookupAddress> {
  // Name rules first, so refused names never reach DNS at all.
  const nameRefusal = hostRefusal(policy, hostname, port);
  if (nameRefusal !== undefined) {
    throw new BlockedDestinationError(nameRefusal, { host: hostname });
  }
  const literal = isIP(hostname);
  const answers = literal !== 0 ? [{ address: hostname }] : await resolver(hostname);
  const exempt = literal === 0 && isHostAllowed(policy.allow, normalizeHostName(hostname), port);
  const checked: LookupAddress[] = [];
  for (const { address } of answers) {
    // Any blocked answer refuses the whole host: a name that mixes public and
    // private addresses is exactly what a rebinding attack looks like.
    const why = exempt ? undefined : addressRefusal(policy, address, port);
    if (why !== undefined) {
      // The message reaches the tenant (the attempt's error): it must not say
      // what an internal name resolves to, nor which kind of range it is in.
      // So the hint names the host, and a host entry is also what exempts
      // every answer of the name (`exempt` above), whatever it resolves to.
      throw new BlockedDestinationError(
        `The host ${hostname} resolves to a private or internal address; webhooks can only be sent to public addresses.${allowListHint(hostname, port)}`,
        { host: hostname, address },
      );
    }
    const family = isIP(address);
    if (family !== 0) checked.push({ address, family });
  }
  const wanted = wantedFamily(options.family);
  const picked = checked.find((a) => wanted === 0 || a.family === wanted);
  if (picked === undefined) throw notFound(hostname);
  return picked;
}

function wantedFamily(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/** Shaped like getaddrinfo's own failure so callers can classify it as a DNS error. */
function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    syscall: 'getaddrinfo',
    hostname,
  });
}
