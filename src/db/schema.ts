/**
 * Row types of every table, as Kysely sees them. Conventions that hold on
 * both dialects (see db/migrations/0001_core.ts):
 * - ids are UUID text;
 * - timestamps are epoch milliseconds in BIGINT columns (sortable, compared
 *   with plain `<=` in queue queries, no timezone handling per dialect);
 * - booleans are 0/1 integers;
 * - JSON documents are TEXT, so the bytes stored are the bytes read back
 *   (event payloads must be byte-identical on every delivery attempt).
 */
import type { Generated, Kysely, Transaction } from 'kysely';

export type InboundUnmatched = 'create' | 'discard';

export interface OrganizationsTable {
  id: string;
  name: string;
  ticket_counter: number;
  /** What inbound email matching no ticket does: open a ticket or drop the mail. */
  inbound_unmatched: Generated<InboundUnmatched>;
  /** SHA-256 hex of the inbound-email token; null when none is required. */
  inbound_token_hash: string | null;
  created_at: number;
  updated_at: number;
}

export type Role = 'admin' | 'agent';

export interface UsersTable {
  id: string;
  organization_id: string;
  email: string;
  name: string;
  role: Role;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  organization_id: string;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface ContactsTable {
  id: string;
  organization_id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  created_at: number;
  updated_at: number;
}

export type TicketStatus = 'open' | 'pending' | 'resolved' | 'closed';
export type TicketPriority = 'low' | 'normal' | 'high' | 'urgent';
export type Channel = 'email' | 'sms' | 'whatsapp' | 'web' | 'api';

export interface TicketsTable {
  id: string;
  organization_id: string;
  number: number;
  subject: string;
  description: string | null;
  status: TicketStatus;
  priority: TicketPriority;
  channel: Channel;
  contact_id: string;
  assignee_id: string | null;
  /** JSON array of strings. */
  tags: string;
  first_response_due_at: number | null;
  resolution_due_at: number | null;
  first_responded_at: number | null;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
  closed_at: number | null;
  /** Targets copied from the SLA policy when the ticket was created or its priority changed. */
  first_response_target_min: number | null;
  resolution_target_min: number | null;
  /** Creation, or the last reopen: where the resolution clock starts. */
  resolution_started_at: number | null;
  /** Set while the ticket is pending: the resolution clock is paused. */
  resolution_paused_at: number | null;
  /** Time spent paused since the resolution clock started. */
  resolution_paused_ms: number;
  first_response_warned_at: number | null;
  first_response_breached_at: number | null;
  resolution_warned_at: number | null;
  resolution_breached_at: number | null;
}

export interface SlaPoliciesTable {
  organization_id: string;
  warning_percent: number;
  /** JSON: {low|normal|high|urgent: {firstResponseMinutes, resolutionMinutes}}. */
  priorities: string;
  updated_at: number;
}

export type MessageDirection = 'inbound' | 'outbound';

export interface MessagesTable {
  id: string;
  organization_id: string;
  ticket_id: string;
  direction: MessageDirection;
  channel: Channel;
  /** The stripped reply text for inbound email, else the whole text. */
  body: string;
  /** Inbound email: the whole text as received (quotes, signature); null when `body` is whole. */
  body_full: string | null;
  body_html: string | null;
  author_id: string | null;
  contact_id: string | null;
  /** `<id@host>`, unique within the organization. */
  email_message_id: string | null;
  provider_message_id: string | null;
  /** queued, sent, delivered, opened, bounced, failed (see inbound/email/status.ts). */
  delivery_status: string | null;
  delivery_error: string | null;
  /** JSON array of attachment metadata. */
  attachments: string;
  created_at: number;
  updated_at: number;
}

export interface SurveysTable {
  id: string;
  organization_id: string;
  name: string;
  /** JSON array of questions. */
  questions: string;
  created_at: number;
  updated_at: number;
}

export interface SurveyResponsesTable {
  id: string;
  organization_id: string;
  survey_id: string;
  /** JSON object keyed by question id. */
  answers: string;
  embedded_data: string;
  metadata: string;
  completed_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface NotificationsTable {
  id: string;
  organization_id: string;
  user_id: string;
  type: string;
  title: string;
  body: string;
  data: string;
  read_at: number | null;
  created_at: number;
}

/**
 * The outbox. A row is written in the same transaction as the change that
 * raised it; `payload` is the exact envelope sent to webhooks.
 */
export interface EventsTable {
  id: string;
  organization_id: string;
  survey_id: string | null;
  ticket_id: string | null;
  type: string;
  payload: string;
  created_at: number;
}

export interface WebhooksTable {
  id: string;
  organization_id: string;
  survey_id: string | null;
  name: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  secret: string | null;
  /** JSON object of custom headers. */
  headers: string;
  active: number;
  /** JSON array of delays in seconds. */
  retry_policy: string;
  consecutive_failures: number;
  disabled_at: number | null;
  disabled_reason: string | null;
  last_delivery_at: number | null;
  /** The secret before the last rotation; signs too until `previous_secret_expires_at`. */
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  /** Attempts per second across all workers; null: unlimited. */
  rate_limit_per_second: number | null;
  /** The rate limit's schedule: the earliest start of the next attempt charged to it. */
  rate_next_at: number | null;
  /** JSON payload filter (delivery/filter.ts); null: every subscribed event. */
  filter: string | null;
  /** 'ticket': deliveries of one ticket (or survey response) go one at a time, in order. */
  ordering: WebhookOrdering;
  created_at: number;
  updated_at: number;
}

export type WebhookOrdering = 'none' | 'ticket';

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed' | 'cancelled';

export interface DeliveriesTable {
  id: string;
  organization_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  /** '' when the body is the event's payload (delivery/queue/body.ts); read it with `deliveryBody`. */
  payload: string;
  status: DeliveryStatus;
  attempt_count: number;
  attempts_allowed: number;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  is_test: number;
  /** 1: pending until the start its webhook's rate limit gave it, already charged. */
  rate_slot: number;
  /** The ticket or survey response of an ordered webhook's delivery; null when unordered. */
  order_key: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export type RecoveryStatus = 'running' | 'done' | 'failed';

export interface RecoveriesTable {
  id: string;
  organization_id: string;
  webhook_id: string;
  since: number;
  until: number;
  status: RecoveryStatus;
  deliveries_queued: number;
  /** The last event handled, in (created_at, id) order; null before the first batch. */
  cursor_created_at: number | null;
  cursor_event_id: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  number: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  /** JSON object. */
  response_headers: string | null;
  response_body: string | null;
  response_body_truncated: number;
  error_code: string | null;
  error_message: string | null;
}

export type JobStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobsTable {
  id: string;
  organization_id: string;
  kind: string;
  key: string | null;
  /** JSON object, the handler's input. */
  payload: string;
  status: JobStatus;
  attempt_count: number;
  max_attempts: number;
  run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export type ChannelType =
  'twilio_sms' | 'twilio_whatsapp' | 'sendgrid' | 'meta_whatsapp' | 'mailgun' | 'postmark';

/** A connected provider account (docs/providers.md, "Provider channels"). */
export interface ChannelsTable {
  id: string;
  organization_id: string;
  type: ChannelType;
  name: string;
  /** Random path segment of the callback URLs. */
  route_key: string;
  /** JSON object of the non-secret settings. */
  config: string;
  /** Encrypted JSON object of the secrets (channels/vault.ts). */
  credentials: string;
  created_at: number;
  updated_at: number;
}

/** A provider event already handled on a channel: retries and replays find their key here. */
export interface ProviderEventsTable {
  channel_id: string;
  dedupe_key: string;
  organization_id: string;
  received_at: number;
}

/** The channel a messaging ticket's conversation runs on. */
export interface ChannelTicketsTable {
  ticket_id: string;
  channel_id: string;
  organization_id: string;
  contact_id: string;
  created_at: number;
}

export interface Database {
  organizations: OrganizationsTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  contacts: ContactsTable;
  tickets: TicketsTable;
  messages: MessagesTable;
  surveys: SurveysTable;
  survey_responses: SurveyResponsesTable;
  notifications: NotificationsTable;
  events: EventsTable;
  webhooks: WebhooksTable;
  deliveries: DeliveriesTable;
  recoveries: RecoveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  jobs: JobsTable;
  channels: ChannelsTable;
  provider_events: ProviderEventsTable;
  channel_tickets: ChannelTicketsTable;
  sla_policies: SlaPoliciesTable;
}

export type Db = Kysely<Database>;
/** A database handle or an open transaction: repository functions accept either. */
export type Executor = Kysely<Database> | Transaction<Database>;
