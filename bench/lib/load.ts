/**
 * Open-loop load on the HTTP API: `POST /api/tickets` at a fixed rate,
 * whatever the response times (a request is sent when it is due, not when the
 * previous one answered). Bounded: `rate × seconds` requests at most, at most
 * `maxInflight` at once (a request due while that many are pending is counted
 * as skipped, not queued), and a hard stop 5 s past the planned end.
 */
import { Pool } from 'undici';
import { sleep } from './hookdesk.js';

export interface LoadResult {
  planned: number;
  sent: number;
  created: number;
  failed: number;
  skipped: number;
  seconds: number;
  /** Client-side response times of the API, ms. */
  apiLatencies: number[];
  statusCodes: Record<string, number>;
}

export async function openLoop(o: {
  baseUrl: string;
  /** Requests go to these organizations' keys in turn. */
  apiKeys: readonly string[];
  rate: number;
  seconds: number;
  label: string;
  maxInflight?: number;
}): Promise<LoadResult> {
  const pool = new Pool(o.baseUrl, { connections: 64 });
  const planned = Math.max(1, Math.round(o.rate * o.seconds));
  const maxInflight = o.maxInflight ?? 256;
  const headers = o.apiKeys.map((key) => ({
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
  }));
  const r: LoadResult = {
    planned,
    sent: 0,
    created: 0,
    failed: 0,
    skipped: 0,
    seconds: 0,
    apiLatencies: [],
    statusCodes: {},
  };
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const hardStop = t0 + o.seconds * 1000 + 5_000;
  let issued = 0;
  while (issued < planned && performance.now() < hardStop) {
    const due = Math.min(planned, Math.floor(((performance.now() - t0) * o.rate) / 1000) + 1);
    for (; issued < due; issued++) {
      if (pending.size >= maxInflight) {
        r.skipped += 1;
        continue;
      }
      r.sent += 1;
      const started = performance.now();
      const body = JSON.stringify({
        subject: `${o.label} ${issued}`,
        requester: { email: 'bench-requester@example.com' },
      });
      const p: Promise<void> = pool
        .request({
          path: '/api/tickets',
          method: 'POST',
          headers: headers[issued % headers.length],
          body,
        })
        .then(
          async (res) => {
            await res.body.text();
            r.statusCodes[res.statusCode] = (r.statusCodes[res.statusCode] ?? 0) + 1;
            if (res.statusCode === 201) r.created += 1;
            else r.failed += 1;
            r.apiLatencies.push(performance.now() - started);
          },
          () => {
            r.failed += 1;
          },
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    await sleep(1);
  }
  r.seconds = (performance.now() - t0) / 1000;
  await Promise.race([Promise.all(pending), sleep(15_000)]);
  await pool.close();
  return r;
}
