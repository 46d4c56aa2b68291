/** The delivery log of one webhook: chart, filters (status, event type, time) and the list. */
import { useEffect, useState } from 'preact/hooks';
import {
  api,
  errorText,
  webhookPath,
  type Delivery,
  type Page,
  type Webhook,
  type WebhookStats,
} from '../api.js';
import { AttemptsChart } from '../chart.js';
import { dateTime, fromLocalInput, relative, toLocalInput } from '../format.js';
import type { Meta } from '../meta.js';
import { Link, navigate } from '../router.js';
import { surveyName, useDirectory } from '../store.js';
import { Alert, Loading, PageTitle, StatusBadge, UrlText, useAsync, useInterval } from '../ui.js';
import { disabledWhy, rateLimitText } from './webhooks.js';

const FILTERS = ['status', 'eventType', 'since', 'until'] as const;

export function DeliveriesPage({
  webhookId,
  query,
}: {
  webhookId: string | null;
  query: URLSearchParams;
}) {
  const dir = useDirectory();
  const hooks = dir.data?.webhooks ?? [];
  const first = hooks[0];
  useEffect(() => {
    if (webhookId === null && first) navigate(`/deliveries/${first.id}`, { replace: true });
  }, [webhookId, first]);
  if (!dir.data) return dir.error ? <Alert>{dir.error}</Alert> : <Loading what="webhooks" />;
  const hook = hooks.find((w) => w.id === webhookId);
  return (
    <>
      <PageTitle title={hook ? `Deliveries of ${hook.name}` : 'Deliveries'} />
      <div class="field narrow">
        <label for="pick-webhook">Webhook</label>
        <select
          id="pick-webhook"
          value={webhookId ?? ''}
          onChange={(e) => navigate(`/deliveries/${e.currentTarget.value}`)}
        >
          {webhookId === null && <option value="">Choose a webhook</option>}
          {hooks.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name} ({surveyName(dir.data!, w.surveyId)}){w.active ? '' : ' — disabled'}
            </option>
          ))}
        </select>
      </div>
      {hooks.length === 0 && (
        <p>
          No webhooks yet. <Link href="/webhooks/new">Create one</Link> to see its deliveries here;
          the <Link href="/events">event log</Link> shows the deliveries of every webhook by event.
        </p>
      )}
      {webhookId !== null && !hook && <Alert>No webhook {webhookId} in this organization.</Alert>}
      {hook && (
        <Log key={hook.id + query.toString()} hook={hook} meta={dir.data.meta} query={query} />
      )}
    </>
  );
}

