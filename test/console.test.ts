/**
 * The admin console, end to end: the console is built (`npm run
 * build:console`, when dist/ is stale), a real `hookdesk serve` child serves
 * it with the API, and Debian's Chromium (driven by playwright-core) clicks
 * through it against a local HTTPS receiver. Screenshots of each page land in
 * test-artifacts/screenshots/ (git-ignored).
 *
 * Without /usr/bin/chromium the browser half is skipped with one line, except
 * under CI=true, where it fails (.ci/run installs Chromium). The set-up is
 * shared with the other console suites in test/support/browser.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_SPECS, CHANNEL_TYPES } from '../src/channels/channel-types.js';
import { VERSION } from '../src/version.js';
import { DEFAULT_RETRY_POLICY } from '../src/webhooks/webhooks.input.js';
import {
  RUN_BROWSER_TESTS,
  SHOTS,
  buildConsoleIfStale,
  callApi,
  closeConsole,
  firstPage,
  launchChromium,
  noteSkipped,
  serveConsole,
  until,
  type BrowserErrors,
} from './support/browser.js';
import { forEachDialect } from './support/harness.js';
import { useReceiver } from './support/receiver.js';

const KEY = 'hdk_console_test_key_0123456789abcdef';
const SECRET = 'console-test-secret-0123456789';
const TWILIO_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const TWILIO_TOKEN = 'twilio_console_test_auth_token_42';

noteSkipped('Console browser tests');

beforeAll(buildConsoleIfStale, 150_000);

forEachDialect('console pages', (h) => {
  it('serves the page at / and at every console route, with a strict CSP', async () => {
    for (const url of [
      '/',
      '/webhooks',
      '/webhooks/x/edit',
      '/deliveries/a/b',
      '/sla',
      '/channels',
      '/channels/x/edit',
    ]) {
      const res = await h.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain('text/html');
      expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
      expect(res.body).toContain('<div id="app">');
    }
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(
      (await h.request({ method: 'GET', url: '/' })).body,
    )?.[1];
    const asset = await h.request({ method: 'GET', url: script! });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('leaves every other path to the API: JSON 404s, docs and health checks', async () => {
    for (const url of ['/api/nope', '/api/webhooks/x/nope', '/assets/missing.js', '/nothing']) {
      const res = await h.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('not_found');
    }
    expect((await h.request({ method: 'GET', url: '/api/webhooks' })).statusCode).toBe(401);
    expect((await h.request({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await h.request({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toContain('/api/webhooks/{id}/stats');
    expect(Object.keys(doc.paths)).not.toContain('/webhooks');
  });
});

describe.skipIf(!RUN_BROWSER_TESTS)('admin console in Chromium', { timeout: 60_000 }, () => {
  const receiver = useReceiver();
  /** What the receiver answers on /hook; /down always fails. */
  let hookAnswer: 'ok' | 'fail' = 'ok';
  let dir = '';
  let base = '';
  let child: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  const errors: BrowserErrors = { page: [], console: [] };

  const api = (method: string, path: string, body?: unknown) =>
    callApi(base, { authorization: `Bearer ${KEY}` }, method, path, body);
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const row = (text: string) => page.getByRole('row').filter({ hasText: text });
  const deliveryRows = () =>
    page.getByRole('table', { name: 'Deliveries, newest first' }).locator('tbody tr');
  const nav = (name: string) =>
    page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name });

  beforeAll(async () => {
    receiver.respond = (req) => {
      if (req.path === '/down') return { status: 500, body: 'down for maintenance' };
      if (hookAnswer === 'fail') return { status: 500, body: 'E'.repeat(5000) };
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ received: true, by: 'console test receiver' }),
      };
    };
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'hookdesk-console-'));
    ({ base, child } = await serveConsole({
      DATABASE_URL: `sqlite:${join(dir, 'console.db')}`,
      HOOKDESK_BOOTSTRAP_API_KEY: KEY,
    }));
    context = await launchChromium(join(dir, 'chromium-profile'));
    page = await firstPage(context, errors);
  }, 120_000);

  afterAll(() => closeConsole(context, child, dir), 30_000);

  it('signs in with an API key kept in session storage', async () => {
    await page.goto(`${base}/webhooks`);
    await page.getByRole('heading', { name: 'Sign in to Hookdesk' }).waitFor();
    await shot('sign-in');
    // Where a key comes from, for someone who has none at hand.
    await page.getByText('hookdesk key create --org').waitFor();
    await page.getByLabel('API key').fill('hdk_not_a_real_key_0000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That API key is not valid').waitFor();
    // By keyboard: Enter submits.
    await page.getByLabel('API key').fill(KEY);
    await page.getByLabel('API key').press('Enter');
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    // (Expressions as strings: the test's TypeScript has no DOM library.)
    expect(await page.evaluate('sessionStorage.getItem("hookdesk.apiKey")')).toBe(KEY);
    await page.getByText('No webhooks yet').waitFor();
  });

  it('creates a webhook, after explaining why a private address is refused', async () => {
    await page.getByRole('link', { name: 'New webhook' }).click();
    await page.getByRole('heading', { name: 'New webhook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Receiver');
    await page.getByLabel('URL', { exact: true }).fill('https://10.0.0.1/hook');
    await page.getByLabel('ticket.created').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    // The API's own message under the field, and what it means in words.
    await page.getByText('The address 10.0.0.1 is').waitFor();
    expect(await page.getByTestId('ssrf-explanation').innerText()).toContain(
      'server-side request forgery',
    );
    expect(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await shot('webhook-form-ssrf');
    // Told apart by the API's detail code, not its wording: plain http gets other words.
    await page.getByLabel('URL', { exact: true }).fill('http://hooks.example.com/hook');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByTestId('https-explanation').waitFor();
    expect(await page.getByTestId('ssrf-explanation').count()).toBe(0);
    // The server's default retry policy (GET /api/meta), not a copy.
    expect(await page.getByLabel('Retry delays (seconds)').inputValue()).toBe(
      DEFAULT_RETRY_POLICY.join(', '),
    );

    await page.getByLabel('URL', { exact: true }).fill(receiver.url('/hook'));
    await page.getByLabel('Enter a secret').check();
    await page.getByLabel('Signing secret').fill(SECRET);
    await page.getByLabel('Retry delays (seconds)').fill('1, 1');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByText('Receiver was created.').waitFor();
    await row('Receiver').getByText('Active').waitFor();
    const [hook] = (await api('GET', '/api/webhooks')).data;
    expect(hook).toMatchObject({
      name: 'Receiver',
      url: receiver.url('/hook'),
      events: ['ticket.created'],
      hasSecret: true,
      retryPolicy: [1, 1],
    });
  });

  it('sends a test to the receiver and shows its answer', async () => {
    hookAnswer = 'ok';
    await row('Receiver').getByRole('button', { name: 'Send test' }).click();
    await page.getByRole('heading', { name: 'Test of Receiver' }).waitFor();
    await page.getByTestId('test-status').getByText('200').waitFor();
    await page.getByText('console test receiver').waitFor();
    expect(receiver.received.at(-1)!.headers['x-webhook-event']).toBe('webhook.test');
    await shot('send-test');
  });

  it('shows a failing delivery’s attempts as they happen, then retries it', async () => {
    hookAnswer = 'fail';
    const before = receiver.received.length;
    await api('POST', '/api/tickets', {
      subject: 'Printer on fire',
      requester: { email: 'pat@example.com' },
    });
    await row('Receiver').getByRole('link', { name: 'Deliveries' }).click();
    await page.getByRole('heading', { name: 'Deliveries of Receiver' }).waitFor();
    // The list refreshes by itself.
    await page.getByRole('link', { name: 'ticket.created' }).click();
    await page.getByRole('heading', { name: 'Delivery of ticket.created' }).waitFor();
    // Three attempts (1 + retries after 1 s and 1 s), appearing without a reload.
    await page.getByRole('heading', { name: 'Attempt 3: HTTP 500' }).waitFor({ timeout: 20_000 });
    await page.getByTestId('delivery-status').getByText('Failed').waitFor();
    expect(await page.getByTestId('truncated').count()).toBe(3);

    // The request: our headers, and the exact signature computed in the browser.
    const deliveryId = page.url().split('/').at(-1)!;
    // Both X-Webhook-Delivery and webhook-id carry the delivery id.
    expect(await page.getByRole('cell', { name: deliveryId }).count()).toBe(2);
    await row('X-Webhook-Delivery').getByRole('cell', { name: deliveryId }).waitFor();
    await row('webhook-timestamp').getByText('Unix seconds').waitFor();
    await row('webhook-signature').getByText('v1,').waitFor();
    await row('User-Agent').getByText(`Hookdesk/${VERSION}`).waitFor();
    const sent = receiver.received
      .slice(before)
      .find((r) => r.headers['x-webhook-delivery'] === deliveryId);
    expect(sent).toBeDefined();
    await page.getByLabel('Show the exact signature').fill(SECRET);
    await page.getByRole('button', { name: 'Compute signature' }).click();
    expect(await page.getByTestId('signature').innerText()).toBe(
      `X-Webhook-Signature: ${String(sent!.headers['x-webhook-signature'])}`,
    );
    await shot('delivery-failed');

    hookAnswer = 'ok';
    await page.getByRole('button', { name: 'Retry now' }).click();
    await page.getByRole('heading', { name: 'Attempt 4: HTTP 200' }).waitFor({ timeout: 20_000 });
    await page.getByTestId('delivery-status').getByText('Succeeded').waitFor();
    await shot('delivery-retried');
  });

  it('charts attempts by outcome and filters the delivery log', async () => {
    await page.getByRole('link', { name: '← Deliveries of Receiver' }).click();
    // Test deliveries are not counted: 3 failed attempts and 1 success.
    await page.getByTestId('success-rate').getByText('success rate 25.0% of 4').waitFor();
    await page.getByLabel('Status', { exact: true }).selectOption('succeeded');
    await page.getByLabel('Event type', { exact: true }).selectOption('ticket.created');
    await page.getByRole('button', { name: 'Filter' }).click();
    await until('the filtered list', async () => page.url().includes('status=succeeded'));
    await until('one matching delivery', async () => (await deliveryRows().count()) === 1);
    await page.getByRole('link', { name: 'Clear' }).click();
    await until('the whole list', async () => (await deliveryRows().count()) === 2);
    await shot('deliveries');
  });

  it('shows the event log with payloads and the deliveries each event created', async () => {
    await nav('Events').click();
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'ticket.created' }).waitFor();
    await shot('events-list');
    await page.getByRole('link', { name: 'ticket.created' }).click();
    await page.getByRole('heading', { name: 'Event ticket.created' }).waitFor();
    await page.getByText('Printer on fire').first().waitFor();
    await row('Receiver').getByRole('link', { name: 'Open delivery' }).waitFor();
    await shot('event');
  });

  it('shows the notification of a webhook disabled after 10 failures, and marks it read', async () => {
    const flaky = await api('POST', '/api/webhooks', {
      name: 'Flaky',
      url: receiver.url('/down'),
      events: ['ticket.created'],
      retryPolicy: [],
    });
    for (let i = 0; i < 10; i++) {
      await api('POST', '/api/tickets', {
        subject: `Ticket ${i}`,
        requester: { email: 'pat@example.com' },
      });
    }
    await until('Flaky to be disabled', async () => {
      const hook = await api('GET', `/api/webhooks/${flaky.id}`);
      return hook.active === false;
    });
    await nav('Notifications').click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Webhook "Flaky" was disabled' }).waitFor();
    await nav('Notifications 1 unread').waitFor();
    await shot('notifications');
    await page.getByRole('button', { name: 'Mark as read' }).click();
    await until(
      'the notification to be read',
      async () => (await page.getByRole('button', { name: 'Mark as read' }).count()) === 0,
    );
    await until(
      'the unread count to go',
      async () => (await nav('Notifications 1 unread').count()) === 0,
    );

    await nav('Webhooks').click();
    await row('Flaky').getByText('Automatically, after 10 failed attempts in a row').waitFor();
    await shot('webhooks');
  });

  it('fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await row('Flaky').getByText('Disabled', { exact: true }).waitFor();
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(
        true,
      );
      await shot('webhooks-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('edits with the API’s messages per field, enables, and deletes after confirmation', async () => {
    await row('Receiver').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Receiver' }).waitFor();
    await page.getByLabel('Custom headers').fill('Content-Type: text/plain\nX-Team: support');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Custom headers: Content-Type is set by Hookdesk').waitFor();
    await shot('webhook-edit');
    await page.getByLabel('Custom headers').fill('X-Team: support');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Receiver was saved.').waitFor();
    const hooks = (await api('GET', '/api/webhooks')).data;
    // Values are write-only: the API and the form show the mask, never the value.
    expect(hooks.find((w: { name: string }) => w.name === 'Receiver').headers).toEqual({
      'X-Team': '********',
    });
    await row('Receiver').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Receiver' }).waitFor();
    expect(await page.getByLabel('Custom headers').inputValue()).toBe('X-Team: ********');
    // Saved with one header added, the masked line keeps its value.
    await page.getByLabel('Custom headers').fill('X-Team: ********\nX-Shift: nightly-rota');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Receiver was saved.').waitFor();
    hookAnswer = 'ok';
    const before = receiver.received.length;
    await row('Receiver').getByRole('button', { name: 'Send test' }).click();
    await page.getByTestId('test-status').getByText('200').waitFor();
    const sent = receiver.received.slice(before);
    expect(sent.map((r) => [r.headers['x-team'], r.headers['x-shift']])).toEqual([
      ['support', 'nightly-rota'],
    ]);
    await page.getByRole('link', { name: 'Open this test delivery' }).click();
    await page.getByRole('row').filter({ hasText: 'X-Shift' }).getByText('********').waitFor();
    expect(await page.content()).not.toContain('nightly-rota');
    await nav('Webhooks').click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();

    await row('Flaky').getByRole('button', { name: 'Enable' }).click();
    await page.getByText('Flaky is enabled again.').waitFor();
    await row('Flaky').getByText('Active').waitFor();

    await row('Flaky').getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete Flaky?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await row('Flaky').getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByText('Flaky was deleted.').waitFor();
    expect((await api('GET', '/api/webhooks')).data).toHaveLength(1);
  });

  it('views and edits the SLA policy', async () => {
    await nav('SLA policy').click();
    await page.getByRole('heading', { name: 'SLA policy', level: 1 }).waitFor();
    const urgent = page.getByRole('group', { name: 'Urgent priority' });
    expect(await urgent.getByLabel('First response (minutes)').inputValue()).toBe('60');
    await urgent.getByLabel('First response (minutes)').fill('0');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await urgent.getByText('First response (minutes) must be at least 1.').waitFor();
    await urgent.getByLabel('First response (minutes)').fill('30');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await api('GET', '/api/sla-policy')).priorities.urgent.firstResponseMinutes).toBe(30);
    await shot('sla');
  });

  it('connects a provider channel, lists its callback URLs, edits and deletes it', async () => {
    const port = new URL(base).port;
    await nav('Channels').click();
    await page.getByRole('heading', { name: 'Channels', level: 1 }).waitFor();
    await page.getByText('No channels yet').waitFor();
    await page.getByRole('link', { name: 'New channel' }).click();
    await page.getByRole('heading', { name: 'New channel' }).waitFor();
    // Every type the server knows, by its own labels (GET /api/meta).
    expect(await page.getByLabel('Provider').locator('option').allInnerTexts()).toEqual(
      CHANNEL_TYPES.map((t) => CHANNEL_SPECS[t].label),
    );
    await page.getByLabel('Provider').selectOption('twilio_sms');
    await page.getByLabel('Name', { exact: true }).fill('Support SMS');
    await page.getByLabel('Account SID').fill('SK123');
    await page.getByLabel('Auth token').fill(TWILIO_TOKEN);
    await page.getByLabel('Phone number', { exact: true }).fill('+1 415 555 0100');
    await page.getByRole('button', { name: 'Create channel' }).click();
    // The API's own message under its field; nothing was created.
    await page.getByText('Account SID must be AC followed by 32 hex digits.').waitFor();
    expect(await page.getByLabel('Account SID').getAttribute('aria-invalid')).toBe('true');
    expect((await api('GET', '/api/channels')).data).toEqual([]);
    await shot('channel-form-invalid');

    await page.getByLabel('Account SID').fill(TWILIO_SID);
    await page.getByRole('button', { name: 'Create channel' }).click();
    await page.getByText('Support SMS was created.').waitFor();
    const [channel] = (await api('GET', '/api/channels')).data;
    expect(channel).toMatchObject({
      type: 'twilio_sms',
      name: 'Support SMS',
      config: { accountSid: TWILIO_SID, phoneNumber: '+14155550100' },
    });
    // HOOKDESK_PUBLIC_URL (default http://localhost:PORT) + /api/rpc/channels/{routeKey}/twilio/{kind}.
    const routeKey =
      /^http:\/\/localhost:\d+\/api\/rpc\/channels\/([\w-]{24})\/twilio\/inbound$/.exec(
        channel.callbackUrls.inbound,
      )?.[1];
    expect(channel.callbackUrls).toEqual({
      inbound: `http://localhost:${port}/api/rpc/channels/${routeKey}/twilio/inbound`,
      status: `http://localhost:${port}/api/rpc/channels/${routeKey}/twilio/status`,
    });
    const listed = row('Support SMS');
    expect(await listed.getByTestId('callback-inbound').innerText()).toBe(
      channel.callbackUrls.inbound,
    );
    expect(await listed.getByTestId('callback-status').innerText()).toBe(
      channel.callbackUrls.status,
    );
    await listed.getByText('Auth token: stored, encrypted').waitFor();
    await page.getByText('which providers cannot reach').waitFor();
    expect(await page.content()).not.toContain(TWILIO_TOKEN);
    // The listed URL is live: an unsigned request is refused, not unknown.
    const inboundPath = new URL(channel.callbackUrls.inbound).pathname;
    const unsigned = await fetch(`${base}${inboundPath}`, { method: 'POST' });
    await unsigned.text();
    expect([401, 403]).toContain(unsigned.status);
    await shot('channels');

    // Postmark's generated credentials ride in the URLs shown once, after creation.
    await page.getByRole('link', { name: 'New channel' }).click();
    await page.getByLabel('Provider').selectOption('postmark');
    await page.getByLabel('Name', { exact: true }).fill('Mail in');
    await page.getByRole('button', { name: 'Create channel' }).click();
    const once = page.getByRole('region', { name: 'Callback URLs of Mail in' });
    await once.getByText('shown only now').waitFor();
    const revealed = await once.getByTestId('callback-inbound').innerText();
    expect(revealed).toMatch(
      /^http:\/\/hd_[\w-]+:[\w-]+@localhost:\d+\/api\/rpc\/channels\/[\w-]{24}\/postmark\/inbound$/,
    );
    expect(await row('Mail in').getByTestId('callback-inbound').innerText()).not.toContain('@');
    await row('Mail in').getByText('Shown without its user and password').first().waitFor();
    await context!.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await once.getByRole('button', { name: 'Copy inbound URL of Mail in' }).click();
    await once.getByText('Copied').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(revealed);
    await shot('channel-created-once');
    await once.getByRole('button', { name: 'Close' }).click();

    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await row('Support SMS').getByTestId('callback-inbound').waitFor();
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(
        true,
      );
      await shot('channels-phone');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }

    await row('Support SMS').getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Support SMS' }).waitFor();
    expect(await page.getByLabel('Account SID').inputValue()).toBe(TWILIO_SID);
    expect(await page.getByLabel('New auth token').inputValue()).toBe('');
    await page.getByLabel('Name', { exact: true }).fill('Support texts');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Support texts was saved.').waitFor();
    expect(await api('GET', `/api/channels/${channel.id}`)).toEqual({
      ...channel,
      name: 'Support texts',
    });

    for (const name of ['Support texts', 'Mail in']) {
      await row(name).getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: `Delete ${name}?` });
      await dialog.getByRole('button', { name: 'Delete channel' }).click();
      await page.getByText(`${name} was deleted.`).waitFor();
    }
    expect((await api('GET', '/api/channels')).data).toEqual([]);
    await page.getByText('No channels yet').waitFor();
    const gone = await fetch(`${base}${inboundPath}`, { method: 'POST' });
    await gone.text();
    expect(gone.status).toBe(404);
  });

  it('logged no script errors', () => {
    expect(errors.page).toEqual([]);
    expect(errors.console.length).toBeGreaterThan(0); // the provoked 4xx below: the listener works
    // The browser itself logs each 4xx answer the tests provoked on purpose
    // (the wrong key, the refused URLs, the bad header, the bad SLA target).
    expect(
      errors.console.filter(
        (e) => !/^Failed to load resource: the server responded with a status of 40[01]/.test(e),
      ),
    ).toEqual([]);
  });
});
