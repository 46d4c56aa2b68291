/**
 * Admin notifications, newest first; mark them read. Hookdesk's only kind
 * today is `webhook_disabled` (src/delivery/queue/outcome.ts), which the
 * empty page names so a new admin knows what to expect here.
 */
import { useState } from 'preact/hooks';
import { api, errorText, type Notification, type Page } from '../api.js';
import { dateTime } from '../format.js';
import { useMeta } from '../meta.js';
import { Link } from '../router.js';
import { Alert, Loading, PageTitle, useAsync } from '../ui.js';

export function NotificationsPage({ onChanged }: { onChanged: () => void }) {
  const list = useAsync(() => api<Page<Notification>>('GET', '/api/notifications?limit=100'), []);
  const meta = useMeta();
  const failures = meta.data
    ? `${meta.data.webhooks.disableAfterConsecutiveFailures} failed attempts in a row`
    : 'repeated failed attempts';
  const [error, setError] = useState<string | null>(null);
  const markRead = async (n: Notification) => {
    setError(null);
    try {
      await api('POST', `/api/notifications/${n.id}/read`);
    } catch (err) {
      setError(errorText(err));
    }
    list.reload();
    onChanged();
  };
  const items = list.data?.data ?? [];
  return (
    <>
      <div class="page-head">
        <PageTitle title="Notifications" />
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      {error && <Alert>{error}</Alert>}
      {list.error && <Alert>{list.error}</Alert>}
      {!list.data && !list.error && <Loading what="notifications" />}
      {list.data && items.length === 0 && (
        <p data-testid="no-notifications">
          No notifications yet. Hookdesk notifies the organization’s admins here (and by email when
          SMTP is set up) when it disables a webhook: after {failures}, or because its receiver
          answered 410 Gone.
        </p>
      )}
      <ul class="notifications">
        {items.map((n) => {
          const webhookId = typeof n.data.webhookId === 'string' ? n.data.webhookId : null;
          return (
            <li key={n.id} class={n.readAt ? 'read' : 'unread'}>
              <article aria-labelledby={`n-${n.id}`}>
                <h2 id={`n-${n.id}`}>
                  {n.readAt === null && <span class="badge badge-pending">New</span>} {n.title}
                </h2>
                <p class="small muted">
                  {dateTime(n.createdAt)}
                  {n.readAt && <> · read {dateTime(n.readAt)}</>}
                </p>
                <p class="pre-line">{n.body}</p>
                <div class="actions">
                  {webhookId && (
                    <>
                      <Link href={`/deliveries/${webhookId}`} class="button">
                        See its deliveries
                      </Link>
                      <Link href={`/webhooks/${webhookId}/edit`} class="button">
                        Edit the webhook
                      </Link>
                    </>
                  )}
                  {n.readAt === null && (
                    <button type="button" onClick={() => void markRead(n)}>
                      Mark as read
                    </button>
                  )}
                </div>
              </article>
            </li>
          );
        })}
      </ul>
    </>
  );
}
