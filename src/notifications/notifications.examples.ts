/** An example notification for /docs (see `withExamples`, http/schemas.ts), worded by the real function. */
import { DISABLE_AFTER_CONSECUTIVE_FAILURES } from '../delivery/policy.js';
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';
import { webhookDisabledNotification } from './webhook-disabled-mail.js';

const url = 'https://example.com/hooks/hookdesk';
const lastError = 'HTTP 503';

export const notificationExample = {
  id: EXAMPLE_ID.notification,
  type: 'webhook_disabled',
  ...webhookDisabledNotification({
    reason: 'consecutive_failures',
    failures: DISABLE_AFTER_CONSECUTIVE_FAILURES,
    name: 'CRM sync',
    url,
    lastError,
  }),
  data: { webhookId: EXAMPLE_ID.webhook, url, lastError, reason: 'consecutive_failures' },
  readAt: null,
  createdAt: EXAMPLE_AT.updated,
};

export const readNotificationExample = { ...notificationExample, readAt: EXAMPLE_AT.now };
