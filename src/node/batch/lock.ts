/**
 * A lock on an output folder, so that two runs never write into the same `--out` at once.
 *
 * The lock is the file `<out>/.tfjs-lrp/lock`, holding JSON `{ pid, host, started, command,
 * token }`. It is created complete and atomically: the JSON is written to a temporary file that
 * is then hard-linked to the lock's name (`link` fails if the name exists; where a file system has
 * no hard links, an `O_EXCL` create is used instead). A run that finds the lock held refuses with
 * an {@link LrpLockError} naming the holder's pid, host and start time.
 *
 * A lock is stale, and is taken over, when its holder is gone:
 *
 * - same host: the process `pid` no longer exists (`kill(pid, 0)` fails with `ESRCH`), or it is
 *   this process and the lock is not one of the locks this process holds (a leftover);
 * - an unreadable or empty lock file (a run killed while creating it) older than 10 seconds.
 *
 * A lock from another host (an output folder on a shared file system) is never judged stale: that
 * host's processes cannot be seen from here. The error says how to remove it by hand once no run
 * is going on there. (A run killed on the same host is detected, so a rerun after `kill -9`
 * continues without any manual step.)
 *
 * Takeover is race-free: only the contender that creates the breaker file `<lock>.break`
 * (exclusively) may delete a lock, and only after checking, while it holds the breaker, that the
 * lock is still the very file it judged stale (same inode and contents). While the breaker is held
 * nobody else deletes the lock and nobody can create one over it, so that file stays until the
 * breaker's holder deletes it; a live lock is never moved or deleted by another run. Then the new
 * lock is created as above, which only one contender wins. (A breaker left by a run killed in
 * those microseconds is removed once it is older than 10 seconds.) The lock is released (deleted, if it still holds this run's token) when the run ends
 * normally, with an error, on `SIGINT`/`SIGTERM`/`SIGHUP` (the signal is then re-raised, so the
 * process still ends the way it would have) and at `process.exit`.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LrpArgumentError } from '../../errors.js';

/** The contents of a lock file. */
export interface LockInfo {
  /** The holder's process id. */
  readonly pid: number;
  /** The holder's host name (`os.hostname()`). */
  readonly host: string;
  /** When the holder took the lock (ISO 8601). */
  readonly started: string;
  /** What the holder runs (for people), e.g. `explain`. */
  readonly command: string;
  /** A random token that identifies this holding of the lock. */
  readonly token: string;
}

/** An output folder is locked by another run (exit status 2 in the CLI: choose another `--out`, or wait). */
export class LrpLockError extends LrpArgumentError {
  /** The lock file. */
  readonly file: string;
  /** The holder, as read from the lock file (null when it could not be read). */
  readonly holder: LockInfo | null;
  constructor(argument: string, file: string, holder: LockInfo | null, message: string) {
    super(argument, message);
    this.name = 'LrpLockError';
    this.file = file;
    this.holder = holder;
  }
}

/** The lock file of an output folder. */
export function lockFile(out: string): string {
  return path.join(out, '.tfjs-lrp', 'lock');
}

/** An unreadable lock file younger than this is taken to be in creation, not stale. */
const UNREADABLE_GRACE_MS = 10_000;

/** Tokens of the locks this process holds, with their files (for the signal and exit handlers). */
const held = new Map<string, string>();

let handlersInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function releaseAllHeld(): void {
  for (const [token, file] of [...held]) releaseFile(file, token);
}

function onSignal(signal: NodeJS.Signals): void {
  releaseAllHeld();
  // without our listener, would the signal have ended the process? Then end it the same way.
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  handlersInstalled = false;
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', releaseAllHeld);
}

function uninstallHandlersIfIdle(): void {
  if (!handlersInstalled || held.size > 0) return;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', releaseAllHeld);
  handlersInstalled = false;
}

/** Deletes `file` if it still holds `token`. */
function releaseFile(file: string, token: string): void {
  held.delete(token);
  try {
    const info = parseLock(fs.readFileSync(file, 'utf8'));
    if (info?.token === token) fs.rmSync(file, { force: true });
  } catch {
    // gone already, or unreadable: not ours to delete
  }
  // the state folder, if the lock was all it held (a run that stopped before writing anything)
  try {
    fs.rmdirSync(path.dirname(file));
  } catch {
    // not empty, or gone
  }
}

