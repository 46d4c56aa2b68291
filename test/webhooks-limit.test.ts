/**
 * HOOKDESK_MAX_WEBHOOKS_PER_ORG: an organization's ticket and survey webhooks
 * together stay within the limit (3 here), also when creates race on
 * PostgreSQL; other organizations are not affected.
 */
import { expect, it } from 'vitest';
import { forEachDialect } from './support/harness.js';
import {
  countWebhooks,
  createHook,
  createSurvey,
  SURVEY_HOOK,
  TICKET_HOOK,
  webhookApi,
} from './support/webhooks.js';

forEachDialect(
  'webhooks per organization',
  (h) => {
    it('refuses the webhook past the limit with 409, counting survey webhooks too', async () => {
      const org = await h.createOrg();
      const tickets = webhookApi(h, org);
      const survey = webhookApi(h, org, `/api/surveys/${await createSurvey(h, org)}/webhooks`);
      await createHook(tickets);
      await createHook(survey);
      const third = await createHook(tickets);
      for (const api of [tickets, survey]) {
        const res = await api.create(api.survey ? SURVEY_HOOK : TICKET_HOOK);
        expect(res.statusCode).toBe(409);
        expect(res.json().error.code).toBe('conflict');
        expect(res.json().error.message).toContain('HOOKDESK_MAX_WEBHOOKS_PER_ORG');
      }
      expect(await countWebhooks(h, org.organizationId)).toBe(3);

      // Another organization has its own count.
      const other = await h.createOrg();
      await createHook(webhookApi(h, other));

      // Deleting one makes room for one.
      expect((await tickets.remove(third.id)).statusCode).toBe(204);
      await createHook(tickets);
      expect((await tickets.create(TICKET_HOOK)).statusCode).toBe(409);
    });

    it('keeps the limit when creates race', async () => {
      const org = await h.createOrg();
      const api = webhookApi(h, org);
      const answers = await Promise.all(Array.from({ length: 6 }, () => api.create(TICKET_HOOK)));
      const codes = answers.map((a) => a.statusCode).sort();
      expect(codes).toEqual([201, 201, 201, 409, 409, 409]);
      expect(await countWebhooks(h, org.organizationId)).toBe(3);
    });
  },
  { HOOKDESK_MAX_WEBHOOKS_PER_ORG: '3' },
);
