/** The organization's SLA policy: first-response and resolution targets per priority. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, errorText, type FieldProblem, type SlaPolicy } from '../api.js';
import { loadMeta } from '../meta.js';
import { Alert, Field, Loading, PageTitle, useAsync } from '../ui.js';

type Draft = Record<string, string>;

const METRICS = [
  { key: 'firstResponseMinutes', label: 'First response' },
  { key: 'resolutionMinutes', label: 'Resolution' },
] as const;

function toDraft(policy: SlaPolicy, priorities: string[]): Draft {
  const draft: Draft = { warningPercent: String(policy.warningPercent) };
  for (const p of priorities) {
    for (const m of METRICS) {
      const value = policy.priorities[p]?.[m.key];
      draft[`priorities.${p}.${m.key}`] = value == null ? '' : String(value);
    }
  }
  return draft;
}

/** Numbers go as numbers, anything else as typed, for the API to name the problem. */
function value(text: string): unknown {
  const t = text.trim();
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

function toBody(draft: Draft, priorities: string[]): unknown {
  const targets: Record<string, Record<string, unknown>> = {};
  for (const p of priorities) {
    const row: Record<string, unknown> = {};
    for (const m of METRICS) {
      const text = draft[`priorities.${p}.${m.key}`] ?? '';
      row[m.key] = text.trim() === '' ? null : value(text);
    }
    targets[p] = row;
  }
  return { warningPercent: value(draft.warningPercent ?? ''), priorities: targets };
}

function human(minutes: string): string {
  const n = Number(minutes);
  if (minutes.trim() === '' || !Number.isInteger(n) || n <= 0) return 'no target';
  if (n % 1440 === 0) return `${n / 1440} day${n === 1440 ? '' : 's'}`;
  if (n % 60 === 0) return `${n / 60} h`;
  return `${n} min`;
}

export function SlaPage() {
  const policy = useAsync(async () => {
    const [current, meta] = await Promise.all([
      api<SlaPolicy>('GET', '/api/sla-policy'),
      loadMeta(),
    ]);
    // The server lists priorities lowest first; the most urgent comes first here.
    return { current, priorities: [...meta.ticketPriorities].reverse() };
  }, []);
  const priorities = policy.data?.priorities ?? [];
  const [draft, setDraft] = useState<Draft | null>(null);
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [message, setMessage] = useState<{ kind: string; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (policy.data) setDraft(toDraft(policy.data.current, policy.data.priorities));
  }, [policy.data]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    setBusy(true);
    setMessage(null);
    try {
      const saved = await api<SlaPolicy>('PUT', '/api/sla-policy', toBody(draft, priorities));
      setDraft(toDraft(saved, priorities));
      setProblems([]);
      setMessage({
        kind: 'info',
        text: 'Saved. It applies to tickets created, or whose priority changes, from now on.',
      });
    } catch (err) {
      setProblems(err instanceof ApiError ? err.details : []);
      setMessage({ kind: 'error', text: `Not saved: ${errorText(err)}` });
    } finally {
      setBusy(false);
    }
  };

  // Each input is one API field, so its problems are about the field itself (see problemsOf).
  const at = (field: string) =>
    problems.filter((p) => p.field === field).map((p) => ({ ...p, field: '' }));
  const input = (field: string, label: string, help: string) => (
    <Field id={`sla-${field.replace(/\./g, '-')}`} label={label} help={help} problems={at(field)}>
      {(aria) => (
        <input
          {...aria}
          type="text"
          inputMode="numeric"
          value={draft?.[field] ?? ''}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setDraft((d) => ({ ...d, [field]: v }));
          }}
        />
      )}
    </Field>
  );

  return (
    <>
      <PageTitle title="SLA policy" />
      <p class="muted">
        Targets in minutes per ticket priority; empty means no target. Warnings (ticket.sla_warning)
        fire when the warning percentage of a target has passed unmet, breaches
        (ticket.sla_breached) at the due time.
      </p>
      {policy.error && <Alert>{policy.error}</Alert>}
      {!draft && !policy.error && <Loading what="the SLA policy" />}
      {message && <Alert kind={message.kind}>{message.text}</Alert>}
      {draft && (
        <form class="form" onSubmit={(e) => void save(e)} noValidate>
          {input('warningPercent', 'Warning at (% of a target elapsed)', '1–99; default 80.')}
          <div class="sla-grid">
            {priorities.map((p) => (
              <fieldset key={p}>
                <legend>{p[0]!.toUpperCase() + p.slice(1)} priority</legend>
                {METRICS.map((m) =>
                  input(
                    `priorities.${p}.${m.key}`,
                    `${m.label} (minutes)`,
                    human(draft[`priorities.${p}.${m.key}`] ?? ''),
                  ),
                )}
              </fieldset>
            ))}
          </div>
          {problems.filter((p) => !(p.field in draft)).length > 0 && (
            <Alert>
              <ul>
                {problems
                  .filter((p) => !(p.field in draft))
                  .map((p) => (
                    <li key={p.field + p.message}>
                      {p.field}: {p.message}
                    </li>
                  ))}
              </ul>
            </Alert>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save policy'}
            </button>
          </div>
        </form>
      )}
    </>
  );
}
