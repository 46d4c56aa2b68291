/**
 * The admin console (docs/console.md): a single-page app built by `npm run build`
 * from `console/` into `dist/console/`, served here without an API key (the
 * page asks for one and sends it as a bearer token to `/api`). Hashed assets
 * are served from `/assets/`; each client-side route answers `index.html`.
 * Every other path, `/api/…` included, keeps the API's JSON 404.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/** `dist/console/` of the checkout, from `src/http/` (tsx) and `dist/http/` (built) alike. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** The console's own routes (see console/src/router.ts); deep links load the app. */
export const CONSOLE_ROUTES = [
  '/',
  '/webhooks',
  '/webhooks/*',
  '/deliveries',
  '/deliveries/*',
  '/events',
  '/events/*',
  '/notifications',
  '/sla',
  '/channels',
  '/channels/*',
] as const;

/** The page talks to its own origin only and cannot be framed or run injected script. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function consoleRoutes(root: string = CONSOLE_DIR): FastifyPluginAsync {
  return async (app) => {
    const built = existsSync(join(root, 'index.html'));
    if (built) {
      await app.register(fastifyStatic, {
        root: join(root, 'assets'),
        prefix: '/assets/',
        index: false,
        // File names carry a content hash.
        immutable: true,
        maxAge: '365d',
        setHeaders: (res) => {
          res.setHeader('x-content-type-options', 'nosniff');
        },
      });
    }
    const page = (reply: FastifyReply) =>
      built
        ? reply.headers(PAGE_HEADERS).sendFile('index.html', root, { cacheControl: false })
        : reply
            .status(503)
            .type('text/plain; charset=utf-8')
            .send('The admin console is not built: run `npm run build`, then restart.\n');
    for (const route of CONSOLE_ROUTES) {
      app.get(route, { schema: { hide: true } }, (_request, reply) => page(reply));
    }
  };
}
