/**
 * Files written so that a reader (or a rerun after a crash) never sees a partial file: data goes
 * to a temporary file next to the target, which is then renamed over it (rename is atomic within
 * a file system). Append-only logs are fsync'ed line by line.
 */
import * as fs from 'fs';
import * as path from 'path';

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
 * Writes `data` to `file` atomically (temp file + rename), creating folders as needed.
 *
 * @param fsync also flush the data to disk before the rename (durability across power loss)
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, fsync = false): void {
  const dir = path.dirname(file);
  ensureDirSync(dir);
  const tmp = tempName(file);
  try {
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
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (fsync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Async {@link writeFileAtomicSync}. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, fsync = false): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      await handle.writeFile(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Appends one line (a newline is added) and fsyncs, so a completed append survives a kill. */
export function appendLineSync(file: string, line: string): void {
  if (line.includes('\n')) throw new Error('appendLineSync: the line contains a newline');
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a JSON-lines log written by {@link appendLineSync}: complete lines only (a torn last line
 * from a killed writer is ignored, and cut off the file so later appends start cleanly).
 */
export function readLog<T>(file: string, repair = true): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (repair && end < text.length) fs.truncateSync(file, Buffer.byteLength(text.slice(0, end), 'utf8'));
  const out: T[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      break; // a torn line (should not happen after an fsync'ed append); stop there
    }
  }
  return out;
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
