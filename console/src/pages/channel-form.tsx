/**
 * Connect a provider channel, or rename it and change its credentials. As in
 * the webhook form, the browser does not validate: the API's problems appear
 * under each field. Secrets are write-only: an empty secret field keeps the
 * stored one.
 */
import { useState } from 'preact/hooks';
import { api, type Channel, type FieldProblem } from '../api.js';
import { useFormSend } from '../forms.js';
import { channelType, loadMeta, type CredentialFieldInfo, type Meta } from '../meta.js';
import { Link, navigate } from '../router.js';
import {
  Alert,
  Field,
  FormError,
  Loading,
  PageTitle,
  TextField,
  problemsOf,
  setFlash,
  useAsync,
} from '../ui.js';
import { showOnce } from './channels.js';

interface Form {
  type: string;
  name: string;
  /** Typed credential values by field name; secrets start empty. */
  values: Record<string, string>;
  /** Optional secrets to remove (`null` in the PATCH). */
  remove: Record<string, boolean>;
}

function initial(channel: Channel | null, meta: Meta): Form {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(channel?.config ?? {})) {
    if (typeof value === 'string') values[key] = value;
  }
  const type = channel?.type ?? meta.channelTypes[0]?.type ?? '';
  return { type, name: channel?.name ?? '', values, remove: {} };
}

/** "Auth token" → "auth token", keeping initialisms ("HTTP webhook signing key"). */
function lower(label: string): string {
  return /^[A-Z][a-z]/.test(label) ? label[0]!.toLowerCase() + label.slice(1) : label;
}

/** Only what the user typed or changed: an empty secret means "keep it". */
function credentialsOf(
  form: Form,
  channel: Channel | null,
  meta: Meta,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of channelType(meta, form.type).fields) {
    const value = form.values[f.name] ?? '';
    if (f.secret && form.remove[f.name]) out[f.name] = null;
    else if (f.secret ? value !== '' : channel ? value !== channel.config[f.name] : value !== '') {
      out[f.name] = value;
    }
  }
  return out;
}

export function ChannelFormPage({ id }: { id: string | null }) {
  const loaded = useAsync(async () => {
    const [channel, meta] = await Promise.all([
      id === null ? null : api<Channel>('GET', `/api/channels/${id}`),
      loadMeta(),
    ]);
    return { channel, meta };
  }, [id]);
  if (loaded.error) {
    return (
      <>
        <PageTitle title={id === null ? 'New channel' : 'Channel not found'} />
        <Alert>{loaded.error}</Alert>
        <p>
          <Link href="/channels">Back to the channels</Link>.
        </p>
      </>
    );
  }
  if (loaded.data === undefined) return <Loading what="the channel" />;
  return <ChannelForm channel={loaded.data.channel} meta={loaded.data.meta} />;
}