function parseLock(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo> | null;
    if (v === null || typeof v !== 'object' || !Number.isInteger(v.pid) || typeof v.host !== 'string' || typeof v.token !== 'string') return null;
    return { pid: v.pid as number, host: v.host, started: String(v.started ?? ''), command: String(v.command ?? ''), token: v.token };
  } catch {
    return null;
  }
}

/** Whether process `pid` exists on this host. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

/** A held output-folder lock. */
export class OutputLock {
  /** The lock file. */
  readonly file: string;
  /** What the lock file holds. */
  readonly info: LockInfo;
  /** The stale lock that was taken over to get this one, if any. */
  readonly tookOver: LockInfo | null;
  private released = false;
  /** The output folder, if acquiring the lock created it (removed again at release if still empty). */
  private readonly createdOut: string | null;

  private constructor(file: string, info: LockInfo, tookOver: LockInfo | null, createdOut: string | null) {
    this.file = file;
    this.info = info;
    this.tookOver = tookOver;
    this.createdOut = createdOut;
  }

  /**
   * Locks the output folder `out` (creating `out/.tfjs-lrp/` as needed).
   *
   * @param command what this run does (stored in the lock for people)
   * @param argument the argument named in errors (the CLI's `--out`)
   * @throws {LrpLockError} when another live run holds the lock, or a run on another host does
   */
  static acquire(out: string, command: string, argument = '--out'): OutputLock {
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new LrpArgumentError(argument, `${out} is a file; pass a folder.`);
    const file = lockFile(out);
    const createdOut = fs.existsSync(out) ? null : out;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const info: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command, token: randomBytes(12).toString('hex') };
    let tookOver: LockInfo | null = null;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (createExclusive(file, info)) {
        held.set(info.token, file);
        installHandlers();
        return new OutputLock(file, info, tookOver, createdOut);
      }
      // held: by whom, and is it stale?
      let fd: number;
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw e;
      }
      let st: fs.Stats;
      let text: string;
      try {
        st = fs.fstatSync(fd);
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
      const holder = parseLock(text);
      const stale = staleReason(holder, st);
      if (stale === null) throw busyError(argument, out, file, holder);
      if (stale === 'other-host') throw otherHostError(argument, out, file, holder as LockInfo);
      const took = takeOver(file, st, text);
      if (took === 'removed') tookOver = holder ?? { pid: 0, host: '', started: '', command: '(unreadable lock)', token: '' };
      // another contender is removing it: give it a moment, then see who holds the folder
      if (took === 'busy') pause(2);
      // then try to create it again (another contender may win: then the loop reports it)
    }
    throw new LrpLockError(argument, file, null, `could not lock ${out}: its lock file ${file} keeps changing (several runs starting at once?). Run one command per --out.`);
  }

  /** Whether this lock file still holds this run's token (false if it was removed or taken by another run). */
  isHeld(): boolean {
    if (this.released) return false;
    try {
      return parseLock(fs.readFileSync(this.file, 'utf8'))?.token === this.info.token;
    } catch {
      return false;
    }
  }

  /**
   * Throws unless the lock is still this run's (someone removed the lock file by hand and started
   * another run: this one must stop writing).
   *
   * @throws {LrpLockError} naming the run that holds the folder now
   */
  verify(argument = '--out'): void {
    if (this.isHeld()) return;
    let now: LockInfo | null = null;
    try {
      now = parseLock(fs.readFileSync(this.file, 'utf8'));
    } catch {
      // removed
    }
    const out = path.dirname(path.dirname(this.file));
    throw new LrpLockError(
      argument,
      this.file,
      now,
      now === null
        ? `the lock ${this.file} of this run was removed while it ran; stopped so as not to mix results with another run. Rerun the command (it resumes).`
        : `the lock of ${out} was taken by ${describeHolder(now)} while this run went on; this run stopped so that the two do not mix results. Let that run finish (or stop it), then rerun this command.`,
    );
  }

  /** Releases the lock (idempotent; only deletes the file if it is still this run's). */
  release(): void {
    if (this.released) return;
    this.released = true;
    releaseFile(this.file, this.info.token);
    uninstallHandlersIfIdle();
    if (this.createdOut !== null) {
      try {
        fs.rmdirSync(this.createdOut); // only if the run wrote nothing there
      } catch {
        // not empty
      }
    }
  }
}

