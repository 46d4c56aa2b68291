/**
 * Provider channels (docs/providers.md, "Provider channels"): each connected
 * provider account with the callback URLs to paste into the provider's console.
 * Credentials go in through the form and never come back: the list says they
 * are stored, encrypted, and shows only the non-secret settings.
 */
import { useState } from 'preact/hooks';
import { all, api, errorText, type Channel } from '../api.js';
import { dateTime, relative } from '../format.js';
import { channelType, useMeta, type ChannelTypeInfo, type Meta } from '../meta.js';
import { Link } from '../router.js';
import {
  Alert,
  ConfirmDialog,
  CopyButton,
  Loading,
  PageTitle,
  takeFlash,
  UrlText,
  useAsync,
} from '../ui.js';

/** A URL carrying a secret (Postmark's basic auth, SendGrid's `?token=`): the API shows it once. */
function carriesSecret(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.searchParams.has('token');
  } catch {
    return false;
  }
}

let justSaved: Channel | null = null;

/**
 * The answer of the create or edit that just happened, for the list to show
 * once: URLs embedding a secret are in that answer only.
 */
export function showOnce(channel: Channel): void {
  justSaved = channel;
}

function takeJustSaved(): Channel | null {
  const channel = justSaved;
  justSaved = null;
  return channel;
}

