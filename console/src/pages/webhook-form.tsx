/**
 * Create and edit a webhook with every field (docs/api.md, "Webhooks"). The
 * browser does not validate (the form is `noValidate`): the API's own problems
 * are shown under each field, so the console and the API can never disagree.
 */
import { useState } from 'preact/hooks';
import { api, webhookPath, type CreatedWebhook, type Webhook } from '../api.js';
import { useFormSend } from '../forms.js';
import { Link, navigate } from '../router.js';
import { useDirectory, type Directory } from '../store.js';
import {
  Alert,
  CopyButton,
  Field,
  FieldErrors,
  FormError,
  Loading,
  PageTitle,
  TextField,
  problemsOf,
  setFlash,
} from '../ui.js';
import {
  explainUrl,
  filterInput,
  parseFilter,
  parseHeaders,
  parseNumber,
  parseRetry,
} from './webhook-input.js';
import { HookFacts, HookStatus, orderUnit } from './webhooks.js';

interface Form {
  kind: 'ticket' | 'survey';
  surveyId: string;
  name: string;
  url: string;
  events: string[];
  /**
   * On create: let Hookdesk generate a secret (the API's default when `secret`
   * is absent), type one, or sign nothing (`secret: null`).
   */
  secretMode: 'generate' | 'enter' | 'none';
  secret: string;
  removeSecret: boolean;
  headers: string;
  active: boolean;
  retry: string;
  /** Empty: unlimited. */
  rateLimit: string;
  /** The payload filter as JSON text; empty: no filter. */
  filter: string;
  ordering: Webhook['ordering'];
}

/** The example in the filter's help: only high and urgent tickets. */
const FILTER_EXAMPLE = '{"data.ticket.priority": {"$in": ["high", "urgent"]}}';

