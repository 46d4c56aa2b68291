/**
 * What `hookdesk listen` prints. Everything that came over the network goes
 * through `printable` first, so a request cannot drive the terminal.
 */
import type { Sighting } from './attempts.js';

/** Characters of an app's answer shown after `forward:`. */
const PREVIEW_CHARS = 200;

/** Control characters (other than tab and newline) escaped, so a body cannot drive the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A request body: pretty-printed when it is JSON, else its text. */
export function describeBody(body: Buffer): string {
  if (body.length === 0) return '(empty body)';
  const text = body.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text) as unknown, null, 2);
  } catch {
    return printable(text);
  }
}

/** The start of an answer's body on one line. */
export function preview(body: Buffer, truncated: boolean): string {
  if (body.length === 0) return '(empty body)';
  const text = printable(body.toString('utf8')).replace(/\n/g, '\\n');
  const cut = text.length > PREVIEW_CHARS || truncated;
  return cut ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** One printed block: a head line, then `lines`; a blank line ends it. */
export function block(method: string, url: string, lines: string[], at = new Date()): string {
  const head = `--- ${at.toISOString()}  ${method} ${printable(url)}`;
  return [head, ...lines].join('\n') + '\n\n';
}

/** The `attempt:` line's text. */
export function describeAttempt(sighting: Sighting | null, hasId: boolean, now: number): string {
  if (!hasId) return 'not counted (no X-Webhook-Delivery or webhook-id header)';
  if (sighting === null) return 'not counted (delivery id too long)';
  if (sighting.attempt === 1) return '1';
  const first = new Date(sighting.firstSeenAt).toISOString();
  // The time of day is enough on the same day; retries spread over days show the date.
  const shown =
    first.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? first.slice(11) : first;
  return `${sighting.attempt} (retry ${sighting.attempt - 1}; first seen by this listener ${shown})`;
}
