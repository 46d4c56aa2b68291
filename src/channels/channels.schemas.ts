/** Wire shapes of provider channels (docs/providers.md, "Provider channels"). */
import { Type, type Static } from '@sinclair/typebox';
import { PageQuery } from '../http/pagination.js';
import { Timestamp, Uuid } from '../http/schemas.js';
import { CHANNEL_TYPES } from './channel-types.js';

export const ChannelTypeSchema = Type.Union(CHANNEL_TYPES.map((t) => Type.Literal(t)));

export const ChannelSchema = Type.Object({
  id: Uuid,
  type: ChannelTypeSchema,
  name: Type.String(),
  config: Type.Record(Type.String(), Type.Union([Type.String(), Type.Boolean()]), {
    description: 'Non-secret settings; secrets are never returned.',
  }),
  callbackUrls: Type.Record(Type.String(), Type.String(), {
    description:
      'URLs to paste into the provider console. URLs embedding a secret (Postmark basic auth, the SendGrid Inbound Parse token) carry it only in the answer that set it.',
  }),
  createdAt: Timestamp,
});
export type ChannelDto = Static<typeof ChannelSchema>;

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Credentials = (nullable: boolean) =>
  Type.Record(
    Type.String({ maxLength: 100 }),
    nullable
      ? Type.Unsafe<string | null>({ type: 'string', nullable: true, maxLength: 5000 })
      : Type.String({ maxLength: 5000 }),
    { maxProperties: 20, description: 'The type’s credentials (see docs/providers.md).' },
  );

export const CreateChannelBody = Type.Object(
  { type: ChannelTypeSchema, name: Name, credentials: Type.Optional(Credentials(false)) },
  { additionalProperties: false },
);

export const PatchChannelBody = Type.Object(
  {
    name: Type.Optional(Name),
    credentials: Type.Optional(Credentials(true)),
  },
  { additionalProperties: false },
);

export const ListChannelsQuery = Type.Object(
  { ...PageQuery, type: Type.Optional(ChannelTypeSchema) },
  { additionalProperties: false },
);
