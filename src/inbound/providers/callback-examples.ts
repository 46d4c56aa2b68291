/**
 * What /docs shows of the provider callbacks' requests (and of the answers
 * that are not JSON): each provider's own format, with an example.
 *
 * These go into the OpenAPI document only, after the routes are built (the
 * swagger `transformObject` hook in cli/app.ts), never into the route
 * schemas: a `body` schema there would make Fastify parse and validate what
 * the handlers read as raw bytes, after checking the provider's signature
 * over exactly those bytes (docs/providers.md). Addresses are example.com /
 * example.test, ids are made up, and every signature is a placeholder.
 */

type JsonSchema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'query' | 'header';
  required: boolean;
  description: string;
  schema: JsonSchema;
  example: string;
}

interface Media {
  schema: JsonSchema;
  example?: unknown;
  examples?: Record<string, { summary: string; value: unknown }>;
}

export interface CallbackDoc {
  /** How the provider proves it sent the request, for the request body's description. */
  auth: string;
  /** Query and header parameters the provider sends (the route declares none). */
  parameters?: Parameter[];
  /** The body, under each content type the route takes. */
  request?: { contentTypes: string[]; media: Media };
  /** The 200 answer when it is not the JSON acknowledgement the route documents itself. */
  answer?: { contentType: string; media: Media } | 'empty';
}

const SEE_DOCS = 'See docs/providers.md.';
/** The OpenAPI extension on a request body that is described but not validated by its route. */
export const DOCUMENTATION_ONLY = 'x-hookdesk-documentation-only';
const ROUTE = '/api/rpc/channels/{routeKey}';

const string = { type: 'string' };
/** A form post's fields: all strings; providers add fields without notice, so none is refused. */
function formSchema(fields: string[], required: string[]): JsonSchema {
  return {
    type: 'object',
    required,
    properties: Object.fromEntries(fields.map((name) => [name, string])),
  };
}

// ---- Twilio ----

const TWILIO_ACCOUNT = `AC${'0'.repeat(32)}`;
const TWILIO_SIGNATURE: Parameter = {
  name: 'X-Twilio-Signature',
  in: 'header',
  required: true,
  description:
    'Base64 HMAC-SHA1 of the public URL and every posted parameter, keyed by the Auth Token.',
  schema: string,
  example: 'placeholder-signature-not-real=',
};

const TWILIO_INBOUND = {
  AccountSid: TWILIO_ACCOUNT,
  ApiVersion: '2010-04-01',
  MessageSid: 'SM00000000000000000000000000000001',
  SmsMessageSid: 'SM00000000000000000000000000000001',
  SmsSid: 'SM00000000000000000000000000000001',
  SmsStatus: 'received',
  From: '+14155550123',
  To: '+14155550100',
  Body: 'Hi, my order #1042 has not arrived yet.',
  NumMedia: '0',
  NumSegments: '1',
  FromCountry: 'US',
  ToCountry: 'US',
};

const TWILIO_STATUS = {
  AccountSid: TWILIO_ACCOUNT,
  ApiVersion: '2010-04-01',
  MessageSid: 'SM00000000000000000000000000000002',
  SmsSid: 'SM00000000000000000000000000000002',
  MessageStatus: 'undelivered',
  SmsStatus: 'undelivered',
  ErrorCode: '30003',
  From: '+14155550100',
  To: '+14155550123',
};

// ---- Meta WhatsApp ----

const META_SIGNATURE: Parameter = {
  name: 'X-Hub-Signature-256',
  in: 'header',
  required: true,
  description: '`sha256=` and the hex HMAC-SHA256 of the raw body, keyed by the App Secret.',
  schema: string,
  example: `sha256=${'0'.repeat(64)}`,
};

