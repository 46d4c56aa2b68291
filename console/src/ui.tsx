/**
 * Shared pieces: page titles, loading state, form fields with the API's
 * problems, dialogs, copy buttons.
 */
import type { ComponentChildren } from 'preact';
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

/** Problems of one form field, by the field's root name (`events[2]` belongs to `events`). */
export function problemsOf(problems: FieldProblem[], name: string): FieldProblem[] {
  return problems.filter((p) => p.field === name || p.field.split(/[.[]/)[0] === name);
}

interface FieldProps {
  id: string;
  label: string;
  help?: ComponentChildren;
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
      {problems.length > 0 && (
        <div class="field-error" id={errorId}>
          {problems.map((p) => (
            <p key={p.field + p.message}>
              {p.field.includes('.') || p.field.includes('[') ? `${p.field}: ` : ''}
              {p.message}
            </p>
          ))}
          {props.explain}
        </div>
      )}
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
