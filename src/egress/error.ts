/**
 * One error class for every refused destination, so delivery code can record
 * the attempt as `blocked_destination` without parsing messages.
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
