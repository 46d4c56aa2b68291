/**
 * The console's pages for what receivers and admins ask of a webhook:
 * rotating its secret (shown once, with the overlap's end), its rate limit,
 * and what a receiver asked for in its answer (429/503 with Retry-After, 410
 * Gone). A real `hookdesk serve` child on the suite's database (both
 * dialects), a local HTTPS receiver, and Debian's Chromium; set-up shared
 * with the other console suites in test/support/browser.ts. Screenshots land
 * in test-artifacts/screenshots/ (git-ignored).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../src/delivery/signature.js';
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
import { forEachDialect, type Org } from './support/harness.js';
import { useReceiver } from './support/receiver.js';

const SECRET = 'receivers-test-secret-0123456789';
const HOUR_MS = 3_600_000;

noteSkipped('Console receiver tests');

beforeAll(buildConsoleIfStale, 150_000);

interface Hook {
  id: string;
  name: string;
  active: boolean;
  disabledReason: string | null;
  rateLimitPerSecond: number | null;
  previousSecretExpiresAt: string | null;
}

forEachDialect('console: secrets, rate limits and receiver answers', (h) => {
  describe.skipIf(!RUN_BROWSER_TESTS)('in Chromium', { timeout: 60_000 }, () => {
    const receiver = useReceiver();
    let org: Org;
    let dir = '';
    let base = '';
    let child: ChildProcess | undefined;
    let context: BrowserContext | undefined;
    let page: Page;
    const errors: BrowserErrors = { page: [], console: [] };

    const api = (method: string, path: string, body?: unknown) =>
      callApi(base, org.headers, method, path, body);
    const hook = (id: string): Promise<Hook> => api('GET', `/api/webhooks/${id}`);
    const shot = (name: string) =>
      page.screenshot({ path: join(SHOTS, `receivers-${h.dialect}-${name}.png`), fullPage: true });
    const row = (text: string) => page.getByRole('row').filter({ hasText: text });
    const nav = (name: string) =>
      page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name });
    const webhooksPage = async () => {
      await nav('Webhooks').click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    };
    /** The first delivery of a webhook, once its first attempt is recorded. */
    const firstAttempted = async (webhookId: string) => {
      let id = '';
      await until('the first attempt', async () => {
        const page = await api('GET', `/api/webhooks/${webhookId}/deliveries`);
        const d = page.data.find((x: { attemptCount: number }) => x.attemptCount > 0);
        id = d?.id ?? '';
        return id !== '';
      });
      return api('GET', `/api/webhooks/${webhookId}/deliveries/${id}`);
    };
    const openDelivery = async (name: string) => {
      await webhooksPage();
      await row(name).getByRole('link', { name: 'Deliveries' }).click();
      await page.getByRole('heading', { name: `Deliveries of ${name}` }).waitFor();
      await page.getByRole('link', { name: 'ticket.created' }).first().click();
      await page.getByRole('heading', { name: 'Delivery of ticket.created' }).waitFor();
    };

    beforeAll(async () => {
      receiver.respond = (req) => {
        if (req.path === '/busy') {
          return { status: 429, headers: { 'retry-after': '120' }, body: 'slow down' };
        }
        if (req.path === '/gone') return { status: 410, body: 'this endpoint is gone' };
        return { status: 200, body: 'ok' };
      };
      mkdirSync(SHOTS, { recursive: true });
      org = await h.createOrg();
      dir = mkdtempSync(join(tmpdir(), 'hookdesk-console-receivers-'));
      ({ base, child } = await serveConsole({ DATABASE_URL: h.databaseUrl }));
      context = await launchChromium(join(dir, 'chromium-profile'));
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
      page = await firstPage(context, errors);

      await page.goto(`${base}/webhooks`);
      await page.getByLabel('API key').fill(org.apiKey);
      await page.getByLabel('API key').press('Enter');
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    }, 120_000);

    afterAll(() => closeConsole(context, child, dir), 30_000);

    it('rotates a secret: shown once with a copy button and the overlap’s end', async () => {
      const created = await api('POST', '/api/webhooks', {
        name: 'Receiver',
        url: receiver.url('/hook'),
        events: ['ticket.created'],
        secret: SECRET,
      });
      await page.reload();
      await row('Receiver').getByTestId('rate-limit').waitFor();
      expect(await row('Receiver').getByTestId('previous-secret').count()).toBe(0);
      await row('Receiver').getByRole('button', { name: 'Rotate secret' }).click();
      const panel = page.getByRole('region', { name: 'Rotate the secret of Receiver' });
      expect(await panel.getByLabel('Overlap (hours)').inputValue()).toBe('24');

      // The API's own refusal, under its field; nothing rotated.
      await panel.getByLabel('Overlap (hours)').fill('169');
      await panel.getByRole('button', { name: 'Rotate secret' }).click();
      await panel.getByText('Overlap (hours) must be at most 168.').waitFor();
      expect(await panel.getByLabel('Overlap (hours)').getAttribute('aria-invalid')).toBe('true');
      expect((await hook(created.id)).previousSecretExpiresAt).toBeNull();

      await panel.getByLabel('Overlap (hours)').fill('24');
      const before = Date.now();
      await panel.getByRole('button', { name: 'Rotate secret' }).click();
      const shown = await panel.getByTestId('new-secret').innerText();
      const after = Date.now();
      expect(shown).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      await panel.getByText('This is the only time the new secret is shown').waitFor();
      const end = panel.getByTestId('overlap-end');
      expect(await end.innerText()).toContain('The previous secret keeps signing until');
      const expires = (await hook(created.id)).previousSecretExpiresAt!;
      expect(Date.parse(expires)).toBeGreaterThanOrEqual(before + 24 * HOUR_MS - 1000);
      expect(Date.parse(expires)).toBeLessThanOrEqual(after + 24 * HOUR_MS + 1000);
      expect(await end.locator('time').getAttribute('datetime')).toBe(expires);
      // The list shows the overlap too, from the webhook itself.
      await row('Receiver')
        .getByTestId('previous-secret')
        .getByText('Previous secret signs until')
        .waitFor();

      await panel.getByRole('button', { name: 'Copy new secret of Receiver' }).click();
      await panel.getByText('Copied').waitFor();
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(shown);
      await shot('rotate-secret');

      // The shown secret is the one that signs, and the old one still does.
      const received = receiver.received.length;
      await row('Receiver').getByRole('button', { name: 'Send test' }).click();
      await page.getByTestId('test-status').getByText('200').waitFor();
      const sent = receiver.received.slice(received).at(-1)!;
      const header = String(sent.headers['x-webhook-signature']);
      expect(verifyWebhookSignature(shown, sent.body, header)).toBe(true);
      expect(verifyWebhookSignature(SECRET, sent.body, header)).toBe(true);

      // Gone after leaving the page: the API never shows it again, nor does the console.
      await nav('Deliveries').click();
      await page.getByRole('heading', { name: 'Deliveries of Receiver' }).waitFor();
      await webhooksPage();
      await row('Receiver').getByTestId('previous-secret').waitFor();
      expect(await page.getByRole('region', { name: /Rotate the secret/ }).count()).toBe(0);
      expect(await page.content()).not.toContain(shown);

      // Without overlap the old secret stops at once, and the list says nothing of it.
      await row('Receiver').getByRole('button', { name: 'Rotate secret' }).click();
      await panel.getByLabel('Overlap (hours)').fill('0');
      await panel.getByRole('button', { name: 'Rotate secret' }).click();
      await panel
        .getByTestId('overlap-end')
        .getByText('No overlap: the previous secret stopped signing at once.')
        .waitFor();
      expect((await hook(created.id)).previousSecretExpiresAt).toBeNull();
      await until(
        'the overlap to leave the list',
        async () => (await row('Receiver').getByTestId('previous-secret').count()) === 0,
      );
      await panel.getByRole('button', { name: 'Close' }).first().click();
      await panel.waitFor({ state: 'hidden' });
      expect(await page.getByTestId('new-secret').count()).toBe(0);
    });

    it('creates a webhook signed by default: the generated secret shown once', async () => {
      await webhooksPage();
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByRole('heading', { name: 'New webhook' }).waitFor();
      expect(await page.getByLabel('Generate a secret (recommended)').isChecked()).toBe(true);
      await page.getByLabel('Name', { exact: true }).fill('Generated');
      await page.getByLabel('URL', { exact: true }).fill(receiver.url('/generated'));
      await page.getByRole('checkbox', { name: 'ticket.created' }).check();
      await page.getByRole('button', { name: 'Create webhook' }).click();
      await page.getByRole('heading', { name: 'Generated was created' }).waitFor();
      const shown = await page.getByTestId('new-secret').innerText();
      expect(shown).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      await page.getByRole('button', { name: 'Copy signing secret of Generated' }).click();
      await page.getByText('Copied').waitFor();
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(shown);

      // The shown secret is the one that signs; the list shows it signed, and never the secret.
      await page.getByRole('link', { name: 'Done' }).click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
      expect(await row('Generated').getByTestId('unsigned').count()).toBe(0);
      expect(await page.content()).not.toContain(shown);
      const received = receiver.received.length;
      await row('Generated').getByRole('button', { name: 'Send test' }).click();
      await page.getByTestId('test-status').getByText('200').waitFor();
      const sent = receiver.received.slice(received).at(-1)!;
      const header = String(sent.headers['x-webhook-signature']);
      expect(verifyWebhookSignature(shown, sent.body, header)).toBe(true);

      // "No signature": created unsigned, straight back to the list, which says so.
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByRole('heading', { name: 'New webhook' }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill('Plain');
      await page.getByLabel('URL', { exact: true }).fill(receiver.url('/plain'));
      await page.getByRole('checkbox', { name: 'ticket.created' }).check();
      await page.getByLabel('No signature').check();
      await page.getByRole('button', { name: 'Create webhook' }).click();
      await page.getByText('Plain was created.').waitFor();
      await row('Plain').getByTestId('unsigned').getByText('unsigned').waitFor();
      await shot('created-secret');
      for (const name of ['Generated', 'Plain']) {
        const { data } = await api('GET', '/api/webhooks');
        const made = data.find((w: Hook) => w.name === name);
        await api('DELETE', `/api/webhooks/${made.id}`);
      }
      await page.reload();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    });

    it('sets and clears the rate limit, with the API’s refusal under the field', async () => {
      const field = () => page.getByLabel('Rate limit (attempts per second)');
      const edit = async () => {
        await row('Receiver').getByRole('link', { name: 'Edit' }).click();
        await page.getByRole('heading', { name: 'Edit Receiver' }).waitFor();
      };
      const save = async () => {
        await page.getByRole('button', { name: 'Save changes' }).click();
        await page.getByText('Receiver was saved.').waitFor();
      };
      const [{ id }] = (await api('GET', '/api/webhooks')).data;

      await edit();
      expect(await field().inputValue()).toBe('');
      await field().fill('5');
      await save();
      await row('Receiver').getByText('Rate limit: 5 attempts per second').waitFor();
      expect((await hook(id)).rateLimitPerSecond).toBe(5);

      await edit();
      expect(await field().inputValue()).toBe('5');
      await page.getByText('Rate limit: 5 attempts per second').waitFor();
      await field().fill('');
      await save();
      await row('Receiver').getByText('Rate limit: unlimited').waitFor();
      expect((await hook(id)).rateLimitPerSecond).toBeNull();

      await edit();
      await field().fill('0');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page
        .locator('#wh-rate-error')
        .getByText('Rate limit (attempts per second) must be at least 1.')
        .waitFor();
      expect(await field().getAttribute('aria-invalid')).toBe('true');
      expect((await hook(id)).rateLimitPerSecond).toBeNull();
      await shot('rate-limit-refused');
      await page.getByRole('link', { name: 'Cancel' }).click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    });

    it('shows a 429’s Retry-After as the receiver’s wish, and when that is', async () => {
      const busy = await api('POST', '/api/webhooks', {
        name: 'Busy',
        url: receiver.url('/busy'),
        events: ['ticket.created'],
        retryPolicy: [1],
      });
      await api('POST', '/api/tickets', {
        subject: 'Queue is long',
        requester: { email: 'pat@example.com' },
      });
      const d = await firstAttempted(busy.id);
      expect(d.attempts[0]).toMatchObject({ statusCode: 429 });
      expect(d.attempts[0].responseHeaders['retry-after']).toBe('120');
      await openDelivery('Busy');
      await page.getByRole('heading', { name: 'Attempt 1: HTTP 429' }).waitFor();
      const asked = page.getByTestId('receiver-asked');
      expect(await asked.innerText()).toMatch(
        /^Receiver asked to retry after 120 seconds, that is /,
      );
      // When that is: 120 s after the answer, which is the delivery's next attempt.
      const at = Date.parse((await asked.locator('time').getAttribute('datetime'))!);
      const a = d.attempts[0];
      expect(at).toBe(Date.parse(a.startedAt) + a.durationMs + 120_000);
      expect(Math.abs(Date.parse(d.nextAttemptAt) - at)).toBeLessThan(5_000);
      await page.getByTestId('delivery-status').getByText('Pending').waitFor();
      await page.getByTestId('delivery-status').getByText('next attempt').waitFor();
      await shot('retry-after');
      // No retry two minutes later in the middle of the next test.
      await api('PATCH', `/api/webhooks/${busy.id}`, { active: false });
    });

    it('shows a 410 as the receiver saying gone, and the webhook disabled for it', async () => {
      const gone = await api('POST', '/api/webhooks', {
        name: 'Vanished',
        url: receiver.url('/gone'),
        events: ['ticket.created'],
      });
      await api('POST', '/api/tickets', {
        subject: 'Anyone there?',
        requester: { email: 'pat@example.com' },
      });
      await until('the webhook to be disabled', async () => !(await hook(gone.id)).active);
      expect((await hook(gone.id)).disabledReason).toBe('gone');

      await webhooksPage();
      expect(await row('Vanished').getByTestId('disabled-why').innerText()).toMatch(
        /^The receiver answered 410 Gone/,
      );
      await openDelivery('Vanished');
      await page.getByRole('heading', { name: 'Attempt 1: HTTP 410' }).waitFor();
      expect(await page.getByTestId('receiver-asked').innerText()).toBe(
        'Receiver said gone: the webhook was disabled',
      );
      expect(await page.getByTestId('webhook-state').innerText()).toBe(
        'Disabled: the receiver answered 410 Gone',
      );
      await page.getByTestId('delivery-status').getByText('Failed').waitFor();
      await page.getByText('The webhook is disabled; enable it before retrying.').waitFor();
      await shot('gone');

      // The delivery log says why too; a webhook disabled by hand says so in its own words.
      await page.getByRole('link', { name: '← Deliveries of Vanished' }).click();
      await page.getByText('disabled: the receiver answered 410 Gone').waitFor();
      await webhooksPage();
      expect(await row('Busy').getByTestId('disabled-why').innerText()).toMatch(/^By hand/);
    });

    it('logged no script errors', () => {
      expect(errors.page).toEqual([]);
      // The browser logs each 4xx the tests provoked (the refused overlap and rate limit).
      expect(
        errors.console.filter(
          (e) => !/^Failed to load resource: the server responded with a status of 400/.test(e),
        ),
      ).toEqual([]);
    });
  });
});
