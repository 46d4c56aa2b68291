/**
 * `hookdesk serve` as a real process: the API on the main thread, the
 * background roles on a thread (src/cli/background-thread.ts) and, with
 * HOOKDESK_WORKER_THREADS=2, a second delivery thread, each with its own
 * connection. Tickets created through the API are delivered to a real HTTPS
 * receiver; /metrics sums both threads' attempts with the main thread's
 * gauges once; SIGTERM stops them all cleanly.
 */
import { afterEach, expect, it } from 'vitest';
import { freePort } from './support/cli.js';
import { forEachDialect } from './support/harness.js';
import { CA_FILE, useReceiver } from './support/receiver.js';
import { ApiClient, HookdeskProcess, sleep, until } from './support/processes.js';

const TICKETS = 60;

forEachDialect('hookdesk serve with its background thread', (h) => {
  const receiver = useReceiver();
  let serve: HookdeskProcess | null = null;

  afterEach(async () => {
    if (serve?.running) await serve.kill();
    serve = null;
  });

  it('delivers every ticket created through the API, counts the attempts in /metrics, and stops on SIGTERM', async () => {
    const org = await h.createOrg();
    const port = await freePort();
    serve = new HookdeskProcess('serve', ['serve'], {
      DATABASE_URL: h.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
      HOOKDESK_EGRESS_CA_FILE: CA_FILE,
      LOG_LEVEL: 'info',
      HOOKDESK_WORKER_THREADS: '2',
    });
    await until(
      'two delivery workers',
      () => serve!.logged('delivery worker started').length >= 2,
      60_000,
      () => serve!.describe(),
    );
    const api = new ApiClient(`http://127.0.0.1:${port}`, org.apiKey);
    const hook = await api.call('POST', '/api/webhooks', {
      name: 'thread',
      url: receiver.url('/thread'),
      events: ['ticket.created'],
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);

    const arrivals = () => receiver.received.filter((r) => r.path === '/thread').length;
    // Ten at a time: the API takes writes while the thread claims and records.
    for (let i = 0; i < TICKETS; i += 10) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          api.call('POST', '/api/tickets', {
            subject: `ticket ${i + j}`,
            requester: { email: 'pat@example.com' },
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    }
    await until(
      `${TICKETS} arrivals`,
      () => arrivals() >= TICKETS,
      30_000,
      () => serve!.describe(),
    );
    expect(arrivals()).toBe(TICKETS);

    // The threads logged the attempts; the main thread serves the API.
    // Logged once recorded, which may follow the arrival by a batch.
    await until(
      `${TICKETS} attempt log lines`,
      () => serve!.logged('delivery attempt').length >= TICKETS,
      10_000,
      () => serve!.describe(),
    );
    const attempts = serve.logged('delivery attempt');
    expect(attempts.every((l) => l.thread === 'background' || l.thread === 'delivery')).toBe(true);

    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const succeeded =
      /^hookdesk_delivery_attempts_total\{outcome="success",error_code="none"\} (\d+)/m.exec(
        metrics,
      );
    expect(Number(succeeded?.[1])).toBe(TICKETS);
    expect(metrics).toMatch(/^hookdesk_deliveries_total\{outcome="succeeded"\} 60$/m);
    // The main thread's own series are there once each.
    expect(metrics.match(/^hookdesk_deliveries_pending /gm)).toHaveLength(1);
    expect(metrics.match(/^hookdesk_process_cpu_user_seconds_total /gm)).toHaveLength(1);

    serve.child.kill('SIGTERM');
    const exit = await Promise.race([serve.exited, sleep(20_000).then(() => null)]);
    expect(exit?.code, serve.describe()).toBe(0);
  });
});
