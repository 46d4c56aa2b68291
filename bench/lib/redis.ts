/** The BullMQ peer's Redis (figure 1b): its URL read once, and whether anything answers there. */
import { connect } from 'node:net';

export interface RedisAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

/** `redis://[user:password@]host[:port][/db]` as connection options (ioredis', which BullMQ takes). */
export function redisConnection(redisUrl: string): RedisAddress {
  const u = new URL(redisUrl);
  const db = Number(u.pathname.slice(1) || 0);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
  };
}

/** "host:port", as the figure names it (never the password). */
export function redisWhere(redisUrl: string): string {
  const { host, port } = redisConnection(redisUrl);
  return `${host}:${port}`;
}

/** Whether a Redis answers PING at this URL within `timeoutMs`. */
export function redisAnswers(redisUrl: string, timeoutMs = 1_000): Promise<boolean> {
  const { host, port } = redisConnection(redisUrl);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // "+PONG", or "-NOAUTH …" from a Redis that wants a password: a Redis either way.
    socket.once('data', (d) => done(/^[+-]/.test(d.toString('latin1'))));
  });
}
