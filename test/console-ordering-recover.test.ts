/**
 * The console's pages for payload filters, ordered delivery, recovering a
 * time range and `webhook.disabled`: a filter set through the form (text
 * that is not JSON named on the field before anything is sent, the API's
 * refusal of an operator under the field, a valid one read back and shown in
 * the list), the ordering choice, a recovery of events missed while the
 * webhook was disabled followed to "done" with the API's count, the refusal
 * of a recovery on a disabled webhook, and a delivery held back by an earlier
 * one of its ticket. A real `hookdesk serve` child on the suite's database
 * (both dialects), a local HTTPS receiver, and Debian's Chromium; set-up
 * shared with the other console suites in test/support/browser.ts.
 * Screenshots land in test-artifacts/screenshots/ (git-ignored).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_QUESTIONS } from './support/fuzz.js';
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

const DAY_MS = 86_400_000;
const EXAMPLE = { 'data.ticket.priority': { $in: ['high', 'urgent'] } };
const TICKETS_MISSED = 3;

noteSkipped('Console ordering and recovery tests');

beforeAll(buildConsoleIfStale, 150_000);

/** An instant as an `<input type="datetime-local">` value, in local time (as the console does). */
function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

interface Hook {
  id: string;
  name: string;
  active: boolean;
  filter: Record<string, unknown> | null;
  ordering: 'none' | 'ticket';
}

