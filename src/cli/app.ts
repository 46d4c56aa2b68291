/**
 * Builds the Fastify application without listening, so tests drive it with
 * `inject()` and the CLI decides where it listens. It is the composition
 * root of the HTTP API, so it sits on top beside the CLI: it alone imports
 * every feature's routes, and src/http/ (the helpers routes use) imports none.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { sql } from 'kysely';
import { apiKeyRoutes } from '../api-keys/api-keys.routes.js';
import { apiMetaRoutes } from '../api-meta/api-meta.routes.js';
import { installAuth } from '../api-keys/auth.js';
import { channelRoutes } from '../channels/channels.routes.js';
import { contactRoutes } from '../contacts/contacts.routes.js';
import { eventRoutes } from '../webhooks/events.routes.js';
import { emailRoutes } from '../inbound/email/email.routes.js';
import { withCallbackExamples } from '../inbound/providers/callback-examples.js';
import { installFailureLimits } from '../inbound/providers/failure-limit.js';
import { mailgunRoutes } from '../inbound/providers/mailgun/mailgun.routes.js';
import { metaRoutes } from '../inbound/providers/meta/meta.routes.js';
import { postmarkRoutes } from '../inbound/providers/postmark/postmark.routes.js';
import { sendgridRoutes } from '../inbound/providers/sendgrid/sendgrid.routes.js';
import { twilioRoutes } from '../inbound/providers/twilio/twilio.routes.js';
import { notificationRoutes } from '../notifications/notifications.routes.js';
import { organizationRoutes } from '../orgs/organization.routes.js';
import { slaRoutes } from '../sla/sla.routes.js';
import { surveyRoutes } from '../surveys/surveys.routes.js';
import { ticketRoutes } from '../tickets/tickets.routes.js';
import { userRoutes } from '../users/users.routes.js';
import { deliveryRoutes } from '../webhooks/deliveries.routes.js';
import { recoveryRoutes } from '../webhooks/recover.routes.js';
import { webhookStatsRoutes } from '../webhooks/stats.routes.js';
import { webhookRoutes } from '../webhooks/webhooks.routes.js';
import { VERSION } from '../version.js';
import { consoleRoutes } from '../http/console.js';
import { connectionOptions, trackEarlyAnswers } from '../http/connections.js';
import { OPENAPI_TAGS } from '../http/openapi-tags.js';
import type { AppDeps } from '../http/deps.js';
import { errorBody, frameworkErrorHandler, installErrorHandler } from '../http/error-handler.js';
import { installJsonParser } from '../http/json.js';
import { installUrlNulGuard, validatorCompiler } from '../http/validation.js';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger and Fastify's logger type disagree on optional members; the instance is the same.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    ajv: { customOptions: { allErrors: true } },
    // Malformed paths (bad percent-encoding, over-long parameters) answer in the contract's format.
    frameworkErrors: frameworkErrorHandler,
    // Timeouts, trusted proxies and the answer to malformed or slow requests.
    ...connectionOptions(deps.config),
  });
  app.setValidatorCompiler(validatorCompiler);
  trackEarlyAnswers(app);
  installJsonParser(app);
  installErrorHandler(app, deps.database.dialect);
  installUrlNulGuard(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Hookdesk API',
        version: VERSION,
        description:
          'Help-desk core, outgoing webhooks and incoming provider webhooks. See README.md.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
      // In reading order: webhooks first, the public RPC endpoints near the end.
      tags: OPENAPI_TAGS,
    },
    // The provider callbacks' own request formats, for /docs only: their routes validate no body.
    transformObject: (doc) =>
      'openapiObject' in doc ? withCallbackExamples(doc.openapiObject) : doc.swaggerObject,
  });
  // No tagsSorter: /docs lists the tags in the document's order, not alphabetically.
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  // Unauthenticated like /healthz: scrape it from inside your network; it carries counts, no tenant data.
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await deps.metrics.render();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });

  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await sql`select 1`.execute(deps.database.db);
      return { status: 'ready' };
    } catch (error) {
      _request.log.warn({ err: error }, 'readiness check failed');
      return reply
        .status(503)
        .send(errorBody('service_unavailable', 'The database is not reachable.'));
    }
  });

  // The admin console's page and assets (it asks for an API key itself).
  await app.register(consoleRoutes());

  // Public, outside the API-key scope: inbound email authenticates by its optional token.
  await app.register(emailRoutes(deps));

  // Everything under this scope needs an API key.
  await app.register(async (api) => {
    installAuth(api, deps);
    await api.register(userRoutes(deps));
    await api.register(organizationRoutes(deps));
    await api.register(apiKeyRoutes(deps));
    await api.register(contactRoutes(deps));
    await api.register(ticketRoutes(deps));
    await api.register(surveyRoutes(deps));
    await api.register(notificationRoutes(deps));
    await api.register(eventRoutes(deps));
    await api.register(slaRoutes(deps));
    await api.register(deliveryRoutes(deps));
    await api.register(webhookRoutes(deps));
    await api.register(webhookStatsRoutes(deps));
    await api.register(recoveryRoutes(deps));
    await api.register(channelRoutes(deps));
    await api.register(apiMetaRoutes());
  });

  // Provider callbacks: public, each verified by its provider's own signature,
  // each in its own scope with the body parsers it needs (raw bytes kept).
  // A source that keeps failing their checks is refused for a while.
  await app.register(async (providers) => {
    installFailureLimits(providers, deps.clock, deps.config.providerFailureLimit);
    await providers.register(twilioRoutes(deps));
    await providers.register(metaRoutes(deps));
    await providers.register(sendgridRoutes(deps));
    await providers.register(mailgunRoutes(deps));
    await providers.register(postmarkRoutes(deps));
  });

  return app;
}