/** Creates the lock file with `info`, complete, if it does not exist. @returns false if it exists */
function createExclusive(file: string, info: LockInfo): boolean {
  const text = JSON.stringify(info) + '\n';
  const tmp = `${file}.${info.token}.new`;
  fs.writeFileSync(tmp, text, { flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // no hard links here: O_EXCL create (a reader may briefly see it empty: see UNREADABLE_GRACE_MS)
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Why a lock is stale ('dead', 'leftover', 'unreadable', 'other-host': not ours to judge), or null if it is live. */
function staleReason(holder: LockInfo | null, st: fs.Stats): 'dead' | 'leftover' | 'unreadable' | 'other-host' | null {
  if (holder === null) return Date.now() - st.mtimeMs > UNREADABLE_GRACE_MS ? 'unreadable' : null;
  if (holder.host !== os.hostname()) return 'other-host';
  if (holder.pid === process.pid) return held.has(holder.token) ? null : 'leftover';
  return processAlive(holder.pid) ? null : 'dead';
}

/**
 * Removes the stale lock `file` (judged from its stats `st` and contents `text`) unless it
 * changed meanwhile, holding the breaker (see the module comment). @returns 'removed', 'changed'
 * (the file is another one now: judge again), or 'busy' (another contender holds the breaker)
 */
function takeOver(file: string, st: fs.Stats, text: string): 'removed' | 'changed' | 'busy' {
  const breaker = `${file}.break`;
  if (!createBreaker(breaker)) return 'busy';
  try {
    let same = false;
    try {
      const now = fs.statSync(file);
      same = now.ino === st.ino && now.dev === st.dev && fs.readFileSync(file, 'utf8') === text;
    } catch {
      same = false; // gone: another run released or removed it before we held the breaker
    }
    if (!same) return 'changed';
    fs.rmSync(file, { force: true });
    return 'removed';
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}

/** Creates the breaker file exclusively; removes a breaker older than the grace time (its run was killed). */
function createBreaker(breaker: string): boolean {
  try {
    fs.closeSync(fs.openSync(breaker, 'wx'));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  try {
    if (Date.now() - fs.statSync(breaker).mtimeMs > UNREADABLE_GRACE_MS) fs.rmSync(breaker, { force: true });
  } catch {
    // removed meanwhile
  }
  return false;
}

/** Blocks this thread for `ms` milliseconds (a contender waiting for the breaker's holder). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function describeHolder(h: LockInfo): string {
  return `run pid ${h.pid} on ${h.host}${h.command !== '' ? ` (${h.command})` : ''}${h.started !== '' ? `, started ${h.started}` : ''}`;
}

function busyError(argument: string, out: string, file: string, holder: LockInfo | null): LrpLockError {
  if (holder === null) {
    return new LrpLockError(argument, file, null, `${out} is being locked by another run right now (its lock file ${file} is still being written). Use another --out, or wait for that run to finish.`);
  }
  return new LrpLockError(
    argument,
    file,
    holder,
    `${out} is in use by another ${describeHolder(holder)}. Two runs in one output folder would mix their results: wait for it to finish (then rerun this command: it resumes), stop it, or choose another --out. (If pid ${holder.pid} is not a tfjs-lrp run, its pid was reused after the run was killed: remove ${file} and rerun.)`,
  );
}

function otherHostError(argument: string, out: string, file: string, holder: LockInfo): LrpLockError {
  return new LrpLockError(
    argument,
    file,
    holder,
    `${out} is locked by ${describeHolder(holder)}, another host, whose processes cannot be checked from ${os.hostname()}. If no run is going on there any more (it was killed, or the host is down), remove ${file} and rerun; otherwise wait for that run or choose another --out.`,
  );
}