function initial(hook: Webhook | null, dir: Directory): Form {
  return {
    kind: hook?.surveyId ? 'survey' : 'ticket',
    surveyId: hook?.surveyId ?? dir.surveys[0]?.id ?? '',
    name: hook?.name ?? '',
    url: hook?.url ?? '',
    events: hook?.events ?? [],
    secretMode: 'generate',
    secret: '',
    removeSecret: false,
    // The API shows each value masked; a masked line sent back keeps the stored value.
    headers: Object.entries(hook?.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
    active: hook?.active ?? true,
    retry: (hook?.retryPolicy ?? dir.meta.webhooks.retryPolicy.default).join(', '),
    rateLimit: hook?.rateLimitPerSecond?.toString() ?? '',
    filter: filterInput(hook?.filter ?? null),
    ordering: hook?.ordering ?? 'none',
  };
}

export function WebhookFormPage({ id }: { id: string | null }) {
  const dir = useDirectory();
  if (!dir.data) return dir.error ? <Alert>{dir.error}</Alert> : <Loading what="the webhook" />;
  const hook = id === null ? null : (dir.data.webhooks.find((w) => w.id === id) ?? null);
  if (id !== null && !hook) {
    return (
      <>
        <PageTitle title="Webhook not found" />
        <p>
          No webhook {id} in this organization. <Link href="/webhooks">Back to the webhooks</Link>.
        </p>
      </>
    );
  }
  return <WebhookForm hook={hook} dir={dir.data} onSaved={dir.reload} />;
}

function WebhookForm({
  hook,
  dir,
  onSaved,
}: {
  hook: Webhook | null;
  dir: Directory;
  onSaved: () => void;
}) {
  const [form, setForm] = useState(() => initial(hook, dir));
  // The secret Hookdesk generated on create: kept in this page's state only, shown once.
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const { problems, setProblems, error, setError, busy, send } = useFormSend();
  const set = <K extends keyof Form>(key: K, value: Form[K]) =>
    setForm((f) => ({ ...f, [key]: value }));
  const family = form.kind === 'ticket' ? 'ticket' : 'survey';
  const eventTypes = dir.eventTypes.filter((t) => t.family === family);
  const { retryPolicy, customHeaders, defaultSurveyEvents } = dir.meta.webhooks;
  const signature = dir.meta.deliveries.requestHeaders.find((h) => h.from === 'signature');

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const parsed = parseHeaders(form.headers);
    const filter = parseFilter(form.filter);
    const mine = [...parsed.problems, ...filter.problems];
    if (mine.length > 0) {
      setProblems(mine);
      return;
    }
    const body: Record<string, unknown> = {
      name: form.name,
      url: form.url,
      events: form.events,
      headers: parsed.headers,
      active: form.active,
      retryPolicy: parseRetry(form.retry),
      rateLimitPerSecond: parseNumber(form.rateLimit),
      filter: filter.filter,
      ordering: form.ordering,
    };
    if (hook) {
      if (form.removeSecret) body.secret = null;
      else if (form.secret !== '') body.secret = form.secret;
    } else if (form.secretMode === 'none') {
      body.secret = null;
    } else if (form.secretMode === 'enter') {
      body.secret = form.secret; // empty too: the API's problem shows under the field
    } // 'generate': no `secret`, and the API generates one
    if (hook) {
      // Only what changed: re-sending `active: true` would reset a failure count.
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      if (body.name === hook.name) delete body.name;
      if (body.url === hook.url) delete body.url;
      if (same(body.events, hook.events)) delete body.events;
      if (same(body.headers, hook.headers)) delete body.headers;
      if (body.active === hook.active) delete body.active;
      if (same(body.retryPolicy, hook.retryPolicy)) delete body.retryPolicy;
      if (body.rateLimitPerSecond === hook.rateLimitPerSecond) delete body.rateLimitPerSecond;
      if (same(body.filter, hook.filter)) delete body.filter;
      if (body.ordering === hook.ordering) delete body.ordering;
    } else if (form.kind === 'survey' && form.events.length === 0) {
      delete body.events; // the API's default: survey.response_completed
    }
    await send('The webhook was not saved.', async () => {
      if (hook) {
        if (Object.keys(body).length > 0) await api('PATCH', webhookPath(hook), body);
      } else {
        const base =
          form.kind === 'ticket' ? '/api/webhooks' : `/api/surveys/${form.surveyId}/webhooks`;
        const answer = await api<CreatedWebhook>('POST', base, body);
        if (answer.secret !== undefined) {
          onSaved();
          setCreated({ name: answer.name, secret: answer.secret });
          return;
        }
      }
      onSaved();
      setFlash(hook ? `${form.name} was saved.` : `${form.name} was created.`);
      navigate('/webhooks');
    });
  };

  const known = [
    'name',
    'url',
    'events',
    'secret',
    'headers',
    'active',
    'retryPolicy',
    'rateLimitPerSecond',
    'filter',
    'ordering',
  ];
  const other = problems.filter((p) => !known.includes(p.field.split(/[.[]/)[0]!));
  const eventProblems = problemsOf(problems, 'events');
  const orderingProblems = problemsOf(problems, 'ordering');
  const unit = orderUnit(form.kind === 'ticket' ? null : form.surveyId);
  if (created) return <CreatedSecret {...created} />;
  const secretField = (
    <TextField
      id="wh-secret"
      label={hook?.hasSecret ? 'New signing secret' : 'Signing secret'}
      help={
        hook?.hasSecret
          ? 'A secret is set (it is never shown). Leave empty to keep it. A new one here replaces it at once, so deliveries stop verifying with the old one; to switch without that, use Rotate secret in the list of webhooks.'
          : hook
            ? `16–500 characters; optional. Deliveries then carry ${signature?.name ?? 'a signature'}.`
            : '16–500 characters; one starting with whsec_ must be a Standard Webhooks secret.'
      }
      problems={problemsOf(problems, 'secret')}
      type="password"
      autocomplete="new-password"
      value={form.secret}
      disabled={form.removeSecret}
      onValue={(v) => set('secret', v)}
    />
  );
  return (
    <>
      <PageTitle title={hook ? `Edit ${hook.name}` : 'New webhook'} />
      {hook && (
        <div class="status-line">
          <HookStatus hook={hook} meta={dir.meta} />
          <HookFacts hook={hook} />
        </div>
      )}
      {error && <FormError message={error} problems={other} />}
      <form class="form" onSubmit={(e) => void submit(e)} noValidate>
        {!hook && (
          <fieldset>
            <legend>Kind</legend>
            <label class="inline">
              <input
                type="radio"
                name="kind"
                checked={form.kind === 'ticket'}
                onChange={() => setForm((f) => ({ ...f, kind: 'ticket', events: [] }))}
              />{' '}
              Ticket webhook (organization-wide ticket events)
            </label>
            <label class="inline">
              <input
                type="radio"
                name="kind"
                checked={form.kind === 'survey'}
                disabled={dir.surveys.length === 0}
                onChange={() => setForm((f) => ({ ...f, kind: 'survey', events: [] }))}
              />{' '}
              Survey webhook (one survey’s completed responses)
              {dir.surveys.length === 0 && <span class="muted"> — no surveys yet</span>}
            </label>
            {form.kind === 'survey' && (
              <div class="field">
                <label for="wh-survey">Survey</label>
                <select
                  id="wh-survey"
                  value={form.surveyId}
                  onChange={(e) => set('surveyId', e.currentTarget.value)}
                >
                  {dir.surveys.map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </div>
            )}
          </fieldset>
        )}

        <TextField
          id="wh-name"
          label="Name"
          help="1–200 characters, for you."
          problems={problemsOf(problems, 'name')}
          value={form.name}
          onValue={(v) => set('name', v)}
        />

        <TextField
          id="wh-url"
          label="URL"
          help="The receiver’s https:// address (at most 2,000 characters)."
          problems={problemsOf(problems, 'url')}
          explain={explainUrl(problemsOf(problems, 'url'))}
          type="url"
          inputMode="url"
          spellcheck={false}
          value={form.url}
          onValue={(v) => set('url', v)}
        />

        <fieldset
          id="wh-events"
          class={eventProblems.length > 0 ? 'field-invalid' : undefined}
          aria-describedby={eventProblems.length > 0 ? 'wh-events-error' : 'wh-events-help'}
        >
          <legend>Events</legend>
          <p class="help" id="wh-events-help">
            {family === 'ticket'
              ? 'At least one.'
              : `None ticked means the default, ${defaultSurveyEvents.join(', ')}.`}
          </p>
          <div class="checks">
            {eventTypes.map((t) => (
              <label class="inline" key={t.type} title={t.description}>
                <input
                  type="checkbox"
                  checked={form.events.includes(t.type)}
                  onChange={(e) =>
                    set(
                      'events',
                      e.currentTarget.checked
                        ? [...form.events, t.type]
                        : form.events.filter((x) => x !== t.type),
                    )
                  }
                />{' '}
                <code>{t.type}</code>
              </label>
            ))}
          </div>
          <FieldErrors id="wh-events-error" label="Events" problems={eventProblems} />
        </fieldset>

        {hook ? (
          secretField
        ) : (
          <fieldset id="wh-signing">
            <legend>Signing</legend>
            <label class="inline">
              <input
                type="radio"
                name="secret-mode"
                checked={form.secretMode === 'generate'}
                onChange={() => set('secretMode', 'generate')}
              />{' '}
              Generate a secret (recommended)
            </label>
            <label class="inline">
              <input
                type="radio"
                name="secret-mode"
                checked={form.secretMode === 'enter'}
                onChange={() => set('secretMode', 'enter')}
              />{' '}
              Enter a secret
            </label>
            <label class="inline">
              <input
                type="radio"
                name="secret-mode"
                checked={form.secretMode === 'none'}
                onChange={() => set('secretMode', 'none')}
              />{' '}
              No signature
            </label>
            <p class="help">
              {form.secretMode === 'none'
                ? 'Deliveries are unsigned: the receiver cannot tell them from forged requests.'
                : `Deliveries carry ${signature?.name ?? 'a signature'}. ` +
                  (form.secretMode === 'generate'
                    ? 'Hookdesk generates a whsec_ secret (Standard Webhooks) and shows it once, after the webhook is created.'
                    : '')}
            </p>
            {form.secretMode === 'enter' && secretField}
            {form.secretMode !== 'enter' && (
              <FieldErrors label="Signing secret" problems={problemsOf(problems, 'secret')} />
            )}
          </fieldset>
        )}
        {hook?.hasSecret && (
          <label class="inline">
            <input
              type="checkbox"
              checked={form.removeSecret}
              onChange={(e) => set('removeSecret', e.currentTarget.checked)}
            />{' '}
            Remove the secret (deliveries are then unsigned)
          </label>
        )}

        <Field
          id="wh-headers"
          label="Custom headers"
          help={
            `One “Name: value” per line, at most ${customHeaders.max}. ` +
            (hook && Object.keys(hook.headers).length > 0
              ? 'Values are secrets and never shown: leave a masked value as it is to keep it, or type a new one.'
              : 'Values are secrets: once saved they are never shown again.') +
            ' Hookdesk’s own headers and hop-by-hop ones are refused.'
          }
          problems={problemsOf(problems, 'headers')}
        >
          {(aria) => (
            <textarea
              {...aria}
              rows={3}
              spellcheck={false}
              value={form.headers}
              onInput={(e) => set('headers', e.currentTarget.value)}
            />
          )}
        </Field>

        <TextField
          id="wh-retry"
          label="Retry delays (seconds)"
          help={`Comma-separated, at most ${retryPolicy.maxRetries}, each ${retryPolicy.minDelaySeconds}–${retryPolicy.maxDelaySeconds}. Empty: no retries. Default: ${retryPolicy.default.join(', ')}.`}
          problems={problemsOf(problems, 'retryPolicy')}
          inputMode="numeric"
          value={form.retry}
          onValue={(v) => set('retry', v)}
        />

        <TextField
          id="wh-rate"
          label="Rate limit (attempts per second)"
          help="At most this many attempts start per second; deliveries over it wait, they do not fail. Empty: unlimited."
          problems={problemsOf(problems, 'rateLimitPerSecond')}
          inputMode="numeric"
          value={form.rateLimit}
          onValue={(v) => set('rateLimit', v)}
        />

        <Field
          id="wh-filter"
          label="Payload filter (JSON)"
          help={
            <>
              Only events whose body matches get a delivery; empty: every subscribed event. Keys are
              dotted paths into the body, values a literal or operators. Example, only high and
              urgent tickets: <code>{FILTER_EXAMPLE}</code>. The operators and limits are in{' '}
              <code>docs/webhooks.md</code>, section “Filters”, and under <code>filter</code> in the{' '}
              <a href="/docs" target="_blank" rel="noopener">
                API reference
              </a>
              . A change applies to events from then on.
            </>
          }
          problems={problemsOf(problems, 'filter')}
        >
          {(aria) => (
            <textarea
              {...aria}
              rows={form.filter.split('\n').length > 3 ? 8 : 3}
              spellcheck={false}
              placeholder={FILTER_EXAMPLE}
              value={form.filter}
              onInput={(e) => set('filter', e.currentTarget.value)}
            />
          )}
        </Field>

        <fieldset
          id="wh-ordering"
          class={orderingProblems.length > 0 ? 'field-invalid' : undefined}
          aria-describedby={
            orderingProblems.length > 0 ? 'wh-ordering-help wh-ordering-error' : 'wh-ordering-help'
          }
        >
          <legend>Ordering</legend>
          <label class="inline">
            <input
              type="radio"
              name="ordering"
              checked={form.ordering === 'none'}
              onChange={() => set('ordering', 'none')}
            />{' '}
            None (deliveries may arrive in any order)
          </label>
          <label class="inline">
            <input
              type="radio"
              name="ordering"
              checked={form.ordering === 'ticket'}
              onChange={() => set('ordering', 'ticket')}
            />{' '}
            One {unit} at a time, in order
          </label>
          <p class="help" id="wh-ordering-help">
            In order, a delivery waiting for a retry holds back the later ones of its {unit} until
            it succeeds, fails for good or is cancelled (head-of-line blocking): pair it with a
            short retry policy.
          </p>
          <FieldErrors id="wh-ordering-error" label="Ordering" problems={orderingProblems} />
        </fieldset>

        <div class="field">
          <label class="inline">
            <input
              type="checkbox"
              checked={form.active}
              onChange={(e) => set('active', e.currentTarget.checked)}
            />{' '}
            Active (receives deliveries)
          </label>
          {hook && !hook.active && (
            <p class="help">Activating it again resets its count of failed attempts.</p>
          )}
          <FieldErrors label="Active" problems={problemsOf(problems, 'active')} />
        </div>

        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : hook ? 'Save changes' : 'Create webhook'}
          </button>
          <Link href="/webhooks" class="button">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

/** After a create without a secret: the generated one, shown this once (like a rotation's). */
function CreatedSecret({ name, secret }: { name: string; secret: string }) {
  return (
    <>
      <PageTitle title={`${name} was created`} />
      <Alert kind="warning">
        This is the only time the generated signing secret is shown: copy it to the receiver now.
        Leaving this page forgets it; a new one can be had with Rotate secret.
      </Alert>
      <div class="secret-once">
        <code data-testid="new-secret">{secret}</code>
        <CopyButton text={secret} label={`signing secret of ${name}`} />
      </div>
      <div class="actions">
        <Link href="/webhooks" class="button primary">
          Done
        </Link>
      </div>
    </>
  );
}
