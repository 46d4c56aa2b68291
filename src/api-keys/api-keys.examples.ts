/** Example API keys for /docs (see `withExamples`, http/schemas.ts). */
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';

export const apiKeyExample = {
  id: EXAMPLE_ID.apiKey,
  name: 'Zapier integration',
  prefix: 'hdk_7Hq2xL9c',
  userId: EXAMPLE_ID.agent,
  createdAt: EXAMPLE_AT.created,
  lastUsedAt: EXAMPLE_AT.sent,
};

export const createApiKeyExample = { name: apiKeyExample.name, userId: EXAMPLE_ID.agent };

export const createdApiKeyExample = {
  ...apiKeyExample,
  lastUsedAt: null,
  key: 'hdk_7Hq2xL9cVb0N4sKe1uTzWm3pRj8YdGfA6oXiQnCw5Ey',
};
