/**
 * Recovering a time range (docs/api.md, "Recovering a time range"): the
 * webhook is sent again what it missed of `[since, until)`, failed or
 * cancelled deliveries queued again and events it never had a delivery of
 * given one. The API answers at once and does the work in the background,
 * so this panel reads the recovery again every second until it is done or
 * failed.
 */
import { useRef, useState } from 'preact/hooks';
import { api, errorText, webhookPath, type Recovery, type Webhook } from '../api.js';
import { dateTime, fromLocalInput, toLocalInput } from '../format.js';
import { useFormSend } from '../forms.js';
import { Link } from '../router.js';
import {
  Alert,
  FormError,
  PanelActions,
  RowPanel,
  TextField,
  problemsOf,
  useInterval,
} from '../ui.js';

/** The range filled in: the last day, the usual "what did it miss" after an outage. */
const DEFAULT_RANGE_MS = 86_400_000;
const POLL_MS = 1000;

export function RecoverPanel({ hook, onClose }: { hook: Webhook; onClose: () => void }) {
  const [since, setSince] = useState(() =>
    toLocalInput(new Date(Date.now() - DEFAULT_RANGE_MS).toISOString()),
  );
  const [until, setUntil] = useState('');
  const { problems, setProblems, error, setError, busy, send } = useFormSend();
  const [recovery, setRecovery] = useState<Recovery | null>(null);
  const [pollError, setPollError] = useState<string | null>(null);

  // One read at a time: a slow answer is not overtaken by the next tick's.
  const reading = useRef(false);
  const poll = async () => {
    if (!recovery || reading.current) return;
    reading.current = true;
    try {
      const path = `${webhookPath(hook)}/recoveries/${recovery.id}`;
      setRecovery(await api<Recovery>('GET', path));
      setPollError(null);
    } catch (err) {
      setPollError(errorText(err));
    } finally {
      reading.current = false;
    }
  };
  useInterval(() => void poll(), POLL_MS, recovery?.status === 'running');

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: Record<string, string> = {};
    // The inputs hold local times; the API takes the instants they name. An
    // emptied `since` is left out, for the API to say it is required.
    if (since !== '') body.since = fromLocalInput(since) ?? since;
    if (until !== '') body.until = fromLocalInput(until) ?? until;
    await send('Nothing was recovered.', async () => {
      const started = await api<Recovery>('POST', `${webhookPath(hook)}/recover`, body);
      setProblems([]);
      setPollError(null);
      setRecovery(started);
    });
  };

  const other = problems.filter((p) => !['since', 'until'].includes(p.field));
  return (
    <RowPanel id="recover-title" title={`Recover missed events for ${hook.name}`} onClose={onClose}>
      {recovery ? (
        <Progress
          hook={hook}
          recovery={recovery}
          pollError={pollError}
          onAgain={() => setRecovery(null)}
        />
      ) : (
        <>
          <p class="muted">
            Sends the webhook again what it missed of a time range: deliveries that failed or were
            cancelled are queued again, and events it never had a delivery of (it was disabled, or
            not subscribed) get one now. A delivery that succeeded or is still pending is not sent
            twice.
          </p>
          {!hook.active && (
            <Alert kind="warning">
              This webhook is disabled, so a recovery would send it nothing and is refused: enable
              it first (Enable in its row), then recover.
            </Alert>
          )}
          {error && <FormError message={error} problems={other} />}
          <form class="form" onSubmit={(e) => void submit(e)} noValidate>
            <div class="recover-range">
              <TextField
                id="recover-since"
                label="Since"
                help="The start of the range, included, in this browser’s time zone; not older than the server’s event retention."
                problems={problemsOf(problems, 'since')}
                type="datetime-local"
                value={since}
                onValue={setSince}
              />
              <TextField
                id="recover-until"
                label="Until (optional)"
                help="The end of the range, not included. Empty: now."
                problems={problemsOf(problems, 'until')}
                type="datetime-local"
                value={until}
                onValue={setUntil}
              />
            </div>
            <PanelActions label="Recover" busyLabel="Starting…" busy={busy} onCancel={onClose} />
          </form>
        </>
      )}
    </RowPanel>
  );
}

const BADGES: Record<Recovery['status'], [string, string]> = {
  running: ['badge-pending', 'Running'],
  done: ['badge-succeeded', 'Done'],
  failed: ['badge-failed', 'Failed'],
};

function Progress({
  hook,
  recovery: r,
  pollError,
  onAgain,
}: {
  hook: Webhook;
  recovery: Recovery;
  pollError: string | null;
  onAgain: () => void;
}) {
  const [badge, label] = BADGES[r.status] ?? ['badge-cancelled', r.status];
  return (
    <div aria-live="polite">
      <dl class="facts">
        <dt>Status</dt>
        <dd data-testid="recovery-status">
          <span class={`badge ${badge}`}>{label}</span>
          {r.status === 'running' && <span class="muted small"> refreshing every second</span>}
        </dd>
        <dt>Deliveries queued</dt>
        <dd data-testid="recovery-queued">{r.deliveriesQueued.toLocaleString('en-US')}</dd>
        <dt>Range</dt>
        <dd data-testid="recovery-range">
          <time dateTime={r.since}>{dateTime(r.since)}</time> to{' '}
          <time dateTime={r.until}>{dateTime(r.until)}</time>{' '}
          <span class="muted small">(the end not included)</span>
        </dd>
        <dt>Started</dt>
        <dd>{dateTime(r.createdAt)}</dd>
        <dt>Finished</dt>
        <dd>{dateTime(r.completedAt)}</dd>
        {r.error && (
          <>
            <dt>Why it stopped</dt>
            <dd data-testid="recovery-error">{r.error}</dd>
          </>
        )}
      </dl>
      {pollError && <Alert>The recovery’s progress could not be read: {pollError}</Alert>}
      {r.status === 'done' && (
        <p>
          The queued deliveries are sent as usual:{' '}
          <Link href={`/deliveries/${hook.id}`}>see them in the delivery log</Link>.
        </p>
      )}
      {r.status !== 'running' && (
        <div class="actions">
          <button type="button" onClick={onAgain}>
            Recover another range
          </button>
        </div>
      )}
    </div>
  );
}
