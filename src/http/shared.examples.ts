/**
 * What the examples of every feature share (see `withExamples` in
 * schemas.ts): one set of ids, so that the ticket of a webhook example is the
 * ticket of the tickets example, and a few instants in one morning.
 */

/** UUIDv7 ids, in creation order like real ones. */
export const EXAMPLE_ID = {
  organization: '019bc0e2-1280-7af3-a1bb-312bf8430055',
  admin: '019bc0e2-fce7-78c6-976e-5b5410415bde',
  agent: '019bc0e3-e74e-7d4f-8bc5-a29de06b510f',
  contact: '019bc0e4-d1b5-7093-a7d5-fdbaacfa9244',
  ticket: '019bc0e5-bc1c-7140-a942-9150abcbf244',
  message: '019bc0e6-a683-7ab5-b0a1-3e45914982b7',
  reply: '019bc0f1-a357-7c1e-9d42-6a0b8e5f3c21',
  survey: '019bc0e7-90ea-7811-b2a1-4b9850c9d9c7',
  response: '019bc0e8-7b51-7a9f-8b3d-22a523fdada4',
  webhook: '019bc0e9-65b8-79fd-89dc-33545f9cc19b',
  surveyWebhook: '019bc0ea-501f-7a3a-b40e-39808d0b0a34',
  event: '019bc0eb-3a86-7b8e-9f80-bd70ae0784c7',
  delivery: '019bc0ec-24ed-7b4a-b39d-5b65a14849e8',
  earlierDelivery: '019bc0ed-0f54-7d73-a6ff-171b5c84f6dd',
  recovery: '019bc0ed-f9bb-78c5-8537-8513f5f7a2e1',
  channel: '019bc0ee-e422-769e-b656-8cd8b4659389',
  apiKey: '019bc0ef-ce89-761e-a411-3f56ba6e8cdb',
  notification: '019bc0f0-b8f0-7124-aab9-9f6773a843ff',
} as const;

/** Instants of the examples, ISO-8601 UTC as the API writes them. */
export const EXAMPLE_AT = {
  created: '2026-01-15T09:04:12.000Z',
  updated: '2026-01-15T09:30:45.000Z',
  sent: '2026-01-15T09:31:02.000Z',
  now: '2026-01-15T10:00:00.000Z',
} as const;

/** A page of a list answer, with the cursor of the next one. */
export function examplePage<T>(...data: T[]): { data: T[]; nextCursor: string | null } {
  const last = data.at(-1) as { id?: unknown } | undefined;
  const nextCursor =
    typeof last?.id === 'string' ? Buffer.from(last.id, 'utf8').toString('base64url') : null;
  return { data, nextCursor };
}
