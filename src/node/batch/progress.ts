/**
 * Progress of a long run: on a terminal a bar redrawn in place (items, items/s, ETA); otherwise
 * a plain log line every few seconds (for CI logs, Kubernetes and Slurm output files).
 */

/** How progress is shown. */
export type ProgressMode = 'auto' | 'bar' | 'log' | 'none';

/** Where progress goes (a stream-like sink). */
export interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Reports items done out of a total (unknown total: no ETA). */
export class Progress {
  private readonly sink: ProgressSink;
  private readonly mode: 'bar' | 'log' | 'none';
  private readonly total: number | null;
  private readonly start: number;
  private readonly startDone: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private done: number;
  private failed = 0;
  private lastDraw = -Infinity;
  private drawn = false;
  /** Items done at the last log line (null: none printed yet). */
  private logged: number | null = null;

  /**
   * @param total items to do in this run (null if unknown)
   * @param done items already done (a resumed run), counted but not in the rate
   */
  constructor(sink: ProgressSink, mode: ProgressMode, total: number | null, done = 0, options: { intervalMs?: number; now?: () => number } = {}) {
    this.sink = sink;
    this.mode = mode === 'auto' ? (sink.isTTY === true ? 'bar' : 'log') : mode;
    this.total = total;
    this.done = done;
    this.startDone = done;
    this.now = options.now ?? (() => Date.now());
    this.start = this.now();
    this.intervalMs = options.intervalMs ?? (this.mode === 'bar' ? 100 : 5000);
  }

  /** The current status line (without a newline). */
  line(): string {
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.done - this.startDone) / elapsed : 0;
    const eta = this.total !== null && rate > 0 ? formatDuration((this.total - this.done) / rate) : '?';
    const count = this.total !== null ? `${this.done}/${this.total} items` : `${this.done} items`;
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    const stats = `${count}${failed}  ${rate.toFixed(1)} items/s  ${this.total !== null ? `ETA ${eta}` : `${formatDuration(elapsed)} elapsed`}`;
    if (this.mode !== 'bar' || this.total === null || this.total === 0) return stats;
    const width = Math.max(10, Math.min(40, (this.sink.columns ?? 80) - stats.length - 4));
    const filled = Math.round((width * this.done) / this.total);
    return `[${'#'.repeat(filled)}${'.'.repeat(Math.max(0, width - filled))}] ${stats}`;
  }

  /** Counts finished items (explained or failed) and redraws when due. */
  update(explained: number, failed = 0): void {
    this.done += explained + failed;
    this.failed += failed;
    if (this.mode === 'none') return;
    const t = this.now();
    if (t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.draw();
  }

  private draw(): void {
    if (this.mode === 'bar') {
      this.sink.write(`\r${this.line()}\x1b[K`);
      this.drawn = true;
    } else if (this.mode === 'log') {
      this.sink.write(`progress: ${this.line()}\n`);
      this.logged = this.done;
    }
  }

  /** Final redraw; ends the bar's line. A log line is printed unless the last one already says the same count. */
  finish(): void {
    if (this.mode === 'none') return;
    if (this.mode === 'bar') {
      this.draw();
      if (this.drawn) this.sink.write('\n');
    } else if (this.logged !== this.done) this.draw();
  }
}
