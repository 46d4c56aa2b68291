/**
 * What a new admin meets first in the console: the API's validation messages
 * as sentences under their fields ("Name must not be empty."), an active
 * webhook whose attempts fail shown as failing (not as a healthy "Active"),
 * an empty Notifications page that says what will appear there, and callback
 * URLs that wrap only after their separators, at a phone's width and a
 * desktop's. A real `hookdesk serve` child on the suite's database (both
 * dialects), a local HTTPS receiver, and Debian's Chromium; set-up shared
 * with the other console suites in test/support/browser.ts. Screenshots land
 * in test-artifacts/screenshots/ (git-ignored).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/** Where UrlText (console/src/ui.tsx) lets a URL wrap: after one of these. */
const URL_SEPARATORS = '/?&=@#:';

noteSkipped('Console newcomer tests');

beforeAll(buildConsoleIfStale, 150_000);

/**
 * The rendered lines of an element's text: where each new line starts (by
 * the top of each character's box) and the character just before it.
 */
function lineBreaks(element: Locator): Promise<{ text: string; before: string[] }> {
  return element.evaluate((el) => {
    const doc = el.ownerDocument;
    const chars: { ch: string; top: number }[] = [];
    const walker = doc.createTreeWalker(el, 4 /* NodeFilter.SHOW_TEXT */);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? '';
      for (let i = 0; i < text.length; i++) {
        const range = doc.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        chars.push({ ch: text[i]!, top: Math.round(range.getBoundingClientRect().top) });
      }
    }
    const before: string[] = [];
    for (let i = 1; i < chars.length; i++) {
      if (chars[i]!.top > chars[i - 1]!.top) before.push(chars[i - 1]!.ch);
    }
    return { text: chars.map((c) => c.ch).join(''), before };
  });
}

