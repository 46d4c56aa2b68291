/**
 * Rotating a webhook's signing secret (docs/webhooks.md, "Rotating a
 * secret"): the new secret signs at once and the replaced one keeps signing
 * beside it for the overlap, so the receiver can switch without refusing a
 * delivery. The API answers the new secret once and never again; this panel
 * keeps it in its own state only, so closing the panel or leaving the page
 * forgets it.
 */
import { useState } from 'preact/hooks';
import { api, webhookPath, type RotatedSecret, type Webhook } from '../api.js';
import { dateTime } from '../format.js';
import { useFormSend } from '../forms.js';
import {
  Alert,
  CopyButton,
  FormError,
  PanelActions,
  RowPanel,
  TextField,
  problemsOf,
} from '../ui.js';
import { parseNumber } from './webhook-input.js';

/**
 * The API's default overlap (docs/webhooks.md), filled in so that it is seen
 * and can be changed; an emptied field sends none and gets the API's default.
 */
const DEFAULT_OVERLAP_HOURS = '24';

export function RotatePanel({
  hook,
  onRotated,
  onClose,
}: {
  hook: Webhook;
  onRotated: () => void;
  onClose: () => void;
}) {
  const [secret, setSecret] = useState('');
  const [overlap, setOverlap] = useState(DEFAULT_OVERLAP_HOURS);
  const { problems, setProblems, error, setError, busy, send } = useFormSend();
  const [done, setDone] = useState<{ answer: RotatedSecret; hadSecret: boolean } | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: Record<string, unknown> = {};
    if (secret !== '') body.secret = secret;
    const hours = parseNumber(overlap);
    if (hook.hasSecret && hours !== null) body.overlapHours = hours;
    await send('The secret was not rotated.', async () => {
      const answer = await api<RotatedSecret>('POST', `${webhookPath(hook)}/secret/rotate`, body);
      setDone({ answer, hadSecret: hook.hasSecret });
      setSecret('');
      setProblems([]);
      onRotated();
    });
  };

  const other = problems.filter((p) => !['secret', 'overlapHours'].includes(p.field));
  return (
    <RowPanel id="rotate-title" title={`Rotate the secret of ${hook.name}`} onClose={onClose}>
      {done ? (
        <NewSecret hook={hook} {...done} />
      ) : (
        <>
          <p class="muted">
            {hook.hasSecret
              ? 'The new secret signs every attempt from now on. The current one keeps signing beside it for the overlap, so the receiver can switch to the new one without refusing a delivery.'
              : 'This webhook has no secret yet: deliveries are signed from now on.'}
          </p>
          {error && <FormError message={error} problems={other} />}
          <form class="form" onSubmit={(e) => void submit(e)} noValidate>
            <TextField
              id="rotate-secret"
              label="New secret"
              help="Optional: empty, and Hookdesk generates a whsec_ secret (Standard Webhooks). Otherwise 16–500 characters."
              problems={problemsOf(problems, 'secret')}
              type="password"
              autocomplete="new-password"
              value={secret}
              onValue={setSecret}
            />
            {hook.hasSecret && (
              <TextField
                id="rotate-overlap"
                label="Overlap (hours)"
                help="How long the current secret keeps signing beside the new one, 0–168. 0: it stops at once."
                problems={problemsOf(problems, 'overlapHours')}
                inputMode="numeric"
                value={overlap}
                onValue={setOverlap}
              />
            )}
            <PanelActions
              label="Rotate secret"
              busyLabel="Rotating…"
              busy={busy}
              onCancel={onClose}
            />
          </form>
        </>
      )}
    </RowPanel>
  );
}

function NewSecret({
  hook,
  answer,
  hadSecret,
}: {
  hook: Webhook;
  answer: RotatedSecret;
  hadSecret: boolean;
}) {
  const until = answer.previousSecretExpiresAt;
  return (
    <>
      <Alert kind="warning">
        This is the only time the new secret is shown: copy it to the receiver now. Closing this
        panel or leaving the page forgets it.
      </Alert>
      <div class="secret-once">
        <code data-testid="new-secret">{answer.secret}</code>
        <CopyButton text={answer.secret} label={`new secret of ${hook.name}`} />
      </div>
      <p data-testid="overlap-end">
        {until ? (
          <>
            The previous secret keeps signing until <time dateTime={until}>{dateTime(until)}</time>:
            until then every attempt carries both signatures, the new one first.
          </>
        ) : hadSecret ? (
          'No overlap: the previous secret stopped signing at once.'
        ) : (
          'There was no previous secret: deliveries are signed with this one from now on.'
        )}
      </p>
    </>
  );
}
