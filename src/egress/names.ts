/**
 * Host-name rules. Names that only mean something inside a machine or a
 * cluster are refused before any DNS query, so a webhook URL cannot probe
 * internal service discovery even when the resolver would answer.
 */

const LOCAL_SUFFIXES: readonly { suffix: string; what: string }[] = [
  { suffix: 'localhost', what: 'a loopback name' },
  { suffix: 'internal', what: 'an internal name (.internal)' },
  { suffix: 'local', what: 'a link-local mDNS name (.local)' },
  { suffix: 'svc', what: 'a cluster service name (.svc)' },
];

/**
 * Lower-cases and drops trailing dots: `LOCALHOST.` and `localhost` reach the
 * same resolver entry, so they must hit the same rules.
 */
export function normalizeHostName(host: string): string {
  return host.toLowerCase().replace(/\.+$/, '');
}

/** Why a (normalized) host name is refused, or undefined when it may be resolved. */
export function localNameReason(name: string): string | undefined {
  for (const { suffix, what } of LOCAL_SUFFIXES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) {
      return `The host "${name}" is ${what}; webhooks can only be sent to public hosts.`;
    }
  }
  return undefined;
}
