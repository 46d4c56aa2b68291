/**
 * Real storage faults for SQLite tests, as root: small tmpfs mounts (a disk
 * that fills up) and read-only files and directories that stop root too
 * (`chattr +i`, or else a read-only bind mount; plain permissions do not stop
 * root). Every change is recorded and undone by `restore()`, last first.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(file: string, args: string[]): void {
  execFileSync(file, args, { stdio: 'pipe', timeout: 10_000 });
}

function tryRun(file: string, args: string[]): string | null {
  try {
    run(file, args);
    return null;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() || e.message).split('\n')[0]!;
  }
}

/** Why a tmpfs cannot be mounted here, or null when it can (checked once, with a real mount). */
export function tmpfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root, so no tmpfs can be mounted';
  const dir = mkdtempSync(join(tmpdir(), 'hookdesk-mountcheck-'));
  try {
    const err = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    if (err) return `mount -t tmpfs failed: ${err}`;
    tryRun('umount', [dir]);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why read-only files and directories cannot be made real for this process, or null. */
export function readOnlyUnavailable(): string | null {
  if (process.getuid?.() !== 0) return null; // permissions are enough for a non-root user
  const dir = mkdtempSync(join(tmpdir(), 'hookdesk-rocheck-'));
  try {
    const lab = new StorageLab();
    try {
      lab.makeReadOnly(dir);
      return null;
    } catch (error) {
      return (error as Error).message;
    } finally {
      lab.restore();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class StorageLab {
  private readonly undo: { what: string; fn: () => void }[] = [];

  /** Mounts a tmpfs of `sizeBytes` on a new temporary directory and returns it. */
  mountTmpfs(sizeBytes: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'hookdesk-tmpfs-'));
    run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
    this.undo.push({
      what: `umount ${dir}`,
      fn: () => {
        run('umount', ['-l', dir]);
        rmSync(dir, { recursive: true, force: true });
      },
    });
    return dir;
  }

  /**
   * Makes `path` (file or directory) read-only even for root: `chattr +i`
   * where the filesystem supports it, otherwise a read-only bind mount of
   * the path onto itself. Returns how.
   */
  makeReadOnly(path: string): 'chattr' | 'bind mount' {
    if (process.getuid?.() !== 0) {
      run('chmod', ['a-w', path]);
      this.undo.push({ what: `chmod u+w ${path}`, fn: () => run('chmod', ['u+w', path]) });
      return 'chattr';
    }
    const chattr = tryRun('chattr', ['+i', path]);
    if (chattr === null) {
      this.undo.push({ what: `chattr -i ${path}`, fn: () => run('chattr', ['-i', path]) });
      return 'chattr';
    }
    const bind = tryRun('mount', ['--bind', path, path]);
    if (bind !== null)
      throw new Error(`cannot make ${path} read-only: chattr: ${chattr}; bind mount: ${bind}`);
    this.undo.push({ what: `umount ${path}`, fn: () => run('umount', ['-l', path]) });
    const ro = tryRun('mount', ['-o', 'remount,bind,ro', path]);
    if (ro !== null) throw new Error(`cannot remount ${path} read-only: ${ro}`);
    return 'bind mount';
  }

  /** Undoes the most recent change (say, the read-only flag of `makeReadOnly`). */
  undoLast(): void {
    this.undo.pop()?.fn();
  }

  /** Undoes everything, last change first; collects failures instead of stopping at the first. */
  restore(): void {
    const failures: string[] = [];
    while (this.undo.length > 0) {
      const step = this.undo.pop()!;
      try {
        step.fn();
      } catch (error) {
        failures.push(`${step.what}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not restore storage: ${failures.join('; ')}`);
  }
}

/** Writes `path` until the filesystem is full (ENOSPC); returns the bytes written. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let written = 0;
  try {
    for (let i = 0; i < 1_000_000; i++) {
      try {
        written += writeSync(fd, chunk);
      } catch (error) {
        if ((error as { code?: string }).code === 'ENOSPC') break;
        throw error;
      }
    }
    // The last partial chunk: byte by byte is too slow, 4 KiB blocks are enough.
    const small = Buffer.alloc(4096, 0x5a);
    for (let i = 0; i < 64; i++) {
      try {
        written += writeSync(fd, small);
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

export function freeSpace(path: string): void {
  unlinkSync(path);
}
