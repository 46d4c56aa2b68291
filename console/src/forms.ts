/**
 * What the console's forms share when they send: the form is busy while the
 * request runs, and a refusal shows the API's problems under their fields
 * (with `problemsOf`) and a message above the form (with `FormError`).
 */
import { useState } from 'preact/hooks';
import { ApiError, errorText, type FieldProblem } from './api.js';

export interface FormSend {
  problems: FieldProblem[];
  setProblems: (problems: FieldProblem[]) => void;
  error: string | null;
  setError: (error: string | null) => void;
  busy: boolean;
  /**
   * Runs `action` with the form busy. A refusal that names fields shows
   * `notDone` ("The webhook was not saved.") and asks to fix them; any other
   * failure shows its own text and clears the field problems.
   */
  send: (notDone: string, action: () => Promise<void>) => Promise<void>;
}

export function useFormSend(): FormSend {
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (notDone: string, action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } catch (err) {
      if (err instanceof ApiError && err.details.length > 0) {
        setProblems(err.details);
        setError(`${notDone} Fix the fields marked below.`);
      } else {
        setProblems([]);
        setError(errorText(err));
      }
    } finally {
      setBusy(false);
    }
  };
  return { problems, setProblems, error, setError, busy, send };
}