function Log({ hook, meta, query }: { hook: Webhook; meta: Meta; query: URLSearchParams }) {
  const base = webhookPath(hook);
  const stats = useAsync(() => api<WebhookStats>('GET', `${base}/stats?hours=24`), [base]);
  const list = useAsync(
    () => api<Page<Delivery>>('GET', `${base}/deliveries?limit=50&${apiQuery(query)}`),
    [base, query.toString()],
  );
  const [older, setOlder] = useState<{ items: Delivery[]; cursor: string | null } | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  useInterval(
    () => {
      if (document.visibilityState === 'visible') {
        list.reload();
        stats.reload();
      }
    },
    4000,
    true,
  );
  const cursor = older ? older.cursor : (list.data?.nextCursor ?? null);
  const loadOlder = async () => {
    setMoreError(null);
    try {
      const page = await api<Page<Delivery>>(
        'GET',
        `${base}/deliveries?limit=50&${apiQuery(query)}&cursor=${encodeURIComponent(cursor!)}`,
      );
      setOlder((o) => ({ items: [...(o?.items ?? []), ...page.data], cursor: page.nextCursor }));
    } catch (error) {
      setMoreError(errorText(error));
    }
  };
  const seen = new Set<string>();
  const rows = [...(list.data?.data ?? []), ...(older?.items ?? [])].filter(
    (d) => !seen.has(d.id) && seen.add(d.id),
  );
  return (
    <>
      <p class="muted">
        <UrlText url={hook.url} /> ·{' '}
        {hook.active ? 'active' : `disabled: ${disabledWhy(hook, meta)}`} · rate limit:{' '}
        {rateLimitText(hook)} · <Link href={`/webhooks/${hook.id}/edit`}>edit</Link>
      </p>
      {stats.data ? (
        <AttemptsChart stats={stats.data} />
      ) : stats.error ? (
        <Alert>{stats.error}</Alert>
      ) : (
        <Loading what="the chart" />
      )}
      <Filters hook={hook} query={query} />
      {list.error && <Alert>{list.error}</Alert>}
      {!list.data && !list.error && <Loading what="deliveries" />}
      {list.data && rows.length === 0 && <p>No deliveries match.</p>}
      {rows.length > 0 && (
        <table class="cards" aria-describedby="deliveries-note">
          <caption class="visually-hidden">Deliveries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Created</th>
              <th scope="col">Next attempt / finished</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id}>
                <td data-label="Event">
                  <Link href={`/deliveries/${hook.id}/${d.id}`}>
                    <code>{d.eventType}</code>
                  </Link>
                  <div class="small muted">{d.id}</div>
                </td>
                <td data-label="Status">
                  <StatusBadge status={d.status} />
                </td>
                <td data-label="Attempts">{d.attemptCount}</td>
                <td data-label="Created">
                  <span title={dateTime(d.createdAt)}>{relative(d.createdAt)}</span>
                </td>
                <td data-label="Next / finished">
                  {d.nextAttemptAt
                    ? `next ${relative(d.nextAttemptAt)}`
                    : d.completedAt
                      ? dateTime(d.completedAt)
                      : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p id="deliveries-note" class="small muted">
        Newest first; refreshed every few seconds.
      </p>
      {moreError && <Alert>{moreError}</Alert>}
      {cursor && (
        <button type="button" onClick={() => void loadOlder()}>
          Load older deliveries
        </button>
      )}
    </>
  );
}

/** The console's query (local filter values) → the API's. */
function apiQuery(query: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const name of FILTERS) {
    const value = query.get(name);
    if (value) out.set(name, value);
  }
  return out.toString();
}

function Filters({ hook, query }: { hook: Webhook; query: URLSearchParams }) {
  const dir = useDirectory();
  const [status, setStatus] = useState(query.get('status') ?? '');
  const [eventType, setEventType] = useState(query.get('eventType') ?? '');
  const [since, setSince] = useState(toLocalInput(query.get('since')));
  const [until, setUntil] = useState(toLocalInput(query.get('until')));
  const family = hook.surveyId === null ? 'ticket' : 'survey';
  const types = [
    ...(dir.data?.eventTypes.filter((t) => t.family === family).map((t) => t.type) ?? []),
    ...(dir.data ? [dir.data.meta.deliveries.testEventType] : []),
  ];
  const apply = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (eventType) q.set('eventType', eventType);
    const s = fromLocalInput(since);
    const u = fromLocalInput(until);
    if (s) q.set('since', s);
    if (u) q.set('until', u);
    const qs = q.toString();
    navigate(`/deliveries/${hook.id}${qs ? `?${qs}` : ''}`);
  };
  return (
    <form class="filters" onSubmit={apply} aria-label="Filter deliveries">
      <div class="field">
        <label for="f-status">Status</label>
        <select id="f-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          {(dir.data?.meta.deliveries.statuses ?? []).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-event">Event type</label>
        <select
          id="f-event"
          value={eventType}
          onChange={(e) => setEventType(e.currentTarget.value)}
        >
          <option value="">Any</option>
          {types.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-since">Created from</label>
        <input
          id="f-since"
          type="datetime-local"
          value={since}
          onInput={(e) => setSince(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="f-until">Created before</label>
        <input
          id="f-until"
          type="datetime-local"
          value={until}
          onInput={(e) => setUntil(e.currentTarget.value)}
        />
      </div>
      <div class="actions">
        <button type="submit" class="primary">
          Filter
        </button>
        <Link href={`/deliveries/${hook.id}`} class="button">
          Clear
        </Link>
      </div>
    </form>
  );
}
