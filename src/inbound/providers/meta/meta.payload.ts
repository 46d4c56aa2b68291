/**
 * The WhatsApp Cloud API webhook body, read defensively: one POST holds
 * entries, each with changes; a `messages` change holds inbound `messages`
 * and/or `statuses` of messages the business sent. Anything unexpected is
 * skipped rather than failing the batch (Meta retries non-200 for days).
 */
import type { MessageDeliveryStatus } from '../../email/status.js';
import type { MessageDto } from '../../../tickets/tickets.schemas.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

export interface MetaInbound {
  /** The `wamid…` id. */
  id: string;
  /** The sender's WhatsApp id: their phone number in E.164 without `+`. */
  from: string;
  name: string | undefined;
  body: string;
  attachments: MessageDto['attachments'];
}

export interface MetaStatus {
  /** The `wamid…` id of the business's message. */
  id: string;
  status: string;
  /** Epoch ms of Meta's timestamp, when it has a usable one. */
  at: number | undefined;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

export interface MetaChange {
  phoneNumberId: string | undefined;
  messages: MetaInbound[];
  statuses: MetaStatus[];
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

function bodyOf(message: Json, type: string): string {
  const content = isObject(message[type]) ? message[type] : {};
  if (type === 'text') return text(content.body) ?? '';
  if (MEDIA_TYPES.has(type)) return text(content.caption) ?? '';
  if (type === 'button') return text(content.text) ?? '';
  if (type === 'interactive') {
    const reply = isObject(content.button_reply) ? content.button_reply : content.list_reply;
    return (isObject(reply) ? text(reply.title) : undefined) ?? '';
  }
  if (type === 'location') {
    const place = [text(content.name), text(content.address)].filter(Boolean).join(', ');
    const at = `${text(content.latitude) ?? '?'},${text(content.longitude) ?? '?'}`;
    return place ? `Location: ${place} (${at})` : `Location: ${at}`;
  }
  if (type === 'reaction') return `Reaction: ${text(content.emoji) ?? ''}`.trim();
  return `[${type} message]`;
}

function attachmentsOf(message: Json, type: string): MessageDto['attachments'] {
  const media = message[type];
  if (!MEDIA_TYPES.has(type) || !isObject(media)) return [];
  // Meta gives a media id, not a URL: fetching it needs the business's access token.
  return [
    {
      filename: text(media.filename) ?? `${type}-${text(media.id) ?? 'media'}`,
      contentType: text(media.mime_type) ?? null,
      size: null,
      url: null,
    },
  ];
}

function inbound(raw: unknown, names: Map<string, string>): MetaInbound | null {
  if (!isObject(raw)) return null;
  const id = text(raw.id);
  const from = text(raw.from);
  const type = text(raw.type) ?? 'unknown';
  if (!id || !from) return null;
  return {
    id,
    from,
    name: names.get(from),
    body: bodyOf(raw, type),
    attachments: attachmentsOf(raw, type),
  };
}

function status(raw: unknown): MetaStatus | null {
  if (!isObject(raw)) return null;
  const id = text(raw.id);
  const value = text(raw.status);
  if (!id || !value) return null;
  const seconds = Number(text(raw.timestamp));
  const error = list(raw.errors).find(isObject);
  return {
    id,
    status: value,
    at: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined,
    errorCode: error ? text(error.code) : undefined,
    errorMessage: error
      ? (text(error.title) ?? text(error.message) ?? text(error.error_data))
      : undefined,
  };
}

/** Every `messages` change of every entry, in order. */
export function readChanges(body: unknown): MetaChange[] {
  if (!isObject(body) || body.object !== 'whatsapp_business_account') return [];
  const changes: MetaChange[] = [];
  for (const entry of list(body.entry)) {
    if (!isObject(entry)) continue;
    for (const change of list(entry.changes)) {
      if (!isObject(change) || change.field !== 'messages' || !isObject(change.value)) continue;
      const value = change.value;
      const names = new Map<string, string>();
      for (const contact of list(value.contacts)) {
        if (!isObject(contact) || !isObject(contact.profile)) continue;
        const waId = text(contact.wa_id);
        const name = text(contact.profile.name);
        if (waId && name) names.set(waId, name);
      }
      changes.push({
        phoneNumberId: isObject(value.metadata) ? text(value.metadata.phone_number_id) : undefined,
        messages: list(value.messages)
          .map((m) => inbound(m, names))
          .filter((m): m is MetaInbound => m !== null),
        statuses: list(value.statuses)
          .map(status)
          .filter((s): s is MetaStatus => s !== null),
      });
    }
  }
  return changes;
}

/**
 * Meta's statuses onto Hookdesk's: `read` (and `played`, for voice notes) is
 * the messaging `opened`. `deleted` and others change nothing.
 */
const STATUSES: Readonly<Record<string, MessageDeliveryStatus>> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'opened',
  played: 'opened',
  failed: 'failed',
};

export function metaStatus(value: string): MessageDeliveryStatus | null {
  return Object.hasOwn(STATUSES, value) ? STATUSES[value]! : null;
}
