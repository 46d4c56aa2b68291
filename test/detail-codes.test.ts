/**
 * Stable codes on `details[]` entries: clients (the console among them) tell
 * a refused webhook URL's reasons apart by `code`, never by message text.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DETAIL_CODES } from '../src/errors.js';
import { forEachDialect } from './support/harness.js';
import { TICKET_HOOK, createHook, createSurvey, webhookApi } from './support/webhooks.js';

const URLS: [url: string, code: string][] = [
  ['not a url', 'invalid_url'],
  ['http://hooks.example.com/in', 'https_required'],
  ['ftp://hooks.example.com/in', 'https_required'],
  ['https://user:pass@hooks.example.com/in', 'url_credentials'],
  ['https://10.0.0.1/in', 'blocked_destination'],
  ['https://169.254.169.254/latest/meta-data/', 'blocked_destination'],
  ['https://[::1]/in', 'blocked_destination'],
  ['https://localhost/in', 'blocked_destination'],
  ['https://foo.internal./in', 'blocked_destination'],
];

it('documents every detail code in docs/errors.md', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  for (const code of Object.keys(DETAIL_CODES)) {
    expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|`));
  }
});

forEachDialect('detail codes of refused webhook URLs', (h) => {
  it('gives each refused URL its code, on create and update, for both kinds of webhook', async () => {
    const org = await h.createOrg();
    const tickets = webhookApi(h, org);
    const surveys = webhookApi(h, org, `/api/surveys/${await createSurvey(h, org)}/webhooks`);
    const hook = await createHook(tickets);
    for (const [url, code] of URLS) {
      for (const res of [
        await tickets.create({ ...TICKET_HOOK, url }),
        await tickets.patch(hook.id, { url }),
        await surveys.create({ name: 'Survey hook', url }),
      ]) {
        expect(res.statusCode, url).toBe(400);
        expect(res.json().error.code).toBe('validation_failed');
        expect(res.json().error.details, url).toEqual([
          { field: 'url', message: expect.any(String), in: 'body', code },
        ]);
      }
    }
  });

  it('leaves the other problems without a code', async () => {
    const org = await h.createOrg();
    const res = await webhookApi(h, org).create({
      ...TICKET_HOOK,
      name: '',
      url: 'https://10.0.0.1/in',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.statusCode).toBe(400);
    const details = res.json().error.details as { field: string; code?: string }[];
    expect(details.map((d) => [d.field, d.code])).toEqual([
      ['name', undefined],
      ['url', 'blocked_destination'],
      ['headers.Content-Type', undefined],
    ]);
  });
});
