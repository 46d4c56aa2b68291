/**
 * The public email endpoints (no API key): inbound email and delivery-status
 * callbacks, with their rate limits. Registered outside the authenticated
 * scope in cli/app.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps } from '../../http/deps.js';
import { deliveryStatusRoute } from './delivery-status.route.js';
import { inboundEmailRoute } from './inbound.route.js';
import { createLimiter, installRateLimit } from './rate-limit.js';

export function emailRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    await installRateLimit(app);
    const perMinute = deps.config.inboundRateLimit;
    const limits = () => ({
      byIp: createLimiter(app, perMinute),
      byOrganization: createLimiter(app, perMinute),
    });
    await app.register(inboundEmailRoute(deps, limits()));
    await app.register(deliveryStatusRoute(deps, limits()));
  };
}
