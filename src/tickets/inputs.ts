/**
 * Request-side schema pieces for contacts, tickets and messages. Enums and
 * nullable fields are written as `enum` and OpenAPI's `nullable` rather than
 * TypeBox unions: a union makes Ajv report one problem per branch ("must be
 * equal to constant" four times, then "must match a schema in anyOf"), while
 * these give clients one clear problem per field.
 */
import { Type } from '@sinclair/typebox';
import type { Channel, TicketPriority, TicketStatus } from '../db/schema.js';
import { CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES } from './tickets.schemas.js';

export function StringEnum<const T extends string>(values: readonly T[], description?: string) {
  return Type.Unsafe<T>({
    type: 'string',
    enum: [...values],
    ...(description ? { description } : {}),
  });
}

/** Plain JSON Schema options for a string; `nullable` makes `null` acceptable as well. */
interface StringOptions {
  format?: string;
  minLength?: number;
  maxLength?: number;
  description?: string;
}

export const Str = (options: StringOptions) => Type.Unsafe<string>({ type: 'string', ...options });
export const StrOrNull = (options: StringOptions) =>
  Type.Unsafe<string | null>({ type: 'string', nullable: true, ...options });

export const EMAIL = { format: 'email', maxLength: 320 } as const;
/** Free-form on input: spaces, dashes, dots and parentheses are removed, then the digits checked. */
export const PHONE = { minLength: 1, maxLength: 50 } as const;
export const NAME = { minLength: 1, maxLength: 200 } as const;
export const UUID = { format: 'uuid' } as const;

export const StatusInput = StringEnum<TicketStatus>(TICKET_STATUSES);
export const PriorityInput = StringEnum<TicketPriority>(TICKET_PRIORITIES);
export const ChannelInput = StringEnum<Channel>(CHANNELS);
export const DirectionInput = StringEnum(['outbound', 'inbound'] as const);

export const TagsInput = Type.Array(Str({ minLength: 1, maxLength: 50 }), {
  maxItems: 50,
  description: 'Duplicates are removed, keeping the first occurrence.',
});