function ChannelForm({ channel, meta }: { channel: Channel | null; meta: Meta }) {
  const [form, setForm] = useState(() => initial(channel, meta));
  const { problems, error, setError, busy, send } = useFormSend();
  const kind = channelType(meta, form.type);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const credentials = credentialsOf(form, channel, meta);
    const body: Record<string, unknown> = {};
    if (!channel) body.type = form.type;
    if (!channel || form.name !== channel.name) body.name = form.name;
    if (Object.keys(credentials).length > 0) body.credentials = credentials;
    await send('The channel was not saved.', async () => {
      let saved: Channel | null = null;
      if (!channel) saved = await api<Channel>('POST', '/api/channels', body);
      else if (Object.keys(body).length > 0) {
        saved = await api<Channel>('PATCH', `/api/channels/${channel.id}`, body);
      }
      // Always after a create (the URLs to paste); after an edit only if a URL now holds a secret.
      if (
        saved &&
        (!channel || JSON.stringify(saved.callbackUrls) !== JSON.stringify(channel.callbackUrls))
      ) {
        showOnce(saved);
      }
      setFlash(channel ? `${form.name} was saved.` : `${form.name} was created.`);
      navigate('/channels');
    });
  };

  const credentialProblems = (name: string) =>
    problems.filter((p) => p.field === `credentials.${name}`).map((p) => ({ ...p, field: '' }));
  const known = new Set(['type', 'name', ...kind.fields.map((f) => `credentials.${f.name}`)]);
  const other = problems.filter((p) => !known.has(p.field));

  return (
    <>
      <PageTitle title={channel ? `Edit ${channel.name}` : 'New channel'} />
      {error && <FormError message={error} problems={other} />}
      <form class="form" onSubmit={(e) => void submit(e)} noValidate>
        {channel ? (
          <p>
            Provider: <strong>{kind.label}</strong>{' '}
            <span class="muted small">(to change it, connect a new channel)</span>
          </p>
        ) : (
          <Field
            id="ch-type"
            label="Provider"
            help="What the channel receives and how its requests are verified."
            problems={problemsOf(problems, 'type')}
          >
            {(aria) => (
              <select
                {...aria}
                value={form.type}
                onChange={(e) => {
                  const type = e.currentTarget.value;
                  setForm((f) => ({ ...f, type }));
                }}
              >
                {meta.channelTypes.map((t) => (
                  <option key={t.type} value={t.type}>
                    {t.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}

        <TextField
          id="ch-name"
          label="Name"
          help="1–200 characters, for you (such as “Support SMS”)."
          problems={problemsOf(problems, 'name')}
          value={form.name}
          onValue={(name) => setForm((f) => ({ ...f, name }))}
        />

        <fieldset>
          <legend>{kind.label} credentials</legend>
          {kind.generatesBasicAuth && (
            <p class="help">
              {channel
                ? 'Hookdesk generated a basic-auth user and password for this channel; they were part of the URLs shown once when it was created and cannot be shown or changed. To get new ones, connect a new channel and delete this one.'
                : 'None to enter: Hookdesk generates a basic-auth user and password and puts them in the two callback URLs, which are shown once, right after the channel is created.'}
            </p>
          )}
          {kind.fields.map((f) => (
            <CredentialField
              key={`${form.type}-${f.name}`}
              field={f}
              channel={channel}
              value={form.values[f.name] ?? ''}
              remove={form.remove[f.name] ?? false}
              problems={credentialProblems(f.name)}
              onValue={(v) => setForm((x) => ({ ...x, values: { ...x.values, [f.name]: v } }))}
              onRemove={(r) => setForm((x) => ({ ...x, remove: { ...x.remove, [f.name]: r } }))}
            />
          ))}
        </fieldset>

        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : channel ? 'Save changes' : 'Create channel'}
          </button>
          <Link href="/channels" class="button">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

function CredentialField(props: {
  field: CredentialFieldInfo;
  channel: Channel | null;
  value: string;
  remove: boolean;
  problems: FieldProblem[];
  onValue: (value: string) => void;
  onRemove: (remove: boolean) => void;
}) {
  const { field: f, channel } = props;
  const stored =
    channel !== null &&
    f.secret &&
    (!f.optional || (f.setFlag !== null && channel.config[f.setFlag] === true));
  const id = `ch-${f.name}`;
  return (
    <>
      <Field
        id={id}
        label={stored ? `New ${lower(f.label)}` : f.label}
        help={
          stored
            ? 'Stored, encrypted; it is never shown. Leave empty to keep it.'
            : `${f.help}${f.optional ? '' : ' Required.'}`
        }
        problems={props.problems}
      >
        {(aria) =>
          f.multiline ? (
            <textarea
              {...aria}
              rows={3}
              spellcheck={false}
              value={props.value}
              onInput={(e) => props.onValue(e.currentTarget.value)}
            />
          ) : f.secret ? (
            <input
              {...aria}
              type="password"
              autocomplete="new-password"
              spellcheck={false}
              value={props.value}
              disabled={props.remove}
              onInput={(e) => props.onValue(e.currentTarget.value)}
            />
          ) : (
            <input
              {...aria}
              type="text"
              autocomplete="off"
              spellcheck={false}
              value={props.value}
              onInput={(e) => props.onValue(e.currentTarget.value)}
            />
          )
        }
      </Field>
      {stored && f.optional && (
        <label class="inline">
          <input
            type="checkbox"
            checked={props.remove}
            onChange={(e) => props.onRemove(e.currentTarget.checked)}
          />{' '}
          Remove the {lower(f.label)}
        </label>
      )}
    </>
  );
}
