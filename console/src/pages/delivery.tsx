/**
 * One delivery: the exact body, the request headers Hookdesk sends, every
 * attempt with its response, and "Retry now".
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
      <dl class="facts">
        <dt>Status</dt>
        <dd data-testid="delivery-status">
          <StatusBadge status={d.status} />
          {d.nextAttemptAt && <span class="muted"> next attempt {dateTime(d.nextAttemptAt)}</span>}
        </dd>
        <dt>Attempts</dt>
        <dd>{d.attemptCount}</dd>
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
                bodyLimit={meta.deliveries.responseBodyLimitBytes}
              />
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

/** A standard header's value on this delivery (the signature has its own row). */
function valueOf(header: RequestHeader, delivery: DeliveryDetail): string {
  if (header.value !== null) return header.value;
  if (header.from === 'event_type') return delivery.eventType;
  if (header.from === 'delivery_id') return delivery.id;
  return '';
}

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
      .filter((h) => h.from !== 'signature')
      .map((h): [string, string] => [h.name, valueOf(h, delivery)]),
  ];
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
          {signature && (
            <tr>
              <th scope="row">
                <code>{signature.name}</code>
              </th>
              <td>
                {hook.hasSecret ? (
                  <>
                    <code>sha256=</code>
                    <span class="muted">
                      {' '}
                      HMAC-SHA256 of the body, keyed by the webhook’s secret, computed at each
                      attempt (the secret is never shown)
                    </span>
                  </>
                ) : (
                  <span class="muted">not sent: the webhook has no secret</span>
                )}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <p class="help">
        Custom headers and the signature follow the webhook’s settings at the time of each attempt;
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

function AttemptItem({ attempt: a, bodyLimit }: { attempt: Attempt; bodyLimit: number }) {
  const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
  return (
    <li class={`attempt ${ok ? 'attempt-ok' : 'attempt-bad'}`}>
      <h3>
        Attempt {a.number}:{' '}
        {a.statusCode !== null ? `HTTP ${a.statusCode}` : `no response (${a.error?.code ?? '?'})`}
      </h3>
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
