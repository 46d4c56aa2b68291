import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../http/deps.js';

export function surveyRoutes(_deps: AppDeps): FastifyPluginAsyncTypebox {
  return async () => {};
}
