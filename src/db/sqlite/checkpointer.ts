/**
 * WAL checkpoints off the event loop, for long-running processes.
 *
 * SQLite copies the write-ahead log back into the database file every 1,000
 * pages, inside whichever COMMIT crosses that mark, and that checkpoint
 * fsyncs: measured here, one commit in a hundred took 20 ms instead of 0.3 ms,
 * and the whole process (API and worker) waited with it. With the
 * checkpointer, the process's own connection never checkpoints
 * (`wal_autocheckpoint = 0`); a worker thread with a second connection runs a
 * PASSIVE checkpoint every `intervalMs`, which never blocks writers or
 * readers. If the thread cannot start or dies, automatic checkpoints are
 * switched back on, so the WAL never grows without bound.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/** Pages the connection checkpoints by itself after (SQLite's default). */
const AUTO_CHECKPOINT_PAGES = 1000;
/** After a checkpoint resets the WAL, its file is cut back to this size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

// CommonJS, evaluated in the thread: better-sqlite3's path is passed in, not resolved from the cwd.
const THREAD_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
let timer = null;
function run() {
  timer = null;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // A full disk or a lock held too long: the next round tries again.
  }
  timer = setTimeout(run, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  if (timer) clearTimeout(timer);
  db.close();
  parentPort.close();
});
run();
`;

export interface Checkpointer {
  close(): Promise<void>;
}

export function startCheckpointer(
  native: SqliteDatabase.Database,
  file: string,
  intervalMs = 250,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  native.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  native.pragma('wal_autocheckpoint = 0');
  let closing = false;
  const fallBack = () => {
    if (closing || !native.open) return;
    native.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { driver, file, intervalMs },
    // It holds a few statements and a page cache: keep its heap small.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  thread.unref();
  thread.on('error', fallBack);
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  void exited.then(fallBack);
  return {
    async close() {
      closing = true;
      thread.postMessage('close');
      // Bounded: a thread stuck in a checkpoint is ended.
      const timer = setTimeout(() => void thread.terminate(), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
