/** Example users for /docs (see `withExamples`, http/schemas.ts). */
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';

export const userExample = {
  id: EXAMPLE_ID.agent,
  organizationId: EXAMPLE_ID.organization,
  email: 'sam.okafor@example.com',
  name: 'Sam Okafor',
  role: 'agent' as const,
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
};

export const createUserExample = {
  email: userExample.email,
  name: userExample.name,
  role: userExample.role,
};

export const patchUserExample = { role: 'admin' as const };

export const patchedUserExample = {
  ...userExample,
  ...patchUserExample,
  updatedAt: EXAMPLE_AT.updated,
};
