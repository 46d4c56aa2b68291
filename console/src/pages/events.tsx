/** The event log (the outbox): each event's payload and the deliveries it created. */
import { useState } from 'preact/hooks';
import { api, errorText, type Delivery, type HookEvent, type Page } from '../api.js';
import { dateTime, relative } from '../format.js';
import { Link, navigate } from '../router.js';
import { useDirectory } from '../store.js';
import { Alert, Code, Loading, PageTitle, StatusBadge, useAsync } from '../ui.js';

export function EventsPage({ id, query }: { id: string | null; query: URLSearchParams }) {
  const type = query.get('type') ?? '';
  return id === null ? <EventList key={type} type={type} /> : <EventDetail id={id} />;
}

function EventList({ type }: { type: string }) {
  const dir = useDirectory();
  const qs = type ? `&type=${encodeURIComponent(type)}` : '';
  const list = useAsync(() => api<Page<HookEvent>>('GET', `/api/events?limit=50${qs}`), [qs]);
  const [older, setOlder] = useState<{ items: HookEvent[]; cursor: string | null } | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  const cursor = older ? older.cursor : (list.data?.nextCursor ?? null);
  const loadOlder = async () => {
    try {
      const page = await api<Page<HookEvent>>(
        'GET',
        `/api/events?limit=50${qs}&cursor=${encodeURIComponent(cursor!)}`,
      );
      setOlder((o) => ({ items: [...(o?.items ?? []), ...page.data], cursor: page.nextCursor }));
    } catch (error) {
      setMoreError(errorText(error));
    }
  };
  const rows = [...(list.data?.data ?? []), ...(older?.items ?? [])];
  return (
    <>
      <div class="page-head">
        <PageTitle title="Events" />
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <p class="muted">
        Every event of the organization, newest first, with the envelope webhooks receive.
      </p>
      <div class="field narrow">
        <label for="event-type">Event type</label>
        <select
          id="event-type"
          value={type}
          onChange={(e) => {
            const value = e.currentTarget.value;
            navigate(value ? `/events?type=${encodeURIComponent(value)}` : '/events');
          }}
        >
          <option value="">Any</option>
          {dir.data?.eventTypes.map((t) => (
            <option key={t.type} value={t.type}>
              {t.type}
            </option>
          ))}
        </select>
      </div>
      {list.error && <Alert>{list.error}</Alert>}
      {!list.data && !list.error && <Loading what="events" />}
      {list.data && rows.length === 0 && <p>No events yet.</p>}
      {rows.length > 0 && (
        <table class="cards">
          <caption class="visually-hidden">Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">When</th>
              <th scope="col">Payload</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.id}>
                <td data-label="Event">
                  <Link href={`/events/${e.id}`}>
                    <code>{e.type}</code>
                  </Link>
                  <div class="small muted">{e.id}</div>
                </td>
                <td data-label="When">
                  <span title={dateTime(e.createdAt)}>{relative(e.createdAt)}</span>
                </td>
                <td data-label="Payload">
                  <details>
                    <summary>Show payload</summary>
                    <Code label={`Payload of ${e.type}`}>{JSON.stringify(e.payload, null, 2)}</Code>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {moreError && <Alert>{moreError}</Alert>}
      {cursor && (
        <button type="button" onClick={() => void loadOlder()}>
          Load older events
        </button>
      )}
    </>
  );
}

function EventDetail({ id }: { id: string }) {
  const dir = useDirectory();
  const event = useAsync(
    () => api<HookEvent & { deliveries: Delivery[] }>('GET', `/api/events/${id}`),
    [id],
  );
  const e = event.data;
  return (
    <>
      <p class="crumbs">
        <Link href="/events">← Events</Link>
      </p>
      <PageTitle title={e ? `Event ${e.type}` : 'Event'} />
      {event.error && <Alert>{event.error}</Alert>}
      {!e && !event.error && <Loading what="the event" />}
      {e && (
        <>
          <dl class="facts">
            <dt>Event id</dt>
            <dd>
              <code>{e.id}</code>
            </dd>
            <dt>Created</dt>
            <dd>{dateTime(e.createdAt)}</dd>
          </dl>
          <h2>Payload</h2>
          <Code label="Payload">{JSON.stringify(e.payload, null, 2)}</Code>
          <h2>Deliveries it created</h2>
          {e.deliveries.length === 0 ? (
            <p>No webhook was subscribed to this event when it happened.</p>
          ) : (
            <table class="cards">
              <caption class="visually-hidden">Deliveries of this event</caption>
              <thead>
                <tr>
                  <th scope="col">Webhook</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Delivery</th>
                </tr>
              </thead>
              <tbody>
                {e.deliveries.map((d) => {
                  const hook = dir.data?.webhooks.find((w) => w.id === d.webhookId);
                  return (
                    <tr key={d.id}>
                      <td data-label="Webhook">{hook?.name ?? d.webhookId}</td>
                      <td data-label="Status">
                        <StatusBadge status={d.status} />
                      </td>
                      <td data-label="Attempts">{d.attemptCount}</td>
                      <td data-label="Delivery">
                        <Link href={`/deliveries/${d.webhookId}/${d.id}`}>Open delivery</Link>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </>
      )}
    </>
  );
}
