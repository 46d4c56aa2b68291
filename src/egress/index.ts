/**
 * The SSRF egress guard (docs/security.md, "Receivers"): static URL checks for
 * the API, and an undici Agent for deliveries that resolves once and pins
 * checked addresses.
 */
export { isBlockedAddress, blockedAddressReason } from './addresses.js';
export { parseAllowList, isAddressAllowed, isHostAllowed, type AllowRule } from './allow-list.js';
export { createEgressPolicy, type EgressPolicy } from './policy.js';
export { checkWebhookUrl, type WebhookUrlCheck } from './url-check.js';
export { BlockedDestinationError } from './error.js';
export { createGuardedLookup, systemResolver, type Resolver } from './lookup.js';
export { createEgressAgent, type EgressAgentOptions } from './agent.js';
