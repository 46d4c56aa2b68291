/**
 * LISTEN on PostgreSQL for delivery wake-ups from other processes. One
 * dedicated connection; on error it reconnects with a capped backoff, and
 * meanwhile the worker's safety-net poll keeps deliveries moving. Each
 * notification is also relayed to the in-process wake signal, so every loop
 * of the process (deliveries, jobs) shares this one connection.
 */
import pg from 'pg';
import type { Logger } from '../logger.js';
import { WAKE_CHANNEL, emitLocalWake } from './wake.js';

export interface WakeListener {
  close(): Promise<void>;
}

/** `onListening` is called each time the LISTEN is (re)established, after `onWake`. */
export function listenForWakeups(
  url: string,
  onWake: () => void,
  logger: Logger,
  onListening?: () => void,
): WakeListener {
  let client: pg.Client | null = null;
  let closed = false;
  let delay = 250;
  let timer: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    c.on('notification', () => {
      onWake();
      emitLocalWake();
    });
    c.on('error', (error) => {
      logger.warn({ err: error }, 'wake-up listener lost its connection');
      retry(c);
    });
    try {
      await c.connect();
      await c.query(`listen ${WAKE_CHANNEL}`);
      client = c;
      delay = 250;
      onWake(); // anything committed while we were not listening
      emitLocalWake();
      onListening?.();
    } catch (error) {
      logger.warn({ err: error }, 'wake-up listener could not connect');
      retry(c);
    }
  };
  const retry = (c: pg.Client) => {
    if (client === c) client = null;
    c.end().catch(() => {});
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, 10_000);
  };
  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => {});
    },
  };
}
