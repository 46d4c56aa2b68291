/**
 * The tags of the OpenAPI document, in the order /docs shows them: the
 * outgoing webhooks first (what most readers come for), the help-desk
 * resources next, the public RPC endpoints for email and providers near the
 * end. Swagger UI groups operations by the document's `tags` array in its
 * order when no `tagsSorter` is set, so this list is the table of contents.
 */
export const TAG = {
  webhooks: 'webhooks',
  surveyWebhooks: 'survey webhooks',
  deliveries: 'deliveries',
  events: 'events',
  recovery: 'recovery',
  stats: 'webhook stats',
  tickets: 'tickets',
  messages: 'messages',
  contacts: 'contacts',
  surveys: 'surveys',
  sla: 'sla',
  notifications: 'notifications',
  users: 'users',
  apiKeys: 'api-keys',
  organization: 'organization',
  channels: 'channels',
  // Named in inbound/providers/channel.ts, which every provider callback shares.
  providerCallbacks: 'provider callbacks',
  inboundEmail: 'inbound email',
  meta: 'meta',
} as const;

export type TagName = (typeof TAG)[keyof typeof TAG];

const DESCRIPTIONS: Record<TagName, string> = {
  webhooks:
    'Ticket webhooks: the URLs Hookdesk sends ticket and message events to, signed, retried and logged.',
  'survey webhooks':
    'Webhooks of one survey, sent its `survey.*` events. Same rules as ticket webhooks.',
  deliveries:
    'The delivery log of a webhook: each event sent, every attempt with the response, a retry now, a test send.',
  events: "The event catalogue and the organization's events, each with the deliveries it created.",
  recovery: 'Send a webhook again what it missed during a time range (an outage of the receiver).',
  'webhook stats': 'Delivery attempts per hour by outcome, and the success rate.',
  tickets: 'Help-desk tickets: their status, priority, assignee, tags and SLA clock.',
  messages: "A ticket's conversation. Outbound email messages are mailed to the requester.",
  contacts: 'The people tickets come from, found by email or phone.',
  surveys: 'Surveys and their responses.',
  sla: 'First-response and resolution targets per priority.',
  notifications: 'In-app notifications of the calling user.',
  users: 'Agents and admins of the organization.',
  'api-keys': 'API keys, each acting as one user with its role.',
  organization: "The organization's name and inbound email settings.",
  channels:
    'Provider channels (Twilio, Meta WhatsApp, SendGrid, Mailgun, Postmark) and their credentials.',
  'provider callbacks':
    'What the providers call: public, each verified by its provider’s signature or credentials.',
  'inbound email':
    "Hookdesk's own RPC endpoints for email: an inbound message and a delivery-status callback. Public.",
  meta: 'The fixed lists and rules clients build their forms from.',
};

/** The `tags` array of the OpenAPI document, in reading order. */
export const OPENAPI_TAGS = Object.values(TAG).map((name) => ({
  name,
  description: DESCRIPTIONS[name],
}));
