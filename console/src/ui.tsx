/**
 * Shared pieces: page titles, loading state, form fields with the API's
 * problems, dialogs, copy buttons, URLs that wrap at their separators.
 */
import { Fragment, type ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, type FieldProblem } from './api.js';

/** The page's `<h1>`; sets the document title and takes focus on navigation (screen readers). */
export function PageTitle({ children, title }: { children?: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Hookdesk`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children ?? title}
    </h1>
  );
}

export interface AsyncState<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (or on `reload`); the last result stays shown while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) =>
        live && setState((s) => ({ ...s, error: errorText(error), loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    reload: () => setTick((t) => t + 1),
  };
}

/** Calls `tick` every `ms` while `active`. */
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const id = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, active]);
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Alert({
  children,
  kind = 'error',
}: {
  children: ComponentChildren;
  kind?: string;
}) {
  return (
    <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/**
 * A rejected form: the API's message, and the problems no field of the form
 * shows under itself (each field shows its own with `problemsOf`).
 */
/**
 * A panel opened from a webhook's row (rotate a secret, recover a range): a
 * titled region with a Close button. Opened from a row further down, it takes
 * focus on its title, which brings it into view and screen readers to it.
 */
export function RowPanel({
  id,
  title,
  onClose,
  children,
}: {
  id: string;
  title: ComponentChildren;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class="panel" aria-labelledby={id}>
      <div class="page-head">
        <h2 id={id} tabIndex={-1} ref={heading}>
          {title}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {children}
    </section>
  );
}

/** A panel form's buttons: submit (its label while busy) and Cancel. */
export function PanelActions({
  label,
  busyLabel,
  busy,
  onCancel,
}: {
  label: string;
  busyLabel: string;
  busy: boolean;
  onCancel: () => void;
}) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export function FormError({ message, problems }: { message: string; problems: FieldProblem[] }) {
  return (
    <Alert>
      <p>{message}</p>
      {problems.length > 0 && (
        <ul>
          {problems.map((p) => (
            <li key={p.field + p.message}>
              {p.field}: {p.message}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}

/**
 * The problems of one form field, by the field's root name (`events[2]`
 * belongs to `events`), each with `field` made relative to it: `''` for the
 * field itself, `[2]` or `X-Custom` for a part of it. `Field` and
 * `FieldErrors` take problems in this form.
 */
export function problemsOf(problems: FieldProblem[], name: string): FieldProblem[] {
  return problems
    .filter((p) => p.field === name || p.field.split(/[.[]/)[0] === name)
    .map((p) => ({ ...p, field: p.field.slice(name.length).replace(/^\./, '') }));
}

/**
 * A problem as the sentence shown under its field, starting with the field's
 * visible label: the API's messages are clauses that read after a field's
 * name ("must not be empty", docs/errors.md), so "Name must not be empty.".
 * A part of the field is named after a colon ("Custom headers: X-Custom is
 * set by Hookdesk…", "Retry delays (seconds): item 1 must be at least 1.");
 * a message that is a sentence of its own (it starts with a capital, like a
 * refused URL's) follows the label and a colon.
 */
export function problemSentence(label: string, problem: FieldProblem): string {
  const name = label.charAt(0).toUpperCase() + label.slice(1);
  const part = problem.field
    .replace(/^\[(\d+)\]\.?/, (_, i: string) => `item ${Number(i) + 1} `)
    .trim();
  const message = problem.message.trim();
  const text = /^[A-Z]/.test(message)
    ? `${name}: ${part ? `${part}: ` : ''}${message}`
    : part
      ? `${name}: ${part} ${message}`
      : `${name} ${message}`;
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

/** The problems of a field (from `problemsOf`) as sentences, under the field. */
export function FieldErrors({
  id,
  label,
  problems,
  children,
}: {
  id?: string;
  label: string;
  problems: FieldProblem[];
  /** Extra words under the problems (e.g. what an SSRF refusal means). */
  children?: ComponentChildren;
}) {
  if (problems.length === 0) return null;
  return (
    <div class="field-error" id={id}>
      {problems.map((p) => (
        <p key={p.field + p.message}>{problemSentence(label, p)}</p>
      ))}
      {children}
    </div>
  );
}

interface FieldProps {
  id: string;
  label: string;
  help?: ComponentChildren;
  /** This field's problems, from `problemsOf` (`field` relative to this one). */
  problems?: FieldProblem[];
  /** Extra words under the problems (e.g. what an SSRF rejection means). */
  explain?: ComponentChildren;
}

export function Field(
  props: FieldProps & {
    children: (aria: {
      id: string;
      'aria-describedby'?: string;
      'aria-invalid'?: boolean;
    }) => ComponentChildren;
  },
) {
  const problems = props.problems ?? [];
  const helpId = props.help ? `${props.id}-help` : undefined;
  const errorId = problems.length > 0 ? `${props.id}-error` : undefined;
  const describedBy = [helpId, errorId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${problems.length > 0 ? ' field-invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        ...(describedBy ? { 'aria-describedby': describedBy } : {}),
        ...(problems.length > 0 ? { 'aria-invalid': true } : {}),
      })}
      {props.help && (
        <p class="help" id={helpId}>
          {props.help}
        </p>
      )}
      <FieldErrors id={errorId} label={props.label} problems={problems}>
        {props.explain}
      </FieldErrors>
    </div>
  );
}

/**
 * A `Field` holding one line of text (a plain `type="text"` input unless
 * `type` says otherwise); `onValue` gets each change.
 */
export function TextField({
  id,
  label,
  help,
  problems,
  explain,
  value,
  onValue,
  ...input
}: FieldProps & {
  value: string;
  onValue: (value: string) => void;
  inputMode?: 'numeric' | 'url';
  autocomplete?: string;
  spellcheck?: boolean;
  disabled?: boolean;
} & (
    | { type?: 'text' }
    | { type: 'url' }
    | { type: 'password' }
    | { type: 'datetime-local'; max?: string }
  )) {
  return (
    <Field id={id} label={label} help={help} problems={problems} explain={explain}>
      {(aria) => (
        <input
          {...aria}
          type="text"
          {...input}
          value={value}
          onInput={(e) => onValue(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** A modal confirmation on the native `<dialog>` (focus trap and Escape come with it). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={props.onCancel}>
      <h2 id="confirm-title">{props.title}</h2>
      {props.children}
      <div class="actions">
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" onClick={props.onCancel} autofocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/** A delivery status (the server lists them in `GET /api/meta`), capitalized. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge badge-${status}`}>{status.charAt(0).toUpperCase() + status.slice(1)}</span>
  );
}

