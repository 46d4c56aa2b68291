/**
 * The webhook forms' own text formats (header lines, retry delays, numbers,
 * the payload filter's JSON) and the words under a refused URL. Refusals are
 * told apart by the API's detail codes (docs/errors.md), never by their
 * message.
 */
import type { FieldProblem } from '../api.js';

/**
 * `Name: value` lines → an object; a line without a colon is our format's
 * problem, not the API's. Like the API's, the form's own messages are
 * clauses that read after the field's label ("Custom headers must be …").
 */
export function parseHeaders(text: string): {
  headers: Record<string, string>;
  problems: FieldProblem[];
} {
  const headers: Record<string, string> = {};
  const problems: FieldProblem[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push({
        field: 'headers',
        message: `must be one “Name: value” per line (line ${i + 1} is not)`,
      });
      return;
    }
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  });
  return { headers, problems };
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/** "1, 5, 30" → [1, 5, 30]; anything not a number goes as typed, for the API to name. */
export function parseRetry(text: string): unknown[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((t) => (NUMBER.test(t) ? Number(t) : t));
}

/**
 * One number field: empty → null (the field's "none", such as no rate limit);
 * a number as a number; anything else as typed, for the API to name.
 */
export function parseNumber(text: string): number | string | null {
  const t = text.trim();
  if (t === '') return null;
  return NUMBER.test(t) ? Number(t) : t;
}

/**
 * The filter's JSON text → the value sent: empty is `null` (no filter). Text
 * that is not JSON is this form's problem, named on the field before anything
 * is sent; JSON that is no filter (an array, a wrong operator) goes as typed,
 * for the API to name the piece that is wrong.
 */
export function parseFilter(text: string): { filter: unknown; problems: FieldProblem[] } {
  if (text.trim() === '') return { filter: null, problems: [] };
  try {
    return { filter: JSON.parse(text) as unknown, problems: [] };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const message = `is not valid JSON (${why.replace(/\.$/, '')})`;
    return { filter: null, problems: [{ field: 'filter', message }] };
  }
}

/** The filter's text in the form: indented, so that a long one can be read and edited. */
export function filterInput(filter: Record<string, unknown> | null): string {
  return filter === null ? '' : JSON.stringify(filter, null, 2);
}

/** Words for an SSRF refusal, under the API's own message; told apart by detail code. */
export function explainUrl(problems: FieldProblem[]) {
  const refused = (code: string) => problems.some((p) => p.code === code);
  if (refused('blocked_destination')) {
    return (
      <p class="explain" data-testid="ssrf-explanation">
        Why: Hookdesk sends webhooks from inside your infrastructure, so it refuses private,
        loopback, link-local (such as the cloud metadata address 169.254.169.254) and other internal
        addresses and host names. Otherwise anyone who can create a webhook could make Hookdesk call
        machines behind your firewall (server-side request forgery, SSRF). Use the public HTTPS
        address of the receiver; an operator can allow specific internal hosts with{' '}
        <code>HOOKDESK_EGRESS_ALLOW</code>.
      </p>
    );
  }
  if (refused('https_required')) {
    return (
      <p class="explain" data-testid="https-explanation">
        Deliveries carry your data and signatures, so only <code>https://</code> URLs are accepted
        (an operator can allow plain http for development with{' '}
        <code>HOOKDESK_EGRESS_ALLOW_HTTP</code>).
      </p>
    );
  }
  return undefined;
}