const META_MESSAGES = {
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '100000000000001',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '14155550100', phone_number_id: '100000000000002' },
            contacts: [{ profile: { name: 'Pat Doe' }, wa_id: '14155550123' }],
            messages: [
              {
                from: '14155550123',
                id: 'wamid.EXAMPLE0000000000000000000000000001',
                timestamp: '1768471200',
                type: 'text',
                text: { body: 'Hi, my order #1042 has not arrived yet.' },
              },
            ],
          },
        },
      ],
    },
  ],
};

const META_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['object', 'entry'],
  properties: {
    object: { type: 'string', enum: ['whatsapp_business_account'] },
    entry: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: string,
          changes: {
            type: 'array',
            items: {
              type: 'object',
              required: ['field', 'value'],
              properties: {
                field: string,
                value: {
                  type: 'object',
                  properties: {
                    metadata: { type: 'object', properties: { phone_number_id: string } },
                    contacts: { type: 'array', items: { type: 'object' } },
                    messages: { type: 'array', items: { type: 'object' } },
                    statuses: { type: 'array', items: { type: 'object' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

function query(name: string, description: string, example: string): Parameter {
  return { name, in: 'query', required: true, description, schema: string, example };
}

// ---- SendGrid ----

const SENDGRID_EVENTS = [
  {
    email: 'pat@example.com',
    timestamp: 1768471205,
    'smtp-id': '<0193f1a2-0000-7000-8000-000000000001@desk.example.com>',
    event: 'delivered',
    category: [],
    sg_event_id: 'ZXhhbXBsZS1kZWxpdmVyZWQtMDAwMQ',
    sg_message_id: 'EXAMPLEmsgid0001.filter0001.12345.6789ABCD.0',
    response: '250 OK',
  },
  {
    email: 'nobody@example.com',
    timestamp: 1768471300,
    event: 'bounce',
    type: 'bounce',
    status: '5.1.1',
    reason: '550 5.1.1 The email account that you tried to reach does not exist.',
    sg_event_id: 'ZXhhbXBsZS1ib3VuY2UtMDAwMg',
    sg_message_id: 'EXAMPLEmsgid0002.filter0001.12345.6789ABCE.0',
  },
];

const SENDGRID_PARSE = {
  headers: [
    'Received: by mx.example.test with SMTP id example0001',
    'Message-ID: <a1@mail.example.com>',
    'In-Reply-To: <0193f1a2-0000-7000-8000-000000000001@desk.example.com>',
    'From: Pat Doe <pat@example.com>',
    'To: support@desk.example.com',
    'Subject: Re: Printer on fire',
    'Date: Thu, 15 Jan 2026 10:00:00 +0000',
  ].join('\n'),
  from: 'Pat Doe <pat@example.com>',
  to: 'support@desk.example.com',
  subject: 'Re: Printer on fire',
  text: 'Thanks, it works again!\n\nOn Thu, Jan 15, 2026 Support wrote:\n> We are on it.',
  html: '<p>Thanks, it works again!</p>',
  envelope: '{"to":["support@desk.example.com"],"from":"pat@example.com"}',
  sender_ip: '192.0.2.10',
  SPF: 'pass',
  charsets: '{"to":"UTF-8","from":"UTF-8","subject":"UTF-8","text":"UTF-8","html":"UTF-8"}',
  attachments: '0',
};

// ---- Mailgun ----

const MAILGUN_SIGNED = {
  timestamp: '1768471200',
  token: 'example-token-0000000000000000000000000000000000',
  signature: '0'.repeat(64),
};

const MAILGUN_FORWARD = {
  recipient: 'support@desk.example.com',
  sender: 'pat@example.com',
  from: 'Pat Doe <pat@example.com>',
  subject: 'Re: Printer on fire',
  'body-plain': 'Thanks, it works again!\n\nOn Thu, Jan 15, 2026 Support wrote:\n> We are on it.',
  'stripped-text': 'Thanks, it works again!',
  'body-html': '<p>Thanks, it works again!</p>',
  'Message-Id': '<a2@mail.example.com>',
  'message-headers': JSON.stringify([
    ['Message-Id', '<a2@mail.example.com>'],
    ['In-Reply-To', '<0193f1a2-0000-7000-8000-000000000001@desk.example.com>'],
    ['From', 'Pat Doe <pat@example.com>'],
    ['To', 'support@desk.example.com'],
    ['Subject', 'Re: Printer on fire'],
  ]),
  'attachment-count': '0',
  ...MAILGUN_SIGNED,
};

const MAILGUN_EVENT = {
  signature: MAILGUN_SIGNED,
  'event-data': {
    id: 'EXAMPLE-event-0001',
    event: 'delivered',
    timestamp: 1768471205.123,
    recipient: 'pat@example.com',
    message: { headers: { 'message-id': '0193f1a2-0000-7000-8000-000000000001@desk.example.com' } },
    'delivery-status': { code: 250, message: 'OK', description: '' },
  },
};

// ---- Postmark ----

/** Both Postmark callbacks: Postmark signs nothing; the channel's credentials ride in the URL. */
const POSTMARK_AUTH =
  "Not signed by Postmark: authenticated by the channel's HTTP Basic credentials in the URL.";

const POSTMARK_INBOUND = {
  From: 'pat@example.com',
  FromName: 'Pat Doe',
  FromFull: { Email: 'pat@example.com', Name: 'Pat Doe', MailboxHash: '' },
  To: 'support@desk.example.com',
  ToFull: [{ Email: 'support@desk.example.com', Name: 'Support', MailboxHash: '' }],
  OriginalRecipient: 'support@desk.example.com',
  Subject: 'Re: Printer on fire',
  MessageID: '00000000-0000-4000-8000-00000000a003',
  Date: 'Thu, 15 Jan 2026 10:00:00 +0000',
  TextBody: 'Thanks, it works again!\n\nOn Thu, Jan 15, 2026 Support wrote:\n> We are on it.',
  HtmlBody: '<p>Thanks, it works again!</p>',
  StrippedTextReply: 'Thanks, it works again!',
  Headers: [
    { Name: 'Message-ID', Value: '<a3@mail.example.com>' },
    { Name: 'In-Reply-To', Value: '<0193f1a2-0000-7000-8000-000000000001@desk.example.com>' },
  ],
  Attachments: [],
};

const POSTMARK_DELIVERY = {
  RecordType: 'Delivery',
  MessageStream: 'outbound',
  ServerID: 1,
  MessageID: '00000000-0000-4000-8000-00000000d001',
  Recipient: 'pat@example.com',
  DeliveredAt: '2026-01-15T10:00:05Z',
  Details: 'Delivered to mx.example.com',
  Tag: '',
  Metadata: {},
};

const POSTMARK_BOUNCE = {
  RecordType: 'Bounce',
  MessageStream: 'outbound',
  ID: 1000001,
  Type: 'HardBounce',
  TypeCode: 1,
  Name: 'Hard bounce',
  MessageID: '00000000-0000-4000-8000-00000000d002',
  Description:
    'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
  Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist.',
  Email: 'nobody@example.com',
  From: 'support@desk.example.com',
  BouncedAt: '2026-01-15T10:00:07Z',
  Inactive: true,
  CanActivate: true,
  Subject: 'Printer on fire',
};

/** Keyed by method and the path as the OpenAPI document spells it. */
export const CALLBACK_EXAMPLES: Readonly<Record<string, CallbackDoc>> = {
  [`POST ${ROUTE}/twilio/inbound`]: {
    auth: 'Signed by the provider (X-Twilio-Signature).',
    parameters: [TWILIO_SIGNATURE],
    request: {
      contentTypes: ['application/x-www-form-urlencoded'],
      media: {
        // WhatsApp adds ProfileName; media come as MediaUrl{N} and MediaContentType{N}.
        schema: formSchema(
          [...Object.keys(TWILIO_INBOUND), 'ProfileName', 'MediaUrl0', 'MediaContentType0'],
          ['MessageSid', 'From'],
        ),
        example: TWILIO_INBOUND,
      },
    },
    answer: {
      contentType: 'text/xml',
      media: {
        schema: string,
        example: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
      },
    },
  },
  [`POST ${ROUTE}/twilio/status`]: {
    auth: 'Signed by the provider (X-Twilio-Signature).',
    parameters: [TWILIO_SIGNATURE],
    request: {
      contentTypes: ['application/x-www-form-urlencoded'],
      media: {
        schema: formSchema([...Object.keys(TWILIO_STATUS), 'ErrorMessage'], ['MessageSid']),
        example: TWILIO_STATUS,
      },
    },
    answer: 'empty',
  },
  [`GET ${ROUTE}/meta/webhook`]: {
    auth: "Answered only when hub.verify_token is the channel's verify token.",
    parameters: [
      query('hub.mode', 'Always `subscribe`.', 'subscribe'),
      query('hub.verify_token', "The channel's `verifyToken`.", 'example-verify-token'),
      query(
        'hub.challenge',
        'Echoed back as the whole answer (200 characters at most).',
        '1158201444',
      ),
    ],
    answer: { contentType: 'text/plain', media: { schema: string, example: '1158201444' } },
  },
  [`POST ${ROUTE}/meta/webhook`]: {
    auth: 'Signed by the provider (X-Hub-Signature-256).',
    parameters: [META_SIGNATURE],
    request: {
      contentTypes: ['application/json'],
      media: { schema: META_SCHEMA, example: META_MESSAGES },
    },
    answer: 'empty',
  },
  [`POST ${ROUTE}/sendgrid/events`]: {
    auth: 'Signed by the provider (X-Twilio-Email-Event-Webhook-Signature, ECDSA).',
    parameters: [
      {
        name: 'X-Twilio-Email-Event-Webhook-Signature',
        in: 'header',
        required: true,
        description:
          'Base64 ECDSA P-256 signature of the timestamp header followed by the raw body.',
        schema: string,
        example: 'placeholder-signature-not-real=',
      },
      {
        name: 'X-Twilio-Email-Event-Webhook-Timestamp',
        in: 'header',
        required: true,
        description: 'Unix seconds; refused when more than 10 minutes from now.',
        schema: string,
        example: '1768471310',
      },
    ],
    request: {
      contentTypes: ['application/json'],
      media: {
        schema: {
          type: 'array',
          items: {
            type: 'object',
            required: ['event'],
            properties: {
              event: string,
              email: string,
              timestamp: { type: 'integer' },
              'smtp-id': string,
              sg_event_id: string,
              sg_message_id: string,
              type: string,
              status: string,
              reason: string,
              response: string,
            },
          },
        },
        example: SENDGRID_EVENTS,
      },
    },
  },
  [`POST ${ROUTE}/sendgrid/inbound`]: {
    auth: "Not signed by SendGrid: when the channel has an inbound parse token, the URL's ?token= must match it.",
    request: {
      contentTypes: ['multipart/form-data'],
      media: {
        // Raw mode sends the whole message in `email` instead of the parsed fields.
        schema: formSchema([...Object.keys(SENDGRID_PARSE), 'email', 'dkim'], []),
        example: SENDGRID_PARSE,
      },
    },
  },
  [`POST ${ROUTE}/mailgun/inbound`]: {
    auth: 'Signed by the provider (timestamp, token and signature fields).',
    request: {
      contentTypes: ['multipart/form-data', 'application/x-www-form-urlencoded'],
      media: {
        // `…mime` routes send the whole message in `body-mime`.
        schema: formSchema(
          [...Object.keys(MAILGUN_FORWARD), 'body-mime', 'In-Reply-To', 'attachments'],
          ['timestamp', 'token', 'signature'],
        ),
        example: MAILGUN_FORWARD,
      },
    },
  },
  [`POST ${ROUTE}/mailgun/events`]: {
    auth: 'Signed by the provider (the signature object).',
    request: {
      contentTypes: ['application/json'],
      media: {
        schema: {
          type: 'object',
          required: ['signature', 'event-data'],
          properties: {
            signature: formSchema(Object.keys(MAILGUN_SIGNED), Object.keys(MAILGUN_SIGNED)),
            'event-data': {
              type: 'object',
              properties: {
                id: string,
                event: string,
                severity: string,
                reason: string,
                timestamp: { type: 'number' },
                message: { type: 'object' },
                'delivery-status': { type: 'object' },
              },
            },
          },
        },
        example: MAILGUN_EVENT,
      },
    },
  },
  [`POST ${ROUTE}/postmark/inbound`]: {
    auth: POSTMARK_AUTH,
    request: {
      contentTypes: ['application/json'],
      media: {
        schema: {
          type: 'object',
          properties: {
            ...Object.fromEntries(
              ['From', 'FromName', 'To', 'OriginalRecipient', 'Subject', 'MessageID', 'Date']
                .concat(['TextBody', 'HtmlBody', 'StrippedTextReply'])
                .map((name) => [name, string]),
            ),
            FromFull: { type: 'object', properties: { Email: string, Name: string } },
            ToFull: { type: 'array', items: { type: 'object' } },
            Headers: {
              type: 'array',
              items: { type: 'object', properties: { Name: string, Value: string } },
            },
            Attachments: { type: 'array', items: { type: 'object' } },
          },
        },
        example: POSTMARK_INBOUND,
      },
    },
  },
  [`POST ${ROUTE}/postmark/events`]: {
    auth: POSTMARK_AUTH,
    request: {
      contentTypes: ['application/json'],
      media: {
        schema: {
          type: 'object',
          required: ['RecordType'],
          properties: {
            RecordType: string,
            MessageID: string,
            Type: string,
            DeliveredAt: string,
            BouncedAt: string,
            ReceivedAt: string,
            Description: string,
            Details: string,
          },
        },
        examples: {
          delivery: { summary: 'Delivery', value: POSTMARK_DELIVERY },
          bounce: { summary: 'Hard bounce', value: POSTMARK_BOUNCE },
        },
      },
    },
  },
};

interface Operation {
  description?: string;
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
}

/**
 * The OpenAPI document with the provider callbacks' requests and non-JSON
 * answers filled in from CALLBACK_EXAMPLES. Operations not in the document
 * are skipped; test/openapi-docs.test.ts checks that every key is used.
 */
export function withCallbackExamples<T extends { paths?: unknown }>(doc: T): T {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation> | undefined>;
  for (const [key, callback] of Object.entries(CALLBACK_EXAMPLES)) {
    const [method = '', path = ''] = key.split(' ');
    const op = paths[path]?.[method.toLowerCase()];
    if (!op) continue;
    if (callback.parameters) op.parameters = [...(op.parameters ?? []), ...callback.parameters];
    if (callback.request) {
      const { contentTypes, media } = callback.request;
      op.requestBody = {
        required: true,
        // Tells tools reading the document (our bad-input fuzzer among them)
        // that the route does not validate this body against the schema.
        [DOCUMENTATION_ONLY]: true,
        description: `${callback.auth} ${SEE_DOCS}`,
        content: Object.fromEntries(contentTypes.map((type) => [type, media])),
      };
    } else {
      op.description = `${callback.auth} ${SEE_DOCS}`;
    }
    if (callback.answer === 'empty') {
      op.responses = { ...op.responses, 200: { description: 'Accepted; the body is empty.' } };
    } else if (callback.answer) {
      const { contentType, media } = callback.answer;
      op.responses = {
        ...op.responses,
        200: { description: 'Accepted.', content: { [contentType]: media } },
      };
    }
  }
  return doc;
}
