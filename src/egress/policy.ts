import { parseAllowList, type AllowRule } from './allow-list.js';

/** What the operator configured for outgoing webhook traffic. */
export interface EgressPolicy {
  /** Allow http:// URLs (development only). (Default: false) */
  readonly allowHttp: boolean;
  /** Parsed HOOKDESK_EGRESS_ALLOW entries. (Default: empty) */
  readonly allow: readonly AllowRule[];
}

/** Builds a frozen policy from config values; throws on a bad allow-list entry. */
export function createEgressPolicy(opts: {
  allowHttp: boolean;
  allow: readonly string[];
}): EgressPolicy {
  return Object.freeze({
    allowHttp: opts.allowHttp,
    allow: Object.freeze(parseAllowList(opts.allow)),
  });
}
