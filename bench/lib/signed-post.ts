/**
 * What the raw ceiling (figure 1) and the BullMQ peer (figure 1b) share, so
 * that both send exactly alike: the backlog rows they read before timing,
 * and the per-request code (one signed POST through undici, the answer read,
 * 2xx = delivered). Hookdesk's own sender is not used: it adds the egress
 * guard and the attempt record, which are what the worker is compared on.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { openDatabase } from '../../src/db/open.js';
import { deliveryBody } from '../../src/delivery/queue/body.js';
import { buildHeaders } from '../../src/delivery/sender.js';
import { trustedCas } from '../../src/egress/agent.js';

/** One pending delivery with its webhook's settings: everything a sender needs. */
export interface SignedRow {
  id: string;
  eventType: string;
  payload: string;
  url: string;
  secret: string | null;
  /** The webhook's custom headers, as stored (a JSON object). */
  headers: string;
}

/** The pending deliveries of these webhooks, read once before anything is timed. */
export async function readBacklog(
  databaseUrl: string,
  webhookIds: readonly string[],
): Promise<SignedRow[]> {
  const database = openDatabase(databaseUrl);
  try {
    return await database.db
      .selectFrom('deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'deliveries.webhook_id')
      .select([
        'deliveries.id as id',
        'deliveries.event_type as eventType',
        deliveryBody().as('payload'),
        'webhooks.url as url',
        'webhooks.secret as secret',
        'webhooks.headers as headers',
      ])
      .where('deliveries.webhook_id', 'in', webhookIds)
      .where('deliveries.status', '=', 'pending')
      .execute();
  } finally {
    await database.close();
  }
}

/** An undici Agent with keep-alive that trusts the receiver's test CA. */
export function receiverAgent(caFile: string): Agent {
  return new Agent({ connect: { ca: trustedCas(readFileSync(caFile, 'utf8')) } });
}

/**
 * POSTs one delivery, signed with the headers Hookdesk sends, and reads the
 * answer. True for a 2xx; a network error throws.
 */
export async function signedPost(row: SignedRow, agent: Agent): Promise<boolean> {
  const res = await request(row.url, {
    method: 'POST',
    headers: buildHeaders(
      {
        url: row.url,
        deliveryId: row.id,
        eventType: row.eventType,
        body: row.payload,
        secrets: row.secret === null ? [] : [row.secret],
        customHeaders: JSON.parse(row.headers) as Record<string, string>,
      },
      Date.now(),
    ),
    body: row.payload,
    dispatcher: agent,
  });
  await res.body.text();
  return res.statusCode >= 200 && res.statusCode < 300;
}
