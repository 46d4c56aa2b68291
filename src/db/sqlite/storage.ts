/**
 * SQLite storage failures (docs/operations.md, "Failure behaviour"): a full
 * disk, a read-only file or directory, an I/O error. Found by test/faults/sqlite-storage.
 *
 * - At open, a failure is a `StorageError` with one clear line, and the CLI
 *   exits once with it (nothing to retry until an operator acts).
 * - While running, the first statement that hits one switches the handle to
 *   "storage failing": every statement outside a transaction, reads included
 *   and so `/readyz`, fails fast with that error (503) instead of half
 *   working, and at most once a second a probe write checks whether storage
 *   is back; when it is, statements run again. No restart is needed.
 */
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { StorageError } from '../storage-error.js';

/** Codes of the file or the disk, as opposed to a lock (SQLITE_BUSY) or a bad statement. */
const STORAGE_CODE = /^SQLITE_(FULL|READONLY|CANTOPEN|IOERR)(_|$)/;
/** Node's codes for the same problems (creating the directory, …). */
const FS_CODES = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EDQUOT']);
/** Free space needed before a full disk counts as recovered, so one page that fits does not flip readiness. */
const MIN_FREE_BYTES = 1024 * 1024;
const RECHECK_MS = 1_000;
const ROLLBACK = /^\s*rollback\s*;?\s*$/i;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Bytes free for this process's files on the filesystem holding `dir`, or null if unknown. */
function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** The storage failure `error` means for `file`, as a one-line StorageError; null when it is something else. */
export function storageFailure(file: string, error: unknown): StorageError | null {
  if (error instanceof StorageError) return error;
  const code = codeOf(error);
  if (code === undefined || !(STORAGE_CODE.test(code) || FS_CODES.has(code))) return null;
  const dir = dirname(file);
  const free = freeBytes(dir);
  let problem: string;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT')
    problem = 'disk full: no space left on the device';
  else if (code.startsWith('SQLITE_READONLY') || code === 'EROFS')
    problem =
      existsSync(file) && !writable(file)
        ? 'database is read-only: the file cannot be written'
        : 'database is read-only: the file or its filesystem cannot be written';
  // A full disk also shows as an I/O error (growing the -shm file: SQLITE_IOERR_SHMSIZE) or CANTOPEN.
  else if (free === 0) problem = 'disk full: no space left on the device';
  else if (!existsSync(dir)) problem = `cannot open the file: its directory ${dir} does not exist`;
  else if (!writable(dir) || code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_CANTOPEN')
    problem = writable(dir)
      ? 'cannot open or create the file (or its -wal/-shm companions)'
      : `cannot open or create the file: its directory ${dir} is not writable`;
  else problem = 'disk I/O error';
  return new StorageError(code, `SQLite database ${file}: ${problem} (${code})`, {
    cause: error,
  });
}

/** One tiny committed write (the header's user_version, rewritten unchanged): null when it works. */
export function probeWrite(native: SqliteDatabase.Database, file: string): StorageError | null {
  try {
    const version = native.pragma('user_version', { simple: true }) as number;
    native.pragma(`user_version = ${Number(version)}`);
    return null;
  } catch (error) {
    const failure = storageFailure(file, error);
    // Anything else (a lock held too long) is not a storage failure: let real statements decide.
    return failure;
  }
}

/** Remembers a storage failure and decides, before each statement, whether it still holds. */
export class StorageGuard {
  private failure: StorageError | null = null;
  private checkedAt = 0;

  constructor(
    private readonly native: SqliteDatabase.Database,
    private readonly file: string,
  ) {}

  /**
   * True for a ROLLBACK with no transaction open: after SQLITE_FULL or an I/O
   * error at COMMIT, SQLite has already rolled back, and running Kysely's
   * ROLLBACK would fail ("no transaction is active") and replace the real
   * error (a 500 instead of a 503). There is nothing left to undo.
   */
  alreadyRolledBack(sql: string): boolean {
    return !this.native.inTransaction && ROLLBACK.test(sql);
  }

  /** Throws the failure while it holds; re-checked at most once a second. */
  before(sql: string): void {
    // Inside a transaction, and for ROLLBACK, let the statement run: the transaction must end.
    if (this.failure === null || this.native.inTransaction || ROLLBACK.test(sql)) return;
    const now = Date.now();
    if (now - this.checkedAt >= RECHECK_MS) {
      this.checkedAt = now;
      const free = freeBytes(dirname(this.file));
      const lowOnSpace = free !== null && free < MIN_FREE_BYTES;
      const still =
        lowOnSpace && this.failure.message.includes('disk full')
          ? this.failure
          : probeWrite(this.native, this.file);
      if (!still) {
        this.failure = null;
        return;
      }
      this.failure = still;
    }
    // A fresh error per statement, so each caller's log shows its own stack.
    const f = this.failure;
    throw new StorageError(f.code, f.message, { cause: f.cause });
  }

  /** The error to throw for a failed statement; a storage failure switches the guard on. */
  failed(error: unknown): unknown {
    const failure = storageFailure(this.file, error);
    if (failure === null) return error;
    this.failure = failure;
    this.checkedAt = Date.now();
    return failure;
  }
}
