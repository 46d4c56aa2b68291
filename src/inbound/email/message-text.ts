/**
 * Text of a received email: the reply without the quoted conversation and
 * signature (email-reply-parser, which Crisp runs on its inbound mail), a
 * plain-text fallback for HTML-only mail, and sender addresses.
 */
import EmailReplyParser from 'email-reply-parser';

/**
 * Longer texts are kept whole rather than parsed: the parser is linear but
 * runs on the event loop, and a reply worth stripping is never this long.
 */
const MAX_PARSED_LENGTH = 256 * 1024;

/**
 * The visible reply: quoted text ("On … wrote:", "> …") and signatures
 * removed. When nothing is left (a mail that is all quote) the whole text is
 * the body, trimmed.
 */
export function stripReply(text: string): string {
  const whole = text.trim();
  if (whole === '' || whole.length > MAX_PARSED_LENGTH) return whole;
  const visible = new EmailReplyParser().parseReply(text).trim();
  return visible === '' ? whole : visible;
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

/** A rough plain-text rendering of HTML, for mail that has no text part. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6]|blockquote)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X'
            ? parseInt(name.slice(2), 16)
            : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `"Pat Doe" <pat@example.com>` → address and display name; a bare address has no name. */
export function parseAddress(value: string): { address: string; name: string | undefined } {
  const match = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(value);
  if (!match) return { address: value.trim(), name: undefined };
  const name = match[1]!.replace(/^"(.*)"$/, '$1').trim();
  return { address: match[2]!.trim(), name: name === '' ? undefined : name };
}

/** The rule of the API's `format: email` (ajv-formats' full mode), without pulling Ajv in here. */
const EMAIL_RE =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

export function isEmailAddress(value: string): boolean {
  return value.length <= 320 && EMAIL_RE.test(value);
}
