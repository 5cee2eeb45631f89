/**
 * Files written so that a reader (or a rerun after a crash) never sees a partial file: data goes
 * to a temporary file next to the target, which is then renamed over it (rename is atomic within
 * a file system). Every byte is written (a short write is continued, a failed one removes the
 * temporary file and leaves the target as it was), and errors name the file (`LrpWriteError`).
 * Append-only logs are fsync'ed line by line, and read back skipping a torn last line and
 * reporting corrupt lines instead of stopping at them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LrpError } from '../../errors.js';

let counter = 0;

/** Folders this process already created (one mkdir per folder, not per file). */
const madeDirs = new Set<string>();

function ensureDirSync(dir: string): void {
  if (madeDirs.has(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  madeDirs.add(dir);
}

/** The temporary name used for `file` (same folder, so the rename stays on one file system). */
function tempName(file: string): string {
  counter = (counter + 1) % 1e9;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter}.tmp`);
}

/**
 * A file could not be written (full disk, quota, read-only or failing device…). Names the file and
 * the fix; `code` is the system error code (e.g. `ENOSPC`). The previous contents of the file, if
 * any, are unchanged.
 */
export class LrpWriteError extends LrpError {
  /** The file that was being written. */
  readonly file: string;
  /** The system error code, e.g. `'ENOSPC'`, `'EDQUOT'`, `'EIO'` (`'ESHORT'`: nothing more could be written). */
  readonly code: string;
  constructor(file: string, code: string, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'LrpWriteError';
    this.file = file;
    this.code = code;
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

const FIXES: Record<string, string> = {
  ENOSPC: 'the disk is full: free some space (or choose an output folder on a disk with room) and rerun',
  EDQUOT: 'the disk quota is exhausted: free some space (or choose an output folder elsewhere) and rerun',
  EFBIG: 'the file is larger than the file system allows: choose an output folder on another file system',
  EROFS: 'the file system is read-only: choose a writable output folder',
  EACCES: 'no permission to write there: choose a writable output folder',
  EPERM: 'no permission to write there: choose a writable output folder',
  EIO: 'the device reported an I/O error: check the disk, then rerun',
  ESHORT: 'the device accepted no more bytes (full?): free some space and rerun',
};

/** `e` as an {@link LrpWriteError} naming `file` (errors that are one already pass through). */
export function writeError(file: string, e: unknown, previousKept = true): LrpWriteError {
  if (e instanceof LrpWriteError) return e;
  const code = String((e as NodeJS.ErrnoException)?.code ?? 'EIO');
  const fix = FIXES[code] ?? 'check the output folder, then rerun';
  // 'ENOSPC: no space left on device, write' -> 'no space left on device'
  const what = String((e as Error)?.message ?? e).replace(/^[A-Z]+: /, '').replace(/, \w+( '[^']*')?( -> '[^']*')?$/, '');
  return new LrpWriteError(file, code, `cannot write ${file}: ${what} (${code}); ${fix}.${previousKept ? ' The previous version of the file, if any, is unchanged.' : ''}`, { cause: e });
}

/** Writes every byte of `data` at the current position of `fd` (write(2) may write fewer). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = fs.writeSync(fd, data, off, data.length - off);
    if (!(n > 0)) {
      const err = new Error(`only ${off} of ${data.length} bytes could be written`) as NodeJS.ErrnoException;
      err.code = 'ESHORT';
      throw err;
    }
    off += n;
  }
}

/** fsyncs a folder, so that a rename in it is durable (best effort: not every platform can). */
function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows and some file systems cannot open or sync folders
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `file` atomically (temp file + rename), creating folders as needed: every
 * byte is written (short writes are continued), the file is closed (and fsync'ed if asked) and
 * only then renamed over `file`. On any error the temporary file is removed and `file` keeps its
 * previous contents (or stays absent).
 *
 * @param fsync also flush the data (and the rename) to disk (durability across power loss)
 * @throws {LrpWriteError} naming `file`, e.g. with code `ENOSPC` on a full disk
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, fsync = false): void {
  const dir = path.dirname(file);
  const tmp = tempName(file);
  try {
    ensureDirSync(dir);
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'w');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      madeDirs.delete(dir); // removed since: make it again
      ensureDirSync(dir);
      fd = fs.openSync(tmp, 'w');
    }
    try {
      writeAllSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (fsync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(file, e);
  }
  if (fsync) fsyncDir(dir);
}

/** Async {@link writeFileAtomicSync} (same guarantees). @throws {LrpWriteError} naming `file` */
export async function writeFileAtomic(file: string, data: string | Uint8Array, fsync = false): Promise<void> {
  const tmp = tempName(file);
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.promises.open(tmp, 'w');
    try {
      // FileHandle.writeFile writes until every byte is written (or fails)
      await handle.writeFile(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw writeError(file, e);
  }
}

/**
 * Appends one line (a newline is added) and fsyncs, so a completed append survives a kill. If
 * the file does not end with a newline (a torn line from a killed writer), the line starts on a
 * new line. If the append fails (full disk), the file is cut back to its previous length, so it
 * never ends with half a line written by this call.
 *
 * @throws {LrpWriteError} naming `file`
 */
export function appendLineSync(file: string, line: string): void {
  if (line.includes('\n')) throw new Error('appendLineSync: the line contains a newline');
  let fd: number;
  try {
    fd = fs.openSync(file, 'a+');
  } catch (e) {
    throw writeError(file, e, false);
  }
  let size = 0;
  try {
    size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      if (fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) prefix = '\n';
    }
    writeAllSync(fd, Buffer.from(prefix + line + '\n', 'utf8'));
    fs.fsyncSync(fd);
  } catch (e) {
    try {
      fs.ftruncateSync(fd, size);
    } catch {
      // the reader drops a torn last line anyway
    }
    throw writeError(file, e, false);
  } finally {
    fs.closeSync(fd);
  }
}

/** What {@link readLogDetailed} found. */
export interface LogContents<T> {
  /** The valid records, in file order. */
  readonly records: T[];
  /** Complete lines that are not valid records (1-based line numbers, text cut to 200 characters): skipped. */
  readonly corrupt: Array<{ readonly line: number; readonly text: string }>;
  /** Bytes of a torn last line (no newline: a writer killed mid-append), dropped (and cut off when repairing). */
  readonly tornBytes: number;
}

/**
 * Reads a JSON-lines log written by {@link appendLineSync}. A torn last line (no final newline:
 * the writer was killed mid-append) is dropped, and with `repair` cut off the file so later
 * appends start cleanly. A complete line that is not valid JSON (or fails `valid`) is skipped and
 * reported in `corrupt`; the records after it are kept.
 */
export function readLogDetailed<T>(file: string, repair = true, valid: (v: unknown) => boolean = () => true): LogContents<T> {
  if (!fs.existsSync(file)) return { records: [], corrupt: [], tornBytes: 0 };
  const buf = fs.readFileSync(file);
  const end = buf.lastIndexOf(0x0a) + 1;
  const tornBytes = buf.length - end;
  if (repair && tornBytes > 0) fs.truncateSync(file, end);
  const records: T[] = [];
  const corrupt: Array<{ line: number; text: string }> = [];
  const lines = buf.subarray(0, end).toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    let v: unknown;
    let ok = false;
    try {
      v = JSON.parse(line);
      ok = valid(v);
    } catch {
      ok = false;
    }
    if (ok) records.push(v as T);
    else corrupt.push({ line: i + 1, text: line.length > 200 ? `${line.slice(0, 200)}…` : line });
  }
  return { records, corrupt, tornBytes };
}

/** The records of {@link readLogDetailed} (corrupt lines skipped, a torn last line dropped). */
export function readLog<T>(file: string, repair = true): T[] {
  return readLogDetailed<T>(file, repair).records;
}

/** Removes leftover temporary files of {@link writeFileAtomicSync} under `dir` (after a kill). */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /^\..+\.\d+\.\d+\.tmp$/.test(e.name)) {
        fs.rmSync(p, { force: true });
        removed += 1;
      }
    }
  };
  walk(dir);
  return removed;
}
