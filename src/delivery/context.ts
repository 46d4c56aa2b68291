/**
 * What sending webhooks needs, built once per process from config: the
 * egress policy (also used to validate webhook URLs) and the guarded HTTPS
 * agent every attempt goes through.
 */
import { readFileSync } from 'node:fs';
import type { Agent } from 'undici';
import type { Config } from '../config.js';
import {
  createEgressAgent,
  createEgressPolicy,
  type EgressPolicy,
  type Resolver,
} from '../egress/index.js';

export interface DeliveryContext {
  readonly policy: EgressPolicy;
  readonly dispatcher: Agent;
  /** Whole-request timeout of one attempt. */
  readonly timeoutMs: number;
  close(): Promise<void>;
}

export function createDeliveryContext(
  config: Pick<Config, 'egressAllow' | 'egressAllowHttp' | 'egressCaFile' | 'deliveryTimeoutMs'>,
  options: { resolver?: Resolver } = {},
): DeliveryContext {
  const policy = createEgressPolicy({
    allowHttp: config.egressAllowHttp,
    allow: config.egressAllow,
  });
  const dispatcher = createEgressAgent(policy, {
    ...(config.egressCaFile ? { ca: readFileSync(config.egressCaFile, 'utf8') } : {}),
    connectTimeoutMs: Math.min(config.deliveryTimeoutMs, 10_000),
    ...(options.resolver ? { resolver: options.resolver } : {}),
  });
  return {
    policy,
    dispatcher,
    timeoutMs: config.deliveryTimeoutMs,
    close: () => dispatcher.close(),
  };
}