/**
 * A URL in monospace that wraps after its separators (`/`, `?`, `&`, `=`,
 * `@`, `#`, `:`), never inside a host name, path segment or token: a reader
 * copying a callback URL by eye must not take a line end for part of it, nor
 * a hyphen at a line's end for a break. Each piece between separators is
 * kept on one line; only a piece too long for a phone's line
 * (`URL_PIECE_WHOLE` characters, such as a pasted token) may be cut inside.
 */
export function UrlText({
  url,
  class: className = 'url',
  'data-testid': testId,
}: {
  url: string;
  class?: string;
  'data-testid'?: string;
}) {
  // After a separator, but not inside `://` or `//`.
  const pieces = url.split(/(?<=[/?&=@#:])(?![/])/);
  return (
    <code class={className} data-testid={testId}>
      {pieces.map((piece, i) => (
        <Fragment key={i}>
          {i > 0 && <wbr />}
          {piece.length <= URL_PIECE_WHOLE ? <span class="url-piece">{piece}</span> : piece}
        </Fragment>
      ))}
    </code>
  );
}

/** The longest piece of a URL kept whole: about a 390-pixel-wide phone's line. */
const URL_PIECE_WHOLE = 36;

/** A code block with a label, scrollable, selectable. */
export function Code({ children, label }: { children: string; label: string }) {
  return (
    <pre class="code" tabIndex={0} aria-label={label}>
      <code>{children}</code>
    </pre>
  );
}

/** Copies `text`; says so, or to copy by hand where the browser has no clipboard. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      // Absent outside secure contexts (plain http on a host other than localhost).
      if (!('clipboard' in navigator)) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <span class="copy">
      <button
        type="button"
        class="small-button"
        aria-label={`Copy ${label}`}
        onClick={() => void copy()}
      >
        Copy
      </button>
      <span role="status" class="small muted">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Select it and copy by hand' : ''}
      </span>
    </span>
  );
}

let flash: string | null = null;

/** A message for the next page (e.g. "saved" after a form navigates back to its list). */
export function setFlash(message: string): void {
  flash = message;
}

export function takeFlash(): string | null {
  const message = flash;
  flash = null;
  return message;
}
