/**
 * The Hookdesk API as the console uses it: the API key lives in session
 * storage (gone when the tab closes) and goes out as a bearer token. Errors
 * arrive in the contract's `{error: {code, message, details}}` shape.
 */

const KEY = 'hookdesk.apiKey';

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY, key);
}

/** Drops the key silently (a rejected sign-in). */
export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

export function signOut(): void {
  forgetKey();
  window.dispatchEvent(new Event(SIGNED_OUT));
}

/** Fired when the key is dropped, by the user or because the API answered 401. */
export const SIGNED_OUT = 'hookdesk:signed-out';

export interface FieldProblem {
  field: string;
  message: string;
  in?: string;
  /** A stable code on the refusals a client must tell apart (docs/errors.md, "Detail codes"). */
  code?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'network', 'Hookdesk could not be reached. Is the server running?');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: reported below by status */
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: FieldProblem[] } })
      ?.error;
    if (res.status === 401 && apiKey() !== null) signOut();
    throw new ApiError(
      res.status,
      e?.code ?? 'http_error',
      e?.message ?? `The server answered ${res.status}.`,
      e?.details ?? [],
    );
  }
  return json as T;
}

/** Every item of a list, following `nextCursor` (at most `maxPages` pages of 200). */
export async function all<T>(path: string, maxPages = 25): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api<Page<T>>(
      'GET',
      `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.data);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return out;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Resources (docs/api.md).

export interface Webhook {
  id: string;
  organizationId: string;
  surveyId: string | null;
  name: string;
  url: string;
  events: string[];
  hasSecret: boolean;
  /** While the secret replaced by the last rotation still signs beside the new one: until when. */
  previousSecretExpiresAt: string | null;
  /** Custom header names, each with a masked value: values are write-only. */
  headers: Record<string, string>;
  active: boolean;
  retryPolicy: number[];
  /** Attempts started per second at most; null: unlimited. */
  rateLimitPerSecond: number | null;
  /** The payload filter as given (docs/webhooks.md, "Filters"); null: every subscribed event. */
  filter: Record<string, unknown> | null;
  /** `ticket`: one delivery of a ticket (or survey response) at a time, in order. */
  ordering: 'none' | 'ticket';
  consecutiveFailures: number;
  disabledAt: string | null;
  /** `consecutive_failures`, `gone` (the receiver answered 410), or null (by hand). */
  disabledReason: string | null;
  lastDeliveryAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer of a create: `secret` only when Hookdesk generated it, shown this once. */
export interface CreatedWebhook extends Webhook {
  secret?: string;
}

/** The answer of `POST …/secret/rotate`: the only time the new secret is shown. */
export interface RotatedSecret {
  secret: string;
  /** When the replaced secret stops signing; null when it does not sign at all. */
  previousSecretExpiresAt: string | null;
}

/**
 * `POST …/recover` and `GET …/recoveries/{id}` (docs/api.md, "Recovering a
 * time range"): the webhook is sent again what it missed of `[since, until)`.
 */
export interface Recovery {
  id: string;
  webhookId: string;
  since: string;
  until: string;
  status: 'running' | 'done' | 'failed';
  /** Failed or cancelled deliveries queued again, and new ones, so far. */
  deliveriesQueued: number;
  /** Why a failed recovery stopped; null otherwise. */
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface Survey {
  id: string;
  name: string;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  /** One of the statuses in `GET /api/meta`. */
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface Attempt {
  number: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseBodyTruncated: boolean;
  error: { code: string; message: string } | null;
}

export interface DeliveryDetail extends Delivery {
  payload: string;
  /** For a pending delivery of an ordered webhook: the earlier one of its ticket it waits for. */
  heldBackBy: { deliveryId: string; status: 'pending' | 'delivering' } | null;
  attempts: Attempt[];
}

export interface EventType {
  type: string;
  family: string;
  description: string;
}

export interface HookEvent {
  id: string;
  type: string;
  createdAt: string;
  payload: Record<string, unknown>;
}

export interface Notification {
  id: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  readAt: string | null;
  createdAt: string;
}

export interface HourCounts {
  succeeded: number;
  httpError: number;
  noResponse: number;
}

export interface WebhookStats {
  webhookId: string;
  hours: number;
  from: string;
  to: string;
  totals: HourCounts & { attempts: number; successRate: number | null };
  buckets: (HourCounts & { hour: string })[];
}

export interface Targets {
  firstResponseMinutes?: number | null;
  resolutionMinutes?: number | null;
}

export interface SlaPolicy {
  warningPercent: number;
  /** By ticket priority (listed in `GET /api/meta`). */
  priorities: Partial<Record<string, Targets>>;
}

/** The API path of a webhook, ticket or survey. */
export function webhookPath(w: Pick<Webhook, 'id' | 'surveyId'>): string {
  return w.surveyId === null
    ? `/api/webhooks/${w.id}`
    : `/api/surveys/${w.surveyId}/webhooks/${w.id}`;
}

// Provider channels (docs/providers.md, "Provider channels").

/** Secrets are never part of it: `config` holds the shown settings and `has…` flags. */
export interface Channel {
  id: string;
  /** One of the channel types in `GET /api/meta`. */
  type: string;
  name: string;
  config: Record<string, string | boolean>;
  /** Built by the API from its public URL and the channel's route key. */
  callbackUrls: Record<string, string>;
  createdAt: string;
}
