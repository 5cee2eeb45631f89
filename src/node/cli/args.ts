/**
 * A small, dependency-free command-line parser: `--flag value`, `--flag=value`, `--no-flag` for
 * booleans, repeatable flags, positional arguments, `--` to end flags, `-h`/`--help`. Errors are
 * {@link LrpUsageError}s naming the flag and the fix (exit status 2).
 */
import { LrpArgumentError } from '../../errors.js';

/** A command-line usage error: unknown flag, missing or bad value, bad path. Exit status 2. */
export class LrpUsageError extends LrpArgumentError {
  constructor(argument: string, message: string) {
    super(argument, message);
    this.name = 'LrpUsageError';
  }
}

/** Value types of flags. */
export type FlagType = 'string' | 'int' | 'number' | 'boolean';

/** One flag of a command. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `batch`. */
  readonly name: string;
  readonly type: FlagType;
  /** One-letter alias without the dash, e.g. `b`. */
  readonly alias?: string;
  /** Shown in the help. */
  readonly description: string;
  /** Placeholder in the help, e.g. `<n>`. */
  readonly value?: string;
  /** May be given several times (values collected in order). */
  readonly repeat?: boolean;
  /** Allowed values (strings). */
  readonly choices?: readonly string[];
  /** Smallest allowed value (int, number). */
  readonly min?: number;
  /** Shown as the default in the help. */
  readonly default?: string;
}

/** A command: its flags, positional arguments and help. */
export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The usage line after `tfjs-lrp`. */
  readonly usage: string;
  /** Longer description. */
  readonly description?: string;
  readonly flags: readonly FlagSpec[];
  /** Name of the positional arguments in the help (none accepted when absent). */
  readonly positional?: { readonly name: string; readonly description: string };
  readonly examples: readonly string[];
}

/** Parsed values: flag name → value (arrays for repeatable flags). */
export interface ParsedArgs {
  readonly flags: Readonly<Record<string, string | number | boolean | Array<string | number>>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** The closest known name, if close enough to be a typo. */
export function suggest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(name, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  if (best !== null && bestD <= 2) return best;
  // a known name that the typo starts with, or that starts with the typo (--batchsize, --comp)
  const prefix = known.filter((k) => Math.min(k.length, name.length) >= 3 && (name.startsWith(k) || k.startsWith(name)));
  if (prefix.length > 0) return prefix.sort((a, b) => Math.abs(a.length - name.length) - Math.abs(b.length - name.length))[0];
  return best !== null && bestD <= Math.floor(name.length / 3) ? best : null;
}

function convert(spec: FlagSpec, raw: string, shown: string): string | number | boolean {
  if (spec.type === 'int' || spec.type === 'number') {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || (spec.type === 'int' && !Number.isInteger(v))) {
      throw new LrpUsageError(shown, `expected ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}.`);
    }
    if (spec.min !== undefined && v < spec.min) throw new LrpUsageError(shown, `must be at least ${spec.min}, got ${v}.`);
    return v;
  }
  if (spec.type === 'boolean') {
    if (/^(true|yes|1)$/i.test(raw)) return true;
    if (/^(false|no|0)$/i.test(raw)) return false;
    throw new LrpUsageError(shown, `expected true or false, got ${JSON.stringify(raw)}.`);
  }
  if (spec.choices !== undefined && !spec.choices.includes(raw)) {
    const s = suggest(raw, spec.choices);
    throw new LrpUsageError(shown, `expected one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}.${s !== null ? ` Did you mean ${s}?` : ''}`);
  }
  return raw;
}

/**
 * Parses `argv` (without the command name) against a command's flags.
 *
 * @throws {LrpUsageError} for an unknown flag (with a suggestion), a missing or malformed value,
 *   a repeated single flag, or positional arguments where none are accepted
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const byAlias = new Map(spec.flags.filter((f) => f.alias !== undefined).map((f) => [f.alias as string, f]));
  const flags: Record<string, string | number | boolean | Array<string | number>> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let spec1: FlagSpec | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      spec1 = byName.get(name);
      if (spec1 === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean' && inline === undefined) {
        flags[name.slice(3)] = false;
        continue;
      }
    } else {
      name = arg.slice(1);
      spec1 = byAlias.get(name);
    }
    const shown = arg.startsWith('--') ? `--${name}` : `-${name}`;
    if (spec1 === undefined) {
      const s = suggest(name.replace(/^no-/, ''), spec.flags.map((f) => f.name));
      throw new LrpUsageError(shown, `unknown option for 'tfjs-lrp ${spec.name}'.${s !== null ? ` Did you mean --${s}?` : ''} See 'tfjs-lrp ${spec.name} --help'.`);
    }
    const shownName = `--${spec1.name}`;
    let value: string | number | boolean;
    if (spec1.type === 'boolean') value = inline === undefined ? true : convert(spec1, inline, shownName);
    else {
      let raw = inline;
      if (raw === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2) || next === '-h') {
          throw new LrpUsageError(shownName, `needs a value${spec1.value !== undefined ? ` ${spec1.value}` : ''}: ${shownName} ${spec1.value ?? '<value>'}.`);
        }
        raw = next;
        i++;
      }
      value = convert(spec1, raw, shownName);
    }
    if (spec1.repeat === true) {
      const list = (flags[spec1.name] as Array<string | number> | undefined) ?? [];
      list.push(value as string | number);
      flags[spec1.name] = list;
    } else {
      if (spec1.name in flags) throw new LrpUsageError(shownName, `is given twice; give it once.`);
      flags[spec1.name] = value;
    }
  }
  if (positionals.length > 0 && spec.positional === undefined && !help) {
    throw new LrpUsageError(positionals[0], `unexpected argument for 'tfjs-lrp ${spec.name}' (it takes options only). See 'tfjs-lrp ${spec.name} --help'.`);
  }
  return { flags, positionals, help };
}

/** Help text of a command: usage, description, options, examples. */
export function formatHelp(spec: CommandSpec): string {
  const lines: string[] = [`Usage: tfjs-lrp ${spec.usage}`, '', spec.summary];
  if (spec.description !== undefined) lines.push('', spec.description);
  if (spec.positional !== undefined) lines.push('', 'Arguments:', `  ${spec.positional.name.padEnd(28)} ${spec.positional.description}`);
  lines.push('', 'Options:');
  const rows = spec.flags.map((f) => {
    const left = `${f.alias !== undefined ? `-${f.alias}, ` : '    '}--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? '<value>'}`}`;
    const extra = [f.choices !== undefined && f.type !== 'boolean' ? `one of: ${f.choices.join(', ')}` : '', f.default !== undefined ? `default: ${f.default}` : '', f.repeat === true ? 'repeatable' : ''].filter((s) => s !== '');
    return [left, f.description + (extra.length > 0 ? ` (${extra.join('; ')})` : '')];
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.min(34, Math.max(...rows.map((r) => r[0].length)));
  for (const [l, r] of rows) lines.push(l.length > width ? `  ${l}\n  ${' '.repeat(width)}  ${r}` : `  ${l.padEnd(width)}  ${r}`);
  lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}
