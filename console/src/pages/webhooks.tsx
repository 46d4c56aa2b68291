/**
 * Webhooks: ticket and survey webhooks in one list, with status, success rate,
 * rate limit, payload filter, ordering, secret overlap and actions (rotating
 * a secret: webhook-secret.tsx; recovering a time range: webhook-recover.tsx).
 */
import { useState } from 'preact/hooks';
import {
  api,
  errorText,
  webhookPath,
  type DeliveryDetail,
  type Webhook,
  type WebhookStats,
} from '../api.js';
import { dateTime, duration, percent, prettyJson, relative } from '../format.js';
import type { Meta } from '../meta.js';
import { Link } from '../router.js';
import { surveyName, useDirectory, type Directory } from '../store.js';
import {
  Alert,
  Code,
  ConfirmDialog,
  Loading,
  PageTitle,
  StatusBadge,
  takeFlash,
  UrlText,
  useAsync,
  useInterval,
} from '../ui.js';
import { RecoverPanel } from './webhook-recover.js';
import { RotatePanel } from './webhook-secret.js';

export function WebhooksPage() {
  const dir = useDirectory();
  const [message, setMessage] = useState<{ kind: string; text: string } | null>(() => {
    const text = takeFlash();
    return text ? { kind: 'info', text } : null;
  });
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  // By id: the directory reloads, and the panel follows the webhook's new state.
  const [rotating, setRotating] = useState<string | null>(null);
  const rotated = dir.data?.webhooks.find((w) => w.id === rotating);
  const [recovering, setRecovering] = useState<string | null>(null);
  const recovered = dir.data?.webhooks.find((w) => w.id === recovering);
  // Statuses change as deliveries fail or succeed.
  useInterval(
    () => {
      if (document.visibilityState === 'visible') dir.reload();
    },
    10_000,
    true,
  );
  const [test, setTest] = useState<{ hook: Webhook; result?: DeliveryDetail; error?: string }>();

  const act = async (what: () => Promise<unknown>, done: string) => {
    setMessage(null);
    try {
      await what();
      setMessage({ kind: 'info', text: done });
    } catch (error) {
      setMessage({ kind: 'error', text: errorText(error) });
    }
    dir.reload();
  };

  const sendTest = async (hook: Webhook) => {
    setTest({ hook });
    try {
      const result = await api<DeliveryDetail>('POST', `${webhookPath(hook)}/test`);
      setTest({ hook, result });
    } catch (error) {
      setTest({ hook, error: errorText(error) });
    }
    dir.reload();
  };

  return (
    <>
      <div class="page-head">
        <PageTitle title="Webhooks" />
        <Link href="/webhooks/new" class="button primary">
          New webhook
        </Link>
      </div>
      <p class="muted">
        Hookdesk POSTs signed JSON to each active webhook subscribed to an event. Ticket webhooks
        belong to the organization, survey webhooks to one survey.
      </p>
      {message && <Alert kind={message.kind}>{message.text}</Alert>}
      {test && dir.data && (
        <TestResult {...test} meta={dir.data.meta} onClose={() => setTest(undefined)} />
      )}
      {rotated && (
        <RotatePanel
          key={rotated.id}
          hook={rotated}
          onRotated={dir.reload}
          onClose={() => setRotating(null)}
        />
      )}
      {recovered && (
        <RecoverPanel key={recovered.id} hook={recovered} onClose={() => setRecovering(null)} />
      )}
      {dir.error && <Alert>{dir.error}</Alert>}
      {!dir.data && !dir.error && <Loading what="webhooks" />}
      {dir.data && dir.data.webhooks.length === 0 && (
        <p>
          No webhooks yet. <Link href="/webhooks/new">Create the first one</Link>.
        </p>
      )}
      {dir.data && dir.data.webhooks.length > 0 && (
        <table class="cards">
          <caption class="visually-hidden">Webhooks</caption>
          <thead>
            <tr>
              <th scope="col">Webhook</th>
              <th scope="col">Status</th>
              <th scope="col">Success (24 h)</th>
              <th scope="col">Last delivery</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {dir.data.webhooks.map((hook) => (
              <Row
                key={hook.id}
                hook={hook}
                dir={dir.data!}
                onTest={() => void sendTest(hook)}
                onRotate={() => setRotating(hook.id)}
                onRecover={() => setRecovering(hook.id)}
                onToggle={() =>
                  void act(
                    () => api('PATCH', webhookPath(hook), { active: !hook.active }),
                    hook.active ? `${hook.name} is disabled.` : `${hook.name} is enabled again.`,
                  )
                }
                onDelete={() => setDeleting(hook)}
              />
            ))}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? 'webhook'}?`}
        confirmLabel="Delete webhook"
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const hook = deleting!;
          setDeleting(null);
          void act(() => api('DELETE', webhookPath(hook)), `${hook.name} was deleted.`);
        }}
      >
        <p>
          This removes the webhook and all of its delivery logs. Deliveries in progress stop. It
          cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}

function Row(props: {
  hook: Webhook;
  dir: Directory;
  onTest: () => void;
  onRotate: () => void;
  onRecover: () => void;
  onToggle: () => void;
  onDelete: () => void;
}) {
  const { hook, dir } = props;
  return (
    <tr>
      <td data-label="Webhook">
        <strong>{hook.name}</strong>
        <div>
          <UrlText url={hook.url} />
        </div>
        <div class="muted small">
          {surveyName(dir, hook.surveyId)} · {hook.events.join(', ')}
        </div>
        <HookFacts hook={hook} />
      </td>
      <td data-label="Status">
        <HookStatus hook={hook} meta={dir.meta} />
      </td>
      <td data-label="Success (24 h)">
        <SuccessRate hook={hook} />
      </td>
      <td data-label="Last delivery">
        <span title={dateTime(hook.lastDeliveryAt)}>{relative(hook.lastDeliveryAt)}</span>
      </td>
      <td data-label="Actions">
        <div class="row-actions" role="group" aria-label={`Actions for ${hook.name}`}>
          <Link href={`/webhooks/${hook.id}/edit`} class="button">
            Edit
          </Link>
          <Link href={`/deliveries/${hook.id}`} class="button">
            Deliveries
          </Link>
          <button type="button" onClick={props.onTest}>
            Send test
          </button>
          <button type="button" onClick={props.onRotate}>
            Rotate secret
          </button>
          <button type="button" onClick={props.onRecover}>
            Recover…
          </button>
          <button type="button" onClick={props.onToggle}>
            {hook.active ? 'Disable' : 'Enable'}
          </button>
          <button type="button" class="danger" onClick={props.onDelete}>
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}

/**
 * The rate limit, the filter, the ordering, "unsigned" without a secret, and
 * the previous secret while it still signs.
 */
export function HookFacts({ hook }: { hook: Webhook }) {
  return (
    <>
      {!hook.hasSecret && (
        <div class="small" data-testid="unsigned">
          <span class="badge">unsigned</span>{' '}
          <span class="muted">no secret: deliveries carry no signature</span>
        </div>
      )}
      <div class="small muted" data-testid="rate-limit">
        Rate limit: {rateLimitText(hook)}
      </div>
      <div class="small muted" data-testid="filter">
        Filter: {hook.filter === null ? 'none' : <FilterText filter={hook.filter} />}
      </div>
      <div class="small muted" data-testid="ordering">
        Ordering: {orderingText(hook)}
      </div>
      {hook.previousSecretExpiresAt && (
        <div class="small" data-testid="previous-secret">
          Previous secret signs until{' '}
          <time dateTime={hook.previousSecretExpiresAt}>
            {dateTime(hook.previousSecretExpiresAt)}
          </time>
        </div>
      )}
    </>
  );
}

/** A filter on one line; a long one cut, whole in its tooltip. */
function FilterText({ filter }: { filter: Record<string, unknown> }) {
  const text = JSON.stringify(filter);
  const cut = text.length > FILTER_SHOWN ? `${text.slice(0, FILTER_SHOWN)}…` : text;
  return (
    <code class="filter-text" title={text}>
      {cut}
    </code>
  );
}

/** Characters of a filter the list shows. */
const FILTER_SHOWN = 160;

/** What `ordering: "ticket"` orders by: a ticket, or a survey webhook's response. */
export function orderUnit(surveyId: string | null): string {
  return surveyId === null ? 'ticket' : 'survey response';
}

export function orderingText(hook: Pick<Webhook, 'ordering' | 'surveyId'>): string {
  return hook.ordering === 'ticket'
    ? `one ${orderUnit(hook.surveyId)} at a time, in order`
    : 'none';
}

export function rateLimitText(hook: Pick<Webhook, 'rateLimitPerSecond'>): string {
  const n = hook.rateLimitPerSecond;
  if (n === null) return 'unlimited';
  return `${n.toLocaleString('en-US')} attempt${n === 1 ? '' : 's'} per second`;
}

/** Why a disabled webhook is, in a sentence's words (`disabledReason`, docs/webhooks.md). */
export function disabledWhy(hook: Webhook, meta: Meta): string {
  switch (hook.disabledReason) {
    case null:
      return 'by hand';
    case 'gone':
      return 'the receiver answered 410 Gone';
    case 'consecutive_failures':
      return `automatically, after ${meta.webhooks.disableAfterConsecutiveFailures} failed attempts in a row`;
    default:
      return `reason: ${hook.disabledReason}`;
  }
}

/**
 * Active, disabled and why, or failing: an active webhook whose last attempts
 * failed is on its way to being disabled, so it is not shown as healthy.
 */
export function HookStatus({ hook, meta }: { hook: Webhook; meta: Meta }) {
  if (hook.active && hook.consecutiveFailures > 0) {
    const n = hook.consecutiveFailures;
    const limit = meta.webhooks.disableAfterConsecutiveFailures;
    const warning = `${n} failed attempt${n === 1 ? '' : 's'} in a row; disabled after ${limit} in a row`;
    return (
      <>
        <span class="badge badge-failing" title={warning}>
          Failing
        </span>
        <div class="small failing" data-testid="failing">
          {warning}
        </div>
      </>
    );
  }
  if (hook.active) return <span class="badge badge-succeeded">Active</span>;
  const why = disabledWhy(hook, meta);
  return (
    <>
      <span class="badge badge-failed">Disabled</span>
      <div class="small" data-testid="disabled-why">
        {why.charAt(0).toUpperCase() + why.slice(1)}
        {hook.disabledAt && <> · {dateTime(hook.disabledAt)}</>}
      </div>
    </>
  );
}

function SuccessRate({ hook }: { hook: Webhook }) {
  const stats = useAsync(
    () => api<WebhookStats>('GET', `${webhookPath(hook)}/stats?hours=24`),
    [hook.id, hook.updatedAt, hook.lastDeliveryAt],
  );
  if (stats.error) return <span class="muted">unavailable</span>;
  if (!stats.data) return <span class="muted">…</span>;
  const t = stats.data.totals;
  if (t.attempts === 0) return <span class="muted">no attempts</span>;
  return (
    <span>
      {percent(t.successRate)}{' '}
      <span class="muted small">
        of {t.attempts} attempt{t.attempts === 1 ? '' : 's'}
      </span>
    </span>
  );
}

function TestResult(props: {
  hook: Webhook;
  meta: Meta;
  result?: DeliveryDetail;
  error?: string;
  onClose: () => void;
}) {
  const attempt = props.result?.attempts.at(-1);
  return (
    <section class="panel" aria-labelledby="test-title" aria-live="polite">
      <div class="page-head">
        <h2 id="test-title">Test of {props.hook.name}</h2>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
      {!props.result && !props.error && (
        <p role="status">Sending a {props.meta.deliveries.testEventType} event…</p>
      )}
      {props.error && <Alert>{props.error}</Alert>}
      {props.result && attempt && (
        <>
          <dl class="facts">
            <dt>Outcome</dt>
            <dd>
              <StatusBadge status={props.result.status} />
            </dd>
            <dt>Status code</dt>
            <dd data-testid="test-status">
              {attempt.statusCode ?? `no response (${attempt.error?.code ?? 'error'})`}
            </dd>
            <dt>Time</dt>
            <dd>{duration(attempt.durationMs)}</dd>
            {attempt.error && (
              <>
                <dt>Error</dt>
                <dd>{attempt.error.message}</dd>
              </>
            )}
          </dl>
          <h3>
            Response body
            {attempt.responseBodyTruncated &&
              ` (cut at ${props.meta.deliveries.responseBodyLimitBytes.toLocaleString('en-US')} bytes)`}
          </h3>
          {attempt.responseBody ? (
            <Code label="Response body">{prettyJson(attempt.responseBody)}</Code>
          ) : (
            <p class="muted">Empty.</p>
          )}
          <p>
            <Link href={`/deliveries/${props.hook.id}/${props.result.id}`}>
              Open this test delivery
            </Link>
          </p>
        </>
      )}
    </section>
  );
}