forEachDialect('console: filters, ordering and recovery', (h) => {
  describe.skipIf(!RUN_BROWSER_TESTS)('in Chromium', { timeout: 60_000 }, () => {
    const receiver = useReceiver();
    let org: Org;
    let dir = '';
    let base = '';
    let child: ChildProcess | undefined;
    let context: BrowserContext | undefined;
    let page: Page;
    const errors: BrowserErrors = { page: [], console: [] };
    // Webhooks deleted through the API while the list shows them: the list's
    // ten-second refresh may ask for one's stats after it is gone (a 404).
    const deletedIds: string[] = [];

    const api = (method: string, path: string, body?: unknown) =>
      callApi(base, org.headers, method, path, body);
    const hook = (id: string): Promise<Hook> => api('GET', `/api/webhooks/${id}`);
    const hookNamed = async (name: string): Promise<Hook | undefined> =>
      (await api('GET', '/api/webhooks')).data.find((w: Hook) => w.name === name);
    const shot = (name: string) =>
      page.screenshot({ path: join(SHOTS, `ordering-${h.dialect}-${name}.png`), fullPage: true });
    const row = (text: string) => page.getByRole('row').filter({ hasText: text });
    const nav = (name: string) =>
      page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name });
    const webhooksPage = async () => {
      await nav('Webhooks').click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    };
    const ticket = (subject: string) =>
      api('POST', '/api/tickets', { subject, requester: { email: 'pat@example.com' } });

    beforeAll(async () => {
      receiver.respond = (req) => {
        // The ordered webhook's receiver refuses each ticket's first event:
        // with a ten-minute retry, it holds back the ticket's later ones.
        if (req.path === '/ordered' && req.headers['x-webhook-event'] === 'ticket.created') {
          return { status: 500, body: 'not yet' };
        }
        return { status: 200, body: 'ok' };
      };
      mkdirSync(SHOTS, { recursive: true });
      org = await h.createOrg();
      dir = mkdtempSync(join(tmpdir(), 'hookdesk-console-ordering-'));
      ({ base, child } = await serveConsole({ DATABASE_URL: h.databaseUrl }));
      await api('POST', '/api/surveys', { name: 'CSAT', questions: FIXTURE_QUESTIONS });
      context = await launchChromium(join(dir, 'chromium-profile'));
      page = await firstPage(context, errors);

      await page.goto(`${base}/webhooks`);
      await page.getByLabel('API key').fill(org.apiKey);
      await page.getByLabel('API key').press('Enter');
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    }, 120_000);

    afterAll(() => closeConsole(context, child, dir), 30_000);

    it('offers webhook.disabled to ticket webhooks only, in the form and the event log', async () => {
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByRole('heading', { name: 'New webhook' }).waitFor();
      await page.getByRole('checkbox', { name: 'webhook.disabled' }).waitFor();
      await page.getByLabel('Survey webhook').check();
      await page.getByRole('checkbox', { name: 'survey.response_completed' }).waitFor();
      expect(await page.getByRole('checkbox', { name: 'webhook.disabled' }).count()).toBe(0);
      // A survey webhook orders by response, and says so.
      await page.getByLabel('One survey response at a time, in order').waitFor();
      await page.getByRole('link', { name: 'Cancel' }).click();
      await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();

      await nav('Events').click();
      await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
      const types = await page.getByLabel('Event type').locator('option').allInnerTexts();
      expect(types).toContain('webhook.disabled');
    });

    it('sets a filter through the form: not JSON, refused by the API, then saved', async () => {
      await webhooksPage();
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByRole('heading', { name: 'New webhook' }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill('Filtered');
      await page.getByLabel('URL', { exact: true }).fill(receiver.url('/filtered'));
      await page.getByRole('checkbox', { name: 'ticket.created' }).check();
      await page.getByLabel('No signature').check(); // straight back to the list on create
      const filter = page.getByLabel('Payload filter (JSON)');
      const create = page.getByRole('button', { name: 'Create webhook' });
      const filterError = page.locator('#wh-filter-error');
      await page.getByText('data.ticket.priority').first().waitFor(); // the help's example

      // Not JSON: named on the field by the console, nothing sent.
      await filter.fill('{"data.ticket.priority": ');
      await create.click();
      await filterError.getByText(/^Payload filter \(JSON\) is not valid JSON \(.+\)\.$/).waitFor();
      expect(await filter.getAttribute('aria-invalid')).toBe('true');
      expect(await hookNamed('Filtered')).toBeUndefined();

      // JSON, but an operator the API does not know: its message under the field.
      await filter.fill('{"data.ticket.priority": {"$regex": "^hi"}}');
      await create.click();
      await filterError
        .getByText('Payload filter (JSON): data.ticket.priority.$regex is not a known operator')
        .waitFor();
      await page.getByText('The webhook was not saved. Fix the fields marked below.').waitFor();
      expect(await filter.getAttribute('aria-invalid')).toBe('true');
      expect(await hookNamed('Filtered')).toBeUndefined();
      await shot('filter-refused');

      await filter.fill(JSON.stringify(EXAMPLE));
      await create.click();
      await page.getByText('Filtered was created.').waitFor();
      const created = (await hookNamed('Filtered'))!;
      expect(created.filter).toEqual(EXAMPLE);
      expect(created.ordering).toBe('none');
      await row('Filtered')
        .getByTestId('filter')
        .getByText(JSON.stringify(EXAMPLE), { exact: true })
        .waitFor();
      expect(await row('Filtered').getByTestId('ordering').innerText()).toBe('Ordering: none');

      // Read back into the form as it is stored; saving without a change sends none.
      await row('Filtered').getByRole('link', { name: 'Edit' }).click();
      await page.getByRole('heading', { name: 'Edit Filtered' }).waitFor();
      expect(JSON.parse(await filter.inputValue())).toEqual(EXAMPLE);
      expect(await page.getByLabel('None (deliveries may arrive in any order)').isChecked()).toBe(
        true,
      );
      await page.getByLabel('One ticket at a time, in order').check();
      await page.getByText('head-of-line blocking').waitFor();
      await shot('ordering-form');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Filtered was saved.').waitFor();
      // The list shows the saved webhook once the directory has reloaded.
      await row('Filtered')
        .getByTestId('ordering')
        .getByText('Ordering: one ticket at a time, in order', { exact: true })
        .waitFor();
      const saved = await hook(created.id);
      expect(saved.ordering).toBe('ticket');
      expect(saved.filter).toEqual(EXAMPLE);
      await shot('filter-list');

      // An emptied filter is none: every subscribed event.
      await row('Filtered').getByRole('link', { name: 'Edit' }).click();
      await page.getByRole('heading', { name: 'Edit Filtered' }).waitFor();
      await filter.fill('');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Filtered was saved.').waitFor();
      await row('Filtered')
        .getByTestId('filter')
        .getByText('Filter: none', { exact: true })
        .waitFor();
      expect((await hook(created.id)).filter).toBeNull();
      expect((await hook(created.id)).ordering).toBe('ticket');
      // Not in the way of the next tests' tickets.
      deletedIds.push(created.id);
      await api('DELETE', `/api/webhooks/${created.id}`);
    });

    it('recovers what a webhook missed while disabled, with live progress to done', async () => {
      const missed = await api('POST', '/api/webhooks', {
        name: 'Missed',
        url: receiver.url('/missed'),
        events: ['ticket.created'],
      });
      await api('PATCH', `/api/webhooks/${missed.id}`, { active: false });
      for (let i = 1; i <= TICKETS_MISSED; i++) await ticket(`Missed ${i}`);
      await api('PATCH', `/api/webhooks/${missed.id}`, { active: true });
      // The organization's only ticket events: each one missed by the webhook.
      const events = await api('GET', '/api/events?type=ticket.created');
      expect(events.data).toHaveLength(TICKETS_MISSED);
      expect((await api('GET', `/api/webhooks/${missed.id}/deliveries`)).data).toEqual([]);

      await page.reload();
      await row('Missed').getByRole('button', { name: 'Recover…' }).click();
      const panel = page.getByRole('region', { name: 'Recover missed events for Missed' });
      const since = panel.getByLabel('Since');
      const untilField = panel.getByLabel('Until (optional)');
      const recover = panel.getByRole('button', { name: 'Recover', exact: true });
      // 24 hours ago filled in, in local time to the minute.
      const shown = new Date((await since.inputValue()) + ':00').getTime();
      expect(Math.abs(shown - (Date.now() - DAY_MS))).toBeLessThan(120_000);
      expect(await untilField.inputValue()).toBe('');

      // The API's refusals, under their fields: older than the retention, and a reversed range.
      await since.fill(localInput(Date.now() - 40 * DAY_MS));
      await recover.click();
      await panel
        .locator('#recover-since-error')
        .getByText('Since must not be older than the event retention (30 days')
        .waitFor();
      expect(await since.getAttribute('aria-invalid')).toBe('true');
      await since.fill(localInput(Date.now() - 2 * 3_600_000));
      await untilField.fill(localInput(Date.now() - 3 * 3_600_000));
      await recover.click();
      await panel
        .locator('#recover-since-error')
        .getByText('Since must be before until.')
        .waitFor();
      await panel.getByText('Nothing was recovered. Fix the fields marked below.').waitFor();

      const from = localInput(Date.now() - DAY_MS);
      await since.fill(from);
      await untilField.fill('');
      const before = Date.now();
      await recover.click();
      const status = panel.getByTestId('recovery-status');
      // The 202's answer first, read again every second until the job is done.
      await status.getByText('Running').waitFor();
      await status.getByText('Done').waitFor();
      const after = Date.now();
      expect(await panel.getByTestId('recovery-queued').innerText()).toBe(String(TICKETS_MISSED));
      const [start, end] = await panel
        .getByTestId('recovery-range')
        .locator('time')
        .evaluateAll((times) => times.map((t) => t.getAttribute('datetime')!));
      expect(start).toBe(new Date(from).toISOString());
      expect(Date.parse(end)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(end)).toBeLessThanOrEqual(after + 1000);
      await shot('recover-done');

      // What it queued is what the API has: one delivery per missed event, sent.
      await until('the recovered deliveries to be sent', async () => {
        const log = await api('GET', `/api/webhooks/${missed.id}/deliveries?status=succeeded`);
        return log.data.length === TICKETS_MISSED;
      });
      expect(receiver.received.filter((r) => r.path === '/missed')).toHaveLength(TICKETS_MISSED);
      await panel.getByRole('link', { name: 'see them in the delivery log' }).click();
      await page.getByRole('heading', { name: 'Deliveries of Missed' }).waitFor();
    });

    it('says a disabled webhook must be enabled first, and shows the API’s 409', async () => {
      const missed = (await hookNamed('Missed'))!;
      await api('PATCH', `/api/webhooks/${missed.id}`, { active: false });
      await webhooksPage();
      await row('Missed').getByText('Disabled', { exact: true }).waitFor();
      await row('Missed').getByRole('button', { name: 'Recover…' }).click();
      const panel = page.getByRole('region', { name: 'Recover missed events for Missed' });
      await panel.getByText('This webhook is disabled').waitFor();
      await panel.getByRole('button', { name: 'Recover', exact: true }).click();
      await panel
        .getByRole('alert')
        .getByText('The webhook is not active; set it active before recovering.')
        .waitFor();
      await shot('recover-inactive');
      await panel.getByRole('button', { name: 'Close' }).click();
      await panel.waitFor({ state: 'hidden' });
    });

    it('shows a delivery held back by an earlier one of its ticket, with a link to it', async () => {
      const ordered = await api('POST', '/api/webhooks', {
        name: 'Ordered',
        url: receiver.url('/ordered'),
        events: ['ticket.created', 'ticket.updated'],
        ordering: 'ticket',
        retryPolicy: [600],
      });
      const created = await ticket('In order');
      let first = '';
      await until('the first delivery to fail once', async () => {
        const log = await api('GET', `/api/webhooks/${ordered.id}/deliveries`);
        first = log.data.find((d: { attemptCount: number }) => d.attemptCount > 0)?.id ?? '';
        return first !== '';
      });
      await api('PATCH', `/api/tickets/${created.id}`, { subject: 'In order, changed' });
      let second = '';
      await until('the later delivery to be held back', async () => {
        const log = await api(
          'GET',
          `/api/webhooks/${ordered.id}/deliveries?eventType=ticket.updated`,
        );
        second = log.data[0]?.id ?? '';
        if (!second) return false;
        const d = await api('GET', `/api/webhooks/${ordered.id}/deliveries/${second}`);
        return d.heldBackBy?.deliveryId === first;
      });

      // Created beside the browser: a reload shows it at once (the list refreshes every 10 s).
      await page.reload();
      await row('Ordered').getByRole('link', { name: 'Deliveries' }).click();
      await page.getByRole('heading', { name: 'Deliveries of Ordered' }).waitFor();
      await page.getByRole('link', { name: 'ticket.updated' }).click();
      await page.getByRole('heading', { name: 'Delivery of ticket.updated' }).waitFor();
      const line = page.getByTestId('held-back');
      expect(await line.innerText()).toMatch(
        new RegExp(
          `^Waiting for an earlier delivery of the same ticket: ${first} \\(pending\\)\\.`,
        ),
      );
      await page.getByTestId('delivery-status').getByText('Pending').waitFor();
      await page.getByText('No attempt yet').waitFor();
      await shot('held-back');

      await line.getByRole('link', { name: first }).click();
      await page.getByRole('heading', { name: 'Delivery of ticket.created' }).waitFor();
      await page.getByRole('heading', { name: 'Attempt 1: HTTP 500' }).waitFor();
      expect(page.url()).toBe(`${base}/deliveries/${ordered.id}/${first}`);
      // The head of the line waits for nothing.
      expect(await page.getByTestId('held-back').count()).toBe(0);
      expect(receiver.received.filter((r) => r.path === '/ordered')).toHaveLength(1);
      // No retry ten minutes later in the middle of another suite.
      await api('PATCH', `/api/webhooks/${ordered.id}`, { active: false });
    });

    it('logged no script errors', () => {
      expect(errors.page).toEqual([]);
      // The browser logs each refusal the tests provoked (400 filter and range,
      // 409 inactive), and maybe a 404 for a webhook deleted beside the page.
      const provoked = (e: string) =>
        /^Failed to load resource: the server responded with a status of 40[09]/.test(e) ||
        (/^Failed to load resource: the server responded with a status of 404/.test(e) &&
          deletedIds.some((id) => e.includes(`/api/webhooks/${id}/`)));
      expect(errors.console.filter((e) => !provoked(e))).toEqual([]);
    });
  });
});
