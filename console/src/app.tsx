/** The console's frame: sign-in, navigation, and the page for the current path. */
import { useEffect, useState } from 'preact/hooks';
import { SIGNED_OUT, api, apiKey, signIn, signOut, type Page, type Notification } from './api.js';
import { ChannelFormPage } from './pages/channel-form.js';
import { ChannelsPage } from './pages/channels.js';
import { DeliveriesPage } from './pages/deliveries.js';
import { DeliveryPage } from './pages/delivery.js';
import { EventsPage } from './pages/events.js';
import { NotificationsPage } from './pages/notifications.js';
import { SlaPage } from './pages/sla.js';
import { WebhookFormPage } from './pages/webhook-form.js';
import { WebhooksPage } from './pages/webhooks.js';
import { Link, match, navigate, useLocation, type Location } from './router.js';
import { DirectoryProvider } from './store.js';
import { Alert, PageTitle, useAsync } from './ui.js';

export function App() {
  const [signedIn, setSignedIn] = useState(() => apiKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    const out = () => {
      setSignedIn(false);
      setNotice('You are signed out. Sign in again with an API key.');
    };
    window.addEventListener(SIGNED_OUT, out);
    return () => window.removeEventListener(SIGNED_OUT, out);
  }, []);
  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          setNotice(null);
          setSignedIn(true);
        }}
      />
    );
  }
  return <Shell />;
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = key.trim();
    if (candidate === '') {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Any admin-only read tells a valid admin key from the rest.
      const res = await fetch('/api/webhooks?limit=1', {
        headers: { authorization: `Bearer ${candidate}` },
      });
      if (res.ok) {
        signIn(candidate);
        onSignedIn();
        return;
      }
      setError(
        res.status === 401
          ? 'That API key is not valid or has been revoked.'
          : res.status === 403
            ? 'That key belongs to an agent. The console needs an admin’s API key.'
            : `The server answered ${res.status}.`,
      );
    } catch {
      setError('Hookdesk could not be reached. Is the server running?');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <PageTitle title="Sign in to Hookdesk" />
      <p>
        Use an admin’s API key (<code>hdk_…</code>). It is kept in this browser tab only and sent to
        this server with each request.
      </p>
      <p class="muted">
        No key yet? The first start of an empty database printed one, once, for the default
        organization. An operator on the server can make another at any time with{' '}
        <code>hookdesk key create --org &lt;organization id or name&gt;</code>.
      </p>
      {notice && <Alert kind="info">{notice}</Alert>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-describedby={error ? 'sign-in-error' : undefined}
            aria-invalid={error ? true : undefined}
          />
        </div>
        {error && (
          <p class="field-error" id="sign-in-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

const NAV = [
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/deliveries', label: 'Deliveries' },
  { href: '/events', label: 'Events' },
  { href: '/channels', label: 'Channels' },
  { href: '/notifications', label: 'Notifications' },
  { href: '/sla', label: 'SLA policy' },
];

function Shell() {
  const location = useLocation();
  const unread = useAsync(
    () => api<Page<Notification>>('GET', '/api/notifications?unread=true&limit=200'),
    [location.path],
  );
  const unreadCount = unread.data?.data.length ?? 0;
  useEffect(() => {
    if (location.path === '/') navigate('/webhooks', { replace: true });
  }, [location.path]);
  return (
    <DirectoryProvider path={location.path}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Hookdesk</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => {
              const here = location.path === item.href || location.path.startsWith(`${item.href}/`);
              return (
                <li key={item.href}>
                  <Link href={item.href} aria-current={here ? 'page' : undefined}>
                    {item.label}
                    {item.href === '/notifications' && unreadCount > 0 && (
                      <>
                        {' '}
                        <span class="count">
                          {unreadCount}
                          <span class="visually-hidden"> unread</span>
                        </span>
                      </>
                    )}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <Route location={location} onNotificationsChanged={unread.reload} />
      </main>
    </DirectoryProvider>
  );
}

function Route({
  location,
  onNotificationsChanged,
}: {
  location: Location;
  onNotificationsChanged: () => void;
}) {
  const { path, query } = location;
  let m: Record<string, string> | null;
  if (path === '/' || path === '/webhooks') return <WebhooksPage />;
  if (path === '/webhooks/new') return <WebhookFormPage id={null} />;
  if ((m = match('/webhooks/:id/edit', path))) return <WebhookFormPage key={m.id} id={m.id!} />;
  if (path === '/deliveries') return <DeliveriesPage webhookId={null} query={query} />;
  if ((m = match('/deliveries/:webhookId', path)))
    return <DeliveriesPage key={m.webhookId} webhookId={m.webhookId!} query={query} />;
  if ((m = match('/deliveries/:webhookId/:deliveryId', path)))
    return <DeliveryPage key={m.deliveryId} webhookId={m.webhookId!} deliveryId={m.deliveryId!} />;
  if (path === '/events') return <EventsPage id={null} query={query} />;
  if ((m = match('/events/:id', path))) return <EventsPage key={m.id} id={m.id!} query={query} />;
  if (path === '/channels') return <ChannelsPage />;
  if (path === '/channels/new') return <ChannelFormPage id={null} />;
  if ((m = match('/channels/:id/edit', path))) return <ChannelFormPage key={m.id} id={m.id!} />;
  if (path === '/notifications') return <NotificationsPage onChanged={onNotificationsChanged} />;
  if (path === '/sla') return <SlaPage />;
  return (
    <>
      <PageTitle title="Page not found" />
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/webhooks">Go to the webhooks</Link>.
      </p>
    </>
  );
}
