/** Example organization settings for /docs (see `withExamples`, http/schemas.ts). */
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';

export const organizationExample = {
  id: EXAMPLE_ID.organization,
  name: 'Acme Support',
  inboundEmail: { unmatched: 'create' as const, tokenSet: false },
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
};

export const patchOrganizationExample = {
  inboundEmail: { unmatched: 'discard' as const, token: 'in-9f3Kx2Qa7LmZp4Rt8WcV' },
};

export const patchedOrganizationExample = {
  ...organizationExample,
  inboundEmail: { unmatched: 'discard' as const, tokenSet: true },
  updatedAt: EXAMPLE_AT.updated,
};