export function ChannelsPage() {
  const list = useAsync(() => all<Channel>('/api/channels'), []);
  const meta = useMeta();
  const [message, setMessage] = useState<{ kind: string; text: string } | null>(() => {
    const text = takeFlash();
    return text ? { kind: 'info', text } : null;
  });
  const [saved, setSaved] = useState(takeJustSaved);
  const [deleting, setDeleting] = useState<Channel | null>(null);
  const channels = list.data ?? [];

  const remove = async (channel: Channel) => {
    setMessage(null);
    try {
      await api('DELETE', `/api/channels/${channel.id}`);
      setMessage({ kind: 'info', text: `${channel.name} was deleted.` });
      if (saved?.id === channel.id) setSaved(null);
    } catch (error) {
      setMessage({ kind: 'error', text: errorText(error) });
    }
    list.reload();
  };

  return (
    <>
      <div class="page-head">
        <PageTitle title="Channels" />
        <Link href="/channels/new" class="button primary">
          New channel
        </Link>
      </div>
      <p class="muted">
        Provider accounts (Twilio, SendGrid, Meta WhatsApp, Mailgun, Postmark) whose inbound
        messages and delivery statuses Hookdesk receives. Paste each callback URL into the
        provider’s console; requests are verified with the provider’s own signature before anything
        is stored.
      </p>
      {message && <Alert kind={message.kind}>{message.text}</Alert>}
      {saved && meta.data && (
        <SavedUrls channel={saved} meta={meta.data} onClose={() => setSaved(null)} />
      )}
      {list.error && <Alert>{list.error}</Alert>}
      {meta.error && <Alert>{meta.error}</Alert>}
      {(!list.data || !meta.data) && !list.error && !meta.error && <Loading what="channels" />}
      <LocalhostNotice channels={saved ? [saved, ...channels] : channels} />
      {list.data && channels.length === 0 && (
        <p>
          No channels yet. <Link href="/channels/new">Connect the first one</Link>.
        </p>
      )}
      {channels.length > 0 && meta.data && (
        <table class="cards">
          <caption class="visually-hidden">Channels</caption>
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Callback URLs</th>
              <th scope="col">Credentials</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {channels.map((channel) => (
              <Row
                key={channel.id}
                channel={channel}
                kind={channelType(meta.data!, channel.type)}
                onDelete={() => setDeleting(channel)}
              />
            ))}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? 'channel'}?`}
        confirmLabel="Delete channel"
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const channel = deleting!;
          setDeleting(null);
          void remove(channel);
        }}
      >
        <p>
          Its callback URLs stop working at once (the provider gets 404) and its credentials are
          erased. Tickets and messages it brought in are kept. It cannot be undone: connecting the
          account again gives new URLs.
        </p>
      </ConfirmDialog>
    </>
  );
}

function Row({
  channel,
  kind,
  onDelete,
}: {
  channel: Channel;
  kind: ChannelTypeInfo;
  onDelete: () => void;
}) {
  return (
    <tr>
      <td data-label="Channel">
        <strong>{channel.name}</strong>
        <div class="muted small">{kind.label}</div>
        <Settings channel={channel} kind={kind} />
      </td>
      <td data-label="Callback URLs">
        <CallbackUrls channel={channel} kind={kind} />
      </td>
      <td data-label="Credentials">
        <Credentials channel={channel} kind={kind} />
      </td>
      <td data-label="Created">
        <span title={dateTime(channel.createdAt)}>{relative(channel.createdAt)}</span>
      </td>
      <td data-label="Actions">
        <div class="row-actions" role="group" aria-label={`Actions for ${channel.name}`}>
          <Link href={`/channels/${channel.id}/edit`} class="button">
            Edit
          </Link>
          <button type="button" class="danger" onClick={onDelete}>
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}

/** The non-secret settings in `config` (the `has…` flags are shown under Credentials). */
function Settings({ channel, kind }: { channel: Channel; kind: ChannelTypeInfo }) {
  const fields = kind.fields;
  const shown = Object.entries(channel.config).filter(
    (e): e is [string, string] => typeof e[1] === 'string',
  );
  if (shown.length === 0) return null;
  return (
    <dl class="settings small">
      {shown.map(([key, value]) => (
        <div key={key}>
          <dt>{fields.find((f) => f.name === key)?.label ?? key}</dt>
          <dd title={value.length > 40 ? value : undefined}>
            <code>{value.length > 40 ? `${value.slice(0, 24)}…` : value}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Credentials({ channel, kind }: { channel: Channel; kind: ChannelTypeInfo }) {
  const secrets = kind.fields.filter((f) => f.secret);
  if (kind.generatesBasicAuth) {
    return <span class="small">Basic-auth pair generated by Hookdesk: stored, encrypted</span>;
  }
  return (
    <ul class="plain small">
      {secrets.map((f) => {
        const set = !f.optional || (f.setFlag !== null && channel.config[f.setFlag] === true);
        return (
          <li key={f.name}>
            {f.label}: {set ? 'stored, encrypted' : <span class="muted">not set</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** Each callback URL with where it goes and a copy button. */
export function CallbackUrls({ channel, kind }: { channel: Channel; kind: ChannelTypeInfo }) {
  return (
    <ul class="callbacks">
      {Object.entries(channel.callbackUrls).map(([key, url]) => {
        const where = kind.callbacks[key]?.where;
        const missing = withheld(channel, kind, key, url);
        return (
          <li key={key}>
            <div class="callback-head">
              <span class="callback-key">{key}</span>
              <CopyButton text={url} label={`${key} URL of ${channel.name}`} />
            </div>
            <UrlText class="url" url={url} data-testid={`callback-${key}`} />
            {where && <div class="help">{where}</div>}
            {missing && <div class="help withheld">{missing}</div>}
          </li>
        );
      })}
    </ul>
  );
}

/**
 * What a listed URL lacks: the API embeds a secret only in the answer that set
 * it, and the provider must still send it.
 */
function withheld(
  channel: Channel,
  kind: ChannelTypeInfo,
  key: string,
  url: string,
): string | null {
  if (carriesSecret(url)) return null;
  if (kind.generatesBasicAuth) {
    return 'Shown without its user and password: the provider needs the URL with them (user:password@ before the host), as it was shown once when the channel was created.';
  }
  const token = kind.fields.find((f) => f.name === kind.callbacks[key]?.token);
  if (token?.setFlag && channel.config[token.setFlag]) {
    return `Shown without its token: add ?token= and the ${token.label} you set.`;
  }
  return null;
}

/** The answer of the last create or edit, with the URLs that embed a secret. */
function SavedUrls({
  channel,
  meta,
  onClose,
}: {
  channel: Channel;
  meta: Meta;
  onClose: () => void;
}) {
  const kind = channelType(meta, channel.type);
  const secret = Object.values(channel.callbackUrls).some(carriesSecret);
  return (
    <section class="panel" aria-labelledby="saved-title">
      <div class="page-head">
        <h2 id="saved-title">Callback URLs of {channel.name}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {secret ? (
        <Alert kind="warning">
          These URLs include a credential and are shown only now: copy them into {kind.label} before
          leaving this page. Later the list shows them without it.
        </Alert>
      ) : (
        <p class="muted">Paste these into {kind.label}.</p>
      )}
      <CallbackUrls channel={channel} kind={kind} />
    </section>
  );
}

/** Providers cannot call localhost: the URLs then need HOOKDESK_PUBLIC_URL. */
function LocalhostNotice({ channels }: { channels: Channel[] }) {
  const local = channels
    .flatMap((c) => Object.values(c.callbackUrls))
    .find((url) => /^https?:\/\/[^/]*(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\//.test(url));
  if (!local) return null;
  return (
    <Alert kind="info">
      These callback URLs start with <code>{new URL(local).origin}</code>, which providers cannot
      reach. Set <code>HOOKDESK_PUBLIC_URL</code> to the public address Hookdesk is served at and
      restart; the URLs follow it (their random part stays the same).
    </Alert>
  );
}
