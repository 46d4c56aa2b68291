// A webhook receiver for Hookdesk's deliveries (docs/webhooks.md, "A receiver
// to start from"): it checks the Standard Webhooks signature with
// @hookdesk/verify, answers at once, skips deliveries it has already seen and
// only then looks at the event. From a checkout:
//
//   npm run build --prefix packages/verify
//   npm install --prefix examples
//   WEBHOOK_SECRET='whsec_…' node examples/receiver.mjs
//
// WEBHOOK_SECRET is the webhook's secret; WEBHOOK_PREVIOUS_SECRET, if set, is
// also accepted (while a rotation rolls out). PORT defaults to 4242, beside
// `hookdesk listen` on 4000.
import { createServer } from 'node:http';
import { verifyStandardWebhook } from '@hookdesk/verify';

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("WEBHOOK_SECRET is not set: export the webhook's secret and start again.");
  process.exit(1);
}
const secrets = [secret, process.env.WEBHOOK_PREVIOUS_SECRET].filter(Boolean);

const port = Number(process.env.PORT || 4242);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0 to 65535), not ${process.env.PORT}.`);
  process.exit(1);
}

// Hookdesk's bodies are JSON events far below this; anything bigger is not from it.
const MAX_BODY_BYTES = 1024 * 1024;
// Delivery is at least once: a retry repeats `webhook-id`. Remember the last
// ids seen, oldest forgotten first (in production: a table with a unique key).
const MAX_REMEMBERED = 10_000;
const seen = new Set();

function remember(id) {
  seen.add(id);
  if (seen.size > MAX_REMEMBERED) seen.delete(seen.values().next().value);
}

/** The work a delivery triggers, after it has been answered. */
function handle(event, deliveryId) {
  console.log(`${event.eventType} ${deliveryId}`);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      res.writeHead(413, { connection: 'close' }).end();
      req.destroy();
    } else chunks.push(chunk);
  });
  req.on('end', () => {
    const raw = Buffer.concat(chunks); // the exact bytes: the signature covers them
    if (!verifyStandardWebhook(secrets, raw, req.headers)) {
      return void res.writeHead(401).end();
    }
    const deliveryId = String(req.headers['webhook-id']);
    let event;
    try {
      event = JSON.parse(raw.toString('utf8'));
    } catch {
      return void res.writeHead(400).end();
    }
    // Any 2xx is success; answer before working, within Hookdesk's timeout.
    res.writeHead(204).end();
    if (seen.has(deliveryId)) return;
    remember(deliveryId);
    setImmediate(() => handle(event, deliveryId));
  });
});

server.on('error', (error) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `port ${port} is in use: set PORT to another port.`
      : `cannot listen on port ${port}: ${error.message}`,
  );
  process.exit(1);
});
server.listen(port, () => {
  console.log(`receiving webhooks on port ${server.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close());
