/**
 * What happens to the rest of a provider callback's body when the answer
 * goes out before it has all arrived: a refusal by an onRequest hook (an
 * unknown channel, a wrong URL token or Basic credentials, a wrong media
 * type), a Mailgun signature refused mid-body, the size limit passed while
 * streaming.
 *
 * Left alone, Node would read and drop the rest of the body to reuse the
 * connection (an onRequest refusal), or keep the connection on a paused
 * request (a refusal mid-body): either way the sender decides how much it
 * sends. Instead the server ends its side of the connection right after the
 * answer and drops the connection LINGER_MS later, or as soon as the client
 * closes. The short wait is a lingering close: closing a socket with unread
 * bytes makes the kernel reset the connection at once, and a reset reaching
 * the client before it has read the answer discards the answer.
 *
 * Such answers do not carry `Connection: close` (Fastify adds it to its own
 * "body too large"): Node would then destroy the socket as soon as the
 * answer is written, which is the reset above. The half-close right after
 * the answer tells the client the same thing.
 */
import type { FastifyInstance } from 'fastify';

/** How long a half-closed connection may stay before it is dropped. (Default: 500 ms, like Go's net/http) */
const LINGER_MS = 500;

/** Installs the hook in the calling (encapsulated) scope. */
export function closeAfterEarlyAnswers(scope: FastifyInstance, lingerMs = LINGER_MS): void {
  // `complete` is false until the body's last byte has arrived (and undefined under inject()).
  scope.addHook('onSend', (request, reply, payload, done) => {
    if (request.raw.complete === false) reply.removeHeader('connection');
    done(null, payload);
  });
  scope.addHook('onResponse', async (request) => {
    const { raw } = request;
    if (raw.complete !== false) return;
    const socket = raw.socket;
    if (!socket || socket.destroyed) return;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
