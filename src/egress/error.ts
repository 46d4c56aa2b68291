/**
 * One error class for every refused destination, so delivery code can record
 * the attempt as `blocked_destination` without parsing messages. The message
 * is shown to the tenant, so it names only what the tenant gave (the URL's
 * host); `address` is for the operator and tests, never for a response.
 */
export class BlockedDestinationError extends Error {
  readonly code = 'blocked_destination' as const;
  /** The host name or IP literal that was asked for. */
  readonly host: string;
  /** The resolved or literal address that was refused, when there was one. */
  readonly address: string | undefined;

  constructor(message: string, target: { host: string; address?: string }) {
    super(message);
    this.name = 'BlockedDestinationError';
    this.host = target.host;
    this.address = target.address;
  }
}
