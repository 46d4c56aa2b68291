/**
 * One delivery: the exact body, the request headers Hookdesk sends, every
 * attempt with its response and what the receiver asked for in it (a later
 * retry, or no more deliveries), the earlier delivery of its ticket it waits
 * for (ordered webhooks), and "Retry now".
 *
 * The signature: `X-Webhook-Signature` is the HMAC-SHA256 of the body under
 * the webhook's secret, computed by the worker at each attempt. The API never
 * returns the secret, so the console cannot show the value by itself; it
 * shows the header and its recipe, and computes the exact value in this
 * browser (WebCrypto) from a secret the user types, which is never sent or
 * stored.
 */
import { useState } from 'preact/hooks';
import {
  api,
  errorText,
  webhookPath,
  type Attempt,
  type DeliveryDetail,
  type Webhook,
} from '../api.js';
import { bytes, dateTime, duration, prettyJson } from '../format.js';
import type { Meta, RequestHeader } from '../meta.js';
import { Link } from '../router.js';
import { useDirectory } from '../store.js';
import { Alert, Code, Loading, PageTitle, StatusBadge, useAsync, useInterval } from '../ui.js';
import { disabledWhy, orderUnit } from './webhooks.js';

export function DeliveryPage({ webhookId, deliveryId }: { webhookId: string; deliveryId: string }) {
  const dir = useDirectory();
  if (!dir.data) return dir.error ? <Alert>{dir.error}</Alert> : <Loading what="the delivery" />;
  const hook = dir.data.webhooks.find((w) => w.id === webhookId);
  if (!hook) return <Alert>No webhook {webhookId} in this organization.</Alert>;
  return <Detail hook={hook} deliveryId={deliveryId} meta={dir.data.meta} />;
}

