/**
 * What the server says about its own lists and rules (`GET /api/meta`):
 * channel types and their credential fields, webhook defaults and limits,
 * delivery statuses, the request headers it sets. The console keeps no copy
 * of any of them, so it cannot disagree with the API. They only change with
 * the server's version, so they are fetched once per page load.
 */
import { api } from './api.js';
import { useAsync, type AsyncState } from './ui.js';

export interface CredentialFieldInfo {
  /** The key under `credentials` in the API's body. */
  name: string;
  label: string;
  help: string;
  /** Stored encrypted and never returned; the others come back in `config`. */
  secret: boolean;
  optional: boolean;
  /** A textarea for long values such as a public key. */
  multiline: boolean;
  /** For an optional secret: the `config` flag saying whether it is set. */
  setFlag: string | null;
}

export interface ChannelTypeInfo {
  type: string;
  label: string;
  fields: CredentialFieldInfo[];
  /** By `callbackUrls` key: where to paste it, and the secret it carries as `?token=`. */
  callbacks: Record<string, { where: string; token: string | null }>;
  /** Hookdesk makes up a basic-auth pair and puts it in the URLs shown once. */
  generatesBasicAuth: boolean;
}

export interface RequestHeader {
  name: string;
  /** The same on every request, or null when it comes `from` the delivery. */
  value: string | null;
  from: 'event_type' | 'delivery_id' | 'attempt_start' | 'signature' | 'standard_signature' | null;
}

export interface Meta {
  channelTypes: ChannelTypeInfo[];
  webhooks: {
    retryPolicy: {
      default: number[];
      maxRetries: number;
      minDelaySeconds: number;
      maxDelaySeconds: number;
    };
    customHeaders: { max: number; refused: string[] };
    defaultSurveyEvents: string[];
    disableAfterConsecutiveFailures: number;
  };
  deliveries: {
    statuses: string[];
    requestHeaders: RequestHeader[];
    testEventType: string;
    responseBodyLimitBytes: number;
  };
  /** Lowest first. */
  ticketPriorities: string[];
}

let loaded: Promise<Meta> | undefined;

export function loadMeta(): Promise<Meta> {
  if (!loaded) {
    const pending = api<Meta>('GET', '/api/meta');
    // A failed load (signed out, server down) is tried again by the next page.
    pending.catch(() => {
      if (loaded === pending) loaded = undefined;
    });
    loaded = pending;
  }
  return loaded;
}

export function useMeta(): AsyncState<Meta> {
  return useAsync(loadMeta, []);
}

/** A channel type by name; one this console does not know is shown by its name, without fields. */
export function channelType(meta: Meta, type: string): ChannelTypeInfo {
  return (
    meta.channelTypes.find((t) => t.type === type) ?? {
      type,
      label: type,
      fields: [],
      callbacks: {},
      generatesBasicAuth: false,
    }
  );
}