forEachDialect('console: what a new admin meets first', (h) => {
  describe.skipIf(!RUN_BROWSER_TESTS)('in Chromium', { timeout: 60_000 }, () => {
    const receiver = useReceiver();
    let org: Org;
    let dir = '';
    let base = '';
    let child: ChildProcess | undefined;
    let context: BrowserContext | undefined;
    let page: Page;
    const errors: BrowserErrors = { page: [], console: [] };
    let answer = 500;

    const api = (method: string, path: string, body?: unknown) =>
      callApi(base, org.headers, method, path, body);
    const shot = (name: string) =>
      page.screenshot({ path: join(SHOTS, `newcomer-${h.dialect}-${name}.png`), fullPage: true });
    const row = (text: string) => page.getByRole('row').filter({ hasText: text });
    const nav = (name: string) =>
      page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name });
    const webhooksPage = async () => {
      await nav('Webhooks').click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    };

    beforeAll(async () => {
      receiver.respond = () => ({ status: answer, body: answer === 200 ? 'ok' : 'broken' });
      mkdirSync(SHOTS, { recursive: true });
      org = await h.createOrg();
      dir = mkdtempSync(join(tmpdir(), 'hookdesk-console-newcomer-'));
      ({ base, child } = await serveConsole({
        DATABASE_URL: h.databaseUrl,
        // Channel credentials are encrypted; on PostgreSQL the key must be given.
        HOOKDESK_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      }));
      context = await launchChromium(join(dir, 'chromium-profile'));
      page = await firstPage(context, errors);

      await page.goto(`${base}/notifications`);
      await page.getByLabel('API key').fill(org.apiKey);
      await page.getByLabel('API key').press('Enter');
      await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    }, 120_000);

    afterAll(() => closeConsole(context, child, dir), 30_000);

    it('says on an empty Notifications page what will appear there', async () => {
      const limit = (await api('GET', '/api/meta')).webhooks.disableAfterConsecutiveFailures;
      const empty = page.getByTestId('no-notifications');
      // The threshold comes from GET /api/meta, loaded beside the list.
      await empty.getByText(`after ${limit} failed attempts in a row`).waitFor();
      const text = await empty.innerText();
      expect(text).toMatch(/^No notifications yet\. /);
      expect(text).toContain('by email when SMTP is set up');
      expect(text).toContain('answered 410 Gone');
      await shot('notifications-empty');
    });

    it('shows the API’s refusals as sentences starting with the field’s label', async () => {
      // The API's own words: clauses that read after the field's name.
      const refused = await fetch(`${base}/api/webhooks`, {
        method: 'POST',
        headers: { ...org.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name: '', url: receiver.url('/hook'), retryPolicy: [0] }),
      });
      expect(refused.status).toBe(400);
      const body = (await refused.json()) as {
        error: { message: string; details: { field: string; message: string }[] };
      };
      expect(body.error.details).toEqual(
        expect.arrayContaining([
          { field: 'name', message: 'must not be empty', in: 'body' },
          { field: 'events', message: 'is required', in: 'body' },
          { field: 'retryPolicy[0]', message: 'must be at least 1', in: 'body' },
        ]),
      );
      expect(body.error.message).toContain('name: must not be empty');

      await webhooksPage();
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByRole('heading', { name: 'New webhook' }).waitFor();
      // The console's own check first: nothing is sent while a header line is not "Name: value".
      await page.getByLabel('URL', { exact: true }).fill(receiver.url('/hook'));
      await page.getByRole('checkbox', { name: 'ticket.created' }).check();
      await page.getByLabel('Custom headers').fill('X-Team support');
      await page.getByRole('button', { name: 'Create webhook' }).click();
      expect(await page.locator('#wh-headers-error').innerText()).toBe(
        'Custom headers must be one “Name: value” per line (line 1 is not).',
      );

      await page.getByLabel('Custom headers').fill('X-Team: support');
      await page.getByLabel('Retry delays (seconds)').fill('0, 5');
      await page.getByRole('button', { name: 'Create webhook' }).click();
      const nameError = page.locator('#wh-name-error');
      await nameError.waitFor();
      expect(await nameError.innerText()).toBe('Name must not be empty.');
      expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe(
        'true',
      );
      expect(await page.locator('#wh-retry-error').innerText()).toBe(
        'Retry delays (seconds): item 1 must be at least 1.',
      );
      await page.getByText('The webhook was not saved. Fix the fields marked below.').waitFor();
      // No raw schema text anywhere on the page.
      expect(await page.locator('main').innerText()).not.toMatch(/must NOT|>=|required property/);
      expect((await api('GET', '/api/webhooks')).data).toEqual([]);
      await shot('field-errors');
      await page.getByRole('link', { name: 'Cancel' }).click();
    });

    it('shows an active webhook whose attempts fail as failing, until one succeeds', async () => {
      const limit = (await api('GET', '/api/meta')).webhooks.disableAfterConsecutiveFailures;
      answer = 500;
      const hook = await api('POST', '/api/webhooks', {
        name: 'Flaky receiver',
        url: receiver.url('/hook'),
        events: ['ticket.created'],
        retryPolicy: [], // one attempt per delivery: each ticket adds one failure
        secret: null,
      });
      for (const subject of ['Printer on fire', 'Printer still on fire']) {
        await api('POST', '/api/tickets', { subject, requester: { email: 'pat@example.com' } });
      }
      await until('two failed attempts in a row', async () => {
        const now = await api('GET', `/api/webhooks/${hook.id}`);
        return now.consecutiveFailures === 2;
      });
      expect((await api('GET', `/api/webhooks/${hook.id}`)).active).toBe(true);

      await webhooksPage();
      const status = row('Flaky receiver').locator('td[data-label="Status"]');
      await status.getByText('Failing', { exact: true }).waitFor();
      expect(await status.getByText('Active', { exact: true }).count()).toBe(0);
      expect(await status.getByTestId('failing').innerText()).toBe(
        `2 failed attempts in a row; disabled after ${limit} in a row`,
      );
      expect(await status.locator('.badge').getAttribute('title')).toBe(
        `2 failed attempts in a row; disabled after ${limit} in a row`,
      );
      await shot('failing');

      // A success resets the count: the webhook is simply active again.
      answer = 200;
      const deliveries = (await api('GET', `/api/webhooks/${hook.id}/deliveries`)).data;
      await api('POST', `/api/webhooks/${hook.id}/deliveries/${deliveries[0].id}/retry`);
      await until('the count to be reset', async () => {
        const now = await api('GET', `/api/webhooks/${hook.id}`);
        return now.consecutiveFailures === 0;
      });
      await page.reload();
      await status.getByText('Active', { exact: true }).waitFor();
      expect(await status.getByTestId('failing').count()).toBe(0);
    });

    it('wraps callback URLs only after their separators, on a phone and a desktop', async () => {
      await nav('Channels').click();
      await page.getByRole('heading', { name: 'Channels', level: 1 }).waitFor();
      await page.getByRole('link', { name: 'New channel' }).click();
      await page.getByLabel('Provider').selectOption('postmark');
      await page.getByLabel('Name', { exact: true }).fill('Mail in');
      await page.getByRole('button', { name: 'Create channel' }).click();
      // The URLs shown once carry the generated user and password: the longest ones.
      const once = page.getByRole('region', { name: 'Callback URLs of Mail in' });
      await once.getByText('shown only now').waitFor();
      const [channel] = (await api('GET', '/api/channels')).data;
      const urls = [
        once.getByTestId('callback-inbound'),
        once.getByTestId('callback-events'),
        row('Mail in').getByTestId('callback-inbound'),
        row('Mail in').getByTestId('callback-events'),
      ];
      for (const [width, name] of [
        [390, 'phone'],
        [1280, 'desktop'],
      ] as const) {
        await page.setViewportSize({ width, height: 844 });
        try {
          let wrapped = 0;
          for (const url of urls) {
            const { text, before } = await lineBreaks(url);
            // Exactly the URL (the copy button copies the same), broken only after a separator.
            expect(text).toBe(await url.innerText());
            expect(text).toMatch(/^http:\/\/\S+\/api\/rpc\/channels\/[\w-]{24}\/postmark\//);
            expect(
              before.filter((ch) => !URL_SEPARATORS.includes(ch)),
              text,
            ).toEqual([]);
            wrapped += before.length;
          }
          // At a phone's width the URLs do wrap, so the check above checked something.
          if (width === 390) expect(wrapped).toBeGreaterThan(0);
          expect(
            await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
          ).toBe(true);
          await shot(`callbacks-${name}`);
        } finally {
          await page.setViewportSize({ width: 1280, height: 800 });
        }
      }
      expect(Object.keys(channel.callbackUrls).sort()).toEqual(['events', 'inbound']);
    });

    it('logged no script errors', () => {
      expect(errors.page).toEqual([]);
      // The browser logs each 4xx the tests provoked (the refused webhook form).
      expect(
        errors.console.filter(
          (e) => !/^Failed to load resource: the server responded with a status of 400/.test(e),
        ),
      ).toEqual([]);
    });
  });
});