function Detail({ hook, deliveryId, meta }: { hook: Webhook; deliveryId: string; meta: Meta }) {
  const path = `${webhookPath(hook)}/deliveries/${deliveryId}`;
  const detail = useAsync(() => api<DeliveryDetail>('GET', path), [path]);
  const [retry, setRetry] = useState<{ kind: string; text: string } | null>(null);
  const d = detail.data;
  const inFlight = d?.status === 'pending' || d?.status === 'delivering';
  useInterval(detail.reload, 2000, inFlight);

  const retryNow = async () => {
    setRetry(null);
    try {
      await api('POST', `${path}/retry`);
      setRetry({ kind: 'info', text: 'Queued: the worker attempts it again now.' });
    } catch (error) {
      setRetry({ kind: 'error', text: errorText(error) });
    }
    detail.reload();
  };

  if (!d) {
    return (
      <>
        <PageTitle title="Delivery" />
        {detail.error ? <Alert>{detail.error}</Alert> : <Loading what="the delivery" />}
      </>
    );
  }
  const retryBlocked = !hook.active
    ? 'The webhook is disabled; enable it before retrying.'
    : d.status === 'delivering'
      ? 'An attempt is in flight right now.'
      : null;
  return (
    <>
      <p class="crumbs">
        <Link href={`/deliveries/${hook.id}`}>← Deliveries of {hook.name}</Link>
      </p>
      <div class="page-head">
        <PageTitle title={`Delivery of ${d.eventType}`} />
        <div>
          <button
            type="button"
            class="primary"
            onClick={() => void retryNow()}
            disabled={retryBlocked !== null}
            aria-describedby={retryBlocked ? 'retry-why' : undefined}
          >
            Retry now
          </button>
          {retryBlocked && (
            <p class="help" id="retry-why">
              {retryBlocked}
            </p>
          )}
        </div>
      </div>
      {retry && <Alert kind={retry.kind}>{retry.text}</Alert>}
      {detail.error && <Alert>{detail.error}</Alert>}
      {d.heldBackBy && <HeldBack hook={hook} by={d.heldBackBy} />}
      <dl class="facts">
        <dt>Status</dt>
        <dd data-testid="delivery-status">
          <StatusBadge status={d.status} />
          {/* Held back, its next attempt waits for the earlier delivery, whatever its time says. */}
          {d.nextAttemptAt && !d.heldBackBy && (
            <span class="muted"> next attempt {dateTime(d.nextAttemptAt)}</span>
          )}
          {d.heldBackBy && <span class="muted"> held back by an earlier delivery</span>}
        </dd>
        <dt>Attempts</dt>
        <dd>{d.attemptCount}</dd>
        <dt>Webhook</dt>
        <dd data-testid="webhook-state">
          {hook.active ? 'Active' : `Disabled: ${disabledWhy(hook, meta)}`}
        </dd>
        <dt>Event</dt>
        <dd>
          <Link href={`/events/${d.eventId}`}>{d.eventId}</Link>
        </dd>
        <dt>Delivery id</dt>
        <dd>
          <code>{d.id}</code>
        </dd>
        <dt>Created</dt>
        <dd>{dateTime(d.createdAt)}</dd>
        <dt>Finished</dt>
        <dd>{dateTime(d.completedAt)}</dd>
      </dl>

      <section aria-labelledby="request-title">
        <h2 id="request-title">Request</h2>
        <p>
          <code>POST {hook.url}</code>
        </p>
        <RequestHeaders hook={hook} delivery={d} headers={meta.deliveries.requestHeaders} />
        <h3>Body</h3>
        <p class="help">
          {bytes(d.payload).toLocaleString()} bytes, identical on every attempt; the signature
          covers these exact bytes.
        </p>
        <Code label="Body, pretty-printed">{prettyJson(d.payload)}</Code>
        <details>
          <summary>Exact bytes as sent</summary>
          <Code label="Body, exact bytes">{d.payload}</Code>
        </details>
      </section>

      <section aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        {d.attempts.length === 0 ? (
          <p class="muted" role="status">
            No attempt yet{inFlight ? '; this page refreshes by itself' : ''}.
          </p>
        ) : (
          <ol class="attempts" aria-live="polite">
            {[...d.attempts].reverse().map((a) => (
              <AttemptItem
                key={a.number}
                attempt={a}
                isTest={d.eventType === meta.deliveries.testEventType}
                bodyLimit={meta.deliveries.responseBodyLimitBytes}
              />
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

/**
 * Why a pending delivery of an ordered webhook is not attempted: an earlier
 * one of its ticket (docs/webhooks.md, "Ordered delivery") must finish first.
 */
function HeldBack({ hook, by }: { hook: Webhook; by: NonNullable<DeliveryDetail['heldBackBy']> }) {
  const unit = orderUnit(hook.surveyId);
  return (
    <p class="explain" data-testid="held-back">
      Waiting for an earlier delivery of the same {unit}:{' '}
      <Link href={`/deliveries/${hook.id}/${by.deliveryId}`}>
        <code>{by.deliveryId}</code>
      </Link>{' '}
      ({by.status === 'delivering' ? 'in flight' : 'pending'}).{' '}
      <span class="muted">
        This webhook sends one delivery of a {unit} at a time, in order: this one goes once that one
        succeeds, fails for good or is cancelled.
      </span>
    </p>
  );
}

/** A standard header's value on this delivery (the signatures have their own rows). */
function valueOf(header: RequestHeader, delivery: DeliveryDetail): string {
  if (header.value !== null) return header.value;
  if (header.from === 'event_type') return delivery.eventType;
  if (header.from === 'delivery_id') return delivery.id;
  return '';
}

type SignatureHeader = RequestHeader & { from: 'signature' | 'standard_signature' };
const isSignature = (h: RequestHeader): h is SignatureHeader =>
  h.from === 'signature' || h.from === 'standard_signature';

/** How each signature is made; the value itself needs the secret. */
const RECIPES = {
  signature: [
    'sha256=',
    'hex HMAC-SHA256 of the body, keyed by the webhook’s secret, computed at each attempt (the secret is never shown)',
  ],
  standard_signature: [
    'v1,',
    'base64 HMAC-SHA256 of “webhook-id.webhook-timestamp.body”, keyed by the webhook’s secret (the decoded bytes of a whsec_ secret), computed at each attempt',
  ],
} as const;

function RequestHeaders({
  hook,
  delivery,
  headers,
}: {
  hook: Webhook;
  delivery: DeliveryDetail;
  /** The standard ones, as the server lists them; sent after the custom ones. */
  headers: RequestHeader[];
}) {
  const rows: [string, string][] = [
    ...Object.entries(hook.headers),
    ...headers
      .filter((h) => !isSignature(h) && h.from !== 'attempt_start')
      .map((h): [string, string] => [h.name, valueOf(h, delivery)]),
  ];
  const timestamps = headers.filter((h) => h.from === 'attempt_start');
  const signatures = headers.filter(isSignature);
  const signature = headers.find((h) => h.from === 'signature');
  return (
    <>
      <table class="compact headers">
        <caption>Request headers</caption>
        <thead>
          <tr>
            <th scope="col">Header</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">
                <code>{name}</code>
              </th>
              <td>
                <code>{value}</code>
              </td>
            </tr>
          ))}
          {timestamps.map((h) => (
            <tr key={h.name}>
              <th scope="row">
                <code>{h.name}</code>
              </th>
              <td>
                <span class="muted">the attempt’s start in Unix seconds, new at each attempt</span>
              </td>
            </tr>
          ))}
          {signatures.map((h) => (
            <tr key={h.name}>
              <th scope="row">
                <code>{h.name}</code>
              </th>
              <td>
                {hook.hasSecret ? (
                  <>
                    <code>{RECIPES[h.from][0]}</code>
                    <span class="muted"> {RECIPES[h.from][1]}</span>
                  </>
                ) : (
                  <span class="muted">not sent: the webhook has no secret</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="help">
        Custom headers and the signatures follow the webhook’s settings at the time of each attempt;
        shown here as they are now. Custom header values are secrets, shown masked.
      </p>
      {hook.hasSecret && signature && (
        <SignatureCheck header={signature.name} body={delivery.payload} />
      )}
    </>
  );
}

async function sign(secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    'raw',
    enc.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function SignatureCheck({ header, body }: { header: string; body: string }) {
  const [secret, setSecret] = useState('');
  const [signature, setSignature] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // WebCrypto exists only in secure contexts (https, or localhost).
  if (typeof crypto === 'undefined' || !crypto.subtle) return null;
  const compute = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setSignature(await sign(secret, body));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="signature" onSubmit={(e) => void compute(e)}>
      <div class="field">
        <label for="sig-secret">Show the exact signature: the webhook’s secret</label>
        <input
          id="sig-secret"
          type="password"
          autocomplete="off"
          value={secret}
          onInput={(e) => {
            setSecret(e.currentTarget.value);
            setSignature(null);
          }}
          aria-describedby="sig-help"
        />
        <p class="help" id="sig-help">
          Computed in this browser; the secret is not sent anywhere or kept.
        </p>
      </div>
      <button type="submit" disabled={secret === ''}>
        Compute signature
      </button>
      {error && <Alert>{error}</Alert>}
      {signature && (
        <p role="status">
          <code data-testid="signature">
            {header}: {signature}
          </code>
        </p>
      )}
    </form>
  );
}

function AttemptItem({
  attempt: a,
  isTest,
  bodyLimit,
}: {
  attempt: Attempt;
  isTest: boolean;
  bodyLimit: number;
}) {
  const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
  return (
    <li class={`attempt ${ok ? 'attempt-ok' : 'attempt-bad'}`}>
      <h3>
        Attempt {a.number}:{' '}
        {a.statusCode !== null ? `HTTP ${a.statusCode}` : `no response (${a.error?.code ?? '?'})`}
      </h3>
      <ReceiverAsked attempt={a} isTest={isTest} />
      <dl class="facts">
        <dt>Started</dt>
        <dd>{dateTime(a.startedAt)}</dd>
        <dt>Duration</dt>
        <dd>{duration(a.durationMs)}</dd>
        {a.error && (
          <>
            <dt>Error</dt>
            <dd>
              <code>{a.error.code}</code> {a.error.message}
            </dd>
          </>
        )}
      </dl>
      {a.responseHeaders && (
        <details>
          <summary>Response headers</summary>
          <Code label={`Response headers of attempt ${a.number}`}>
            {Object.entries(a.responseHeaders)
              .map(([k, v]) => `${k}: ${v}`)
              .join('\n')}
          </Code>
        </details>
      )}
      {a.statusCode !== null && (
        <>
          <h4>
            Response body
            {a.responseBodyTruncated && (
              <span class="badge badge-cancelled" data-testid="truncated">
                cut at {bodyLimit.toLocaleString('en-US')} bytes
              </span>
            )}
          </h4>
          {a.responseBody ? (
            <Code label={`Response body of attempt ${a.number}`}>{prettyJson(a.responseBody)}</Code>
          ) : (
            <p class="muted">Empty.</p>
          )}
        </>
      )}
    </li>
  );
}

/** The statuses whose `retry-after` Hookdesk follows (docs/webhooks.md, "Answering a delivery"). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);
const GONE = 410;

/** What the receiver asked for with its answer: a later retry, or no more deliveries. */
function ReceiverAsked({ attempt: a, isTest }: { attempt: Attempt; isTest: boolean }) {
  if (a.statusCode === GONE) {
    return (
      <p class="receiver-asked" data-testid="receiver-asked">
        {isTest
          ? 'Receiver said gone. A test never disables the webhook, so it stays as it was.'
          : 'Receiver said gone: the webhook was disabled'}
      </p>
    );
  }
  const value = a.responseHeaders?.['retry-after']?.trim();
  if (a.statusCode === null || !RETRY_AFTER_STATUSES.has(a.statusCode) || !value) return null;
  const at = retryAfterAt(value, a);
  return (
    <p class="receiver-asked" data-testid="receiver-asked">
      Receiver asked to retry after <code>{value}</code>
      {at === null ? (
        ', which is neither a number of seconds nor an HTTP date: ignored.'
      ) : at <= answeredAt(a) ? (
        ', a time already past when it answered: ignored.'
      ) : (
        <>
          {/^\d+$/.test(value) ? ' seconds' : ''}, that is{' '}
          <time dateTime={new Date(at).toISOString()}>{dateTime(new Date(at).toISOString())}</time>.{' '}
          <span class="muted">
            The next attempt waits for the later of this and the retry policy’s delay, and at most
            24 hours for what the receiver asks.
          </span>
        </>
      )}
    </p>
  );
}

/**
 * When a `retry-after` value points to, in epoch ms: seconds count from the
 * answer; an HTTP date is itself. Null when it is neither.
 */
function retryAfterAt(value: string, a: Attempt): number | null {
  if (/^\d+$/.test(value)) return answeredAt(a) + Number(value) * 1000;
  // Date.parse reads almost anything as some date ("5 min" is one): only the
  // shapes of an HTTP date (IMF-fixdate and the two obsolete forms) go to it.
  if (!/^[A-Z][a-z]{2,8},? .*(GMT|\d{4})$/.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at;
}

function answeredAt(a: Attempt): number {
  return Date.parse(a.startedAt) + a.durationMs;
}
