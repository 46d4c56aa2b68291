/**
 * The undici Agent every webhook delivery goes through. Host names are
 * resolved by the guarded lookup; IP literals, for which Node never calls a
 * lookup, are checked here before a socket is opened. It never consults
 * HTTP(S)_PROXY: a proxy would resolve the name itself and bypass the checks.
 */
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { hostRefusal, plainHttpHint } from './destination.js';
import { BlockedDestinationError } from './error.js';
import { guardedLookupForPort, systemResolver, type Resolver } from './lookup.js';
import type { EgressPolicy } from './policy.js';

export interface EgressAgentOptions {
  /** Extra PEM CA certificates, trusted in addition to Node's bundled roots. (Default: none) */
  ca?: string;
  /** Bound on TCP connect plus TLS handshake, in ms. (Default: 10000) */
  connectTimeoutMs?: number;
  /** Host-name resolver. (Default: dns.lookup, i.e. getaddrinfo) */
  resolver?: Resolver;
  /** Most sockets per origin. (Default: unlimited, undici's default) */
  connections?: number;
}

export function createEgressAgent(policy: EgressPolicy, opts: EgressAgentOptions = {}): Agent {
  const resolver = opts.resolver ?? systemResolver;
  const ca = trustedCas(opts.ca);
  // Built once: passing `ca` to every connect would parse the whole bundle
  // (Node's roots plus the extra CA) again for each new TLS connection, which
  // costs milliseconds of CPU and a certificate store per connection.
  const secureContext = ca ? createSecureContext({ ca }) : undefined;
  const timeout = opts.connectTimeoutMs ?? 10_000;

  // Node's lookup is not told the port, but allow-list entries can name one, so
  // each port gets its own connector whose lookup knows it. Few ports are used.
  const connectors = new Map<number, buildConnector.connector>();
  const connectorFor = (port: number): buildConnector.connector => {
    let connector = connectors.get(port);
    if (connector === undefined) {
      const lookup = guardedLookupForPort(policy, resolver, port);
      connector = buildConnector({ timeout, lookup, ...(secureContext && { secureContext }) });
      connectors.set(port, connector);
    }
    return connector;
  };

  const connect: buildConnector.connector = (options, callback) => {
    // undici passes '' when the URL has no port; Number('') is 0, so the default applies.
    const port = Number(options.port) || defaultPort(options.protocol);
    const refusal = refuseBeforeConnect(policy, options.protocol, options.hostname, port);
    if (refusal !== undefined) {
      callback(refusal, null);
      return;
    }
    connectorFor(port)(options, callback);
  };

  return new Agent({
    connect,
    ...(opts.connections !== undefined && { connections: opts.connections }),
  });
}

/** Checks what the lookup never sees: the scheme, and IP-literal hosts. */
function refuseBeforeConnect(
  policy: EgressPolicy,
  protocol: string,
  hostname: string,
  port: number,
): BlockedDestinationError | undefined {
  if (protocol !== 'https:' && !(protocol === 'http:' && policy.allowHttp)) {
    // Only plain http has a setting; no other scheme can ever be enabled.
    const hint = protocol === 'http:' ? plainHttpHint(policy, hostname, port) : '';
    return new BlockedDestinationError(
      `Refusing ${protocol} delivery to ${hostname}: only https is enabled.${hint}`,
      { host: hostname },
    );
  }
  if (isIP(hostname) === 0) return undefined;
  // The same sentence, allow-list hint included, as at create time.
  const why = hostRefusal(policy, hostname, port);
  return why === undefined
    ? undefined
    : new BlockedDestinationError(why, { host: hostname, address: hostname });
}

/**
 * The `ca` connect option for an extra PEM bundle, or undefined for Node's
 * defaults. Passing `ca` replaces Node's trust store, so the bundled roots are
 * added back: an operator's private CA must not break deliveries to public hosts.
 */
export function trustedCas(extraPem: string | undefined): string[] | undefined {
  return extraPem === undefined ? undefined : [...rootCertificates, extraPem];
}

function defaultPort(protocol: string): number {
  return protocol === 'http:' ? 80 : 443;
}
