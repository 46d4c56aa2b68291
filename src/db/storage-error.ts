/**
 * The database's storage cannot be used: disk full, a read-only file or
 * directory, an I/O error. The message is one line naming the file and the
 * problem; `code` keeps the driver's code (`SQLITE_FULL`, …) so
 * `Dialect.isUnavailable` still recognises it (503). At start-up the CLI
 * prints the message and exits once (see docs/operations.md, "Failure behaviour").
 */
export class StorageError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
