/**
 * The `tfjs-lrp` command line (package `bin`): explain, aggregate, describe, merge, spray.
 *
 *     npx tfjs-lrp explain --model fixtures/digits --input digits/ --out out/explained
 *
 * Exit status: 0 every item explained; 1 some items failed (listed in errors.jsonl); 2 usage
 * error (unknown flag, missing or bad value, bad path, inputs with nothing to explain); 3 fatal error.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LrpArgumentError, LrpLayerError, LrpModelError, LrpRuleError } from '../../errors.js';
import { formatHelp, LrpUsageError, parseArgs, suggest } from './args.js';
import { COMMANDS as RUN_COMMANDS, describeCommand, mergeCommand, runCommand, type CommandIO } from './commands.js';
import { SPRAY_COMMAND, sprayCommand } from './spray.js';
import { CONCEPTS_COMMAND, conceptsCommand } from './concepts.js';

/** Every command: explain, aggregate, describe, merge (./commands), spray (./spray) and concepts (./concepts). */
const COMMANDS = { ...RUN_COMMANDS, spray: SPRAY_COMMAND, concepts: CONCEPTS_COMMAND };

/** Exit statuses of `tfjs-lrp`. */
export const EXIT = { ok: 0, itemsFailed: 1, usage: 2, fatal: 3 } as const;

/** The general help. */
export function generalHelp(): string {
  const names = Object.keys(COMMANDS) as Array<keyof typeof COMMANDS>;
  return [
    'Usage: tfjs-lrp <command> [options]',
    '',
    'Layer-wise Relevance Propagation for TensorFlow.js models, over whole data sets.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(10)} ${COMMANDS[n].summary}`),
    '',
    "Run 'tfjs-lrp <command> --help' for its options, examples and exit statuses.",
    '',
    'Exit status: 0 success; 1 explain, aggregate, merge, spray: some items failed (listed in <out>/errors.jsonl);',
    '2 usage error (bad flag, value or path; inputs with nothing to explain); 3 fatal error.',
  ].join('\n');
}

/** This package's version (package.json above this file, in the sources or in dist/). */
function packageVersion(): string {
  let dir = typeof __dirname === 'string' ? __dirname : process.cwd();
  for (let k = 0; k < 8; k++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tfjs-lrp' && pkg.version !== undefined) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

/** Whether an error is the user's input (exit 2) rather than a failure (exit 3). */
function isUsage(e: unknown): boolean {
  if (e instanceof LrpUsageError || e instanceof LrpRuleError) return true;
  if (e instanceof LrpLayerError || e instanceof LrpModelError) return false;
  return e instanceof LrpArgumentError && (e.argument.startsWith('-') || e.argument.startsWith('options.') || e.argument.startsWith('<'));
}

/**
 * Runs the command line `argv` (without `node` and the script) and returns the exit status.
 * Never calls process.exit; output goes to `io`.
 */
export async function main(argv: readonly string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    const sub = command === 'help' ? rest[0] : undefined;
    if (sub !== undefined && sub in COMMANDS) io.stdout.write(formatHelp(COMMANDS[sub as keyof typeof COMMANDS]) + '\n');
    else (command === undefined ? io.stderr : io.stdout).write(generalHelp() + '\n');
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (!(command in COMMANDS)) {
    const s = suggest(command, Object.keys(COMMANDS));
    io.stderr.write(`tfjs-lrp: unknown command '${command}'.${s !== null ? ` Did you mean '${s}'?` : ''}\n\n${generalHelp()}\n`);
    return EXIT.usage;
  }
  const name = command as keyof typeof COMMANDS;
  try {
    const args = parseArgs(COMMANDS[name], rest);
    if (args.help) {
      io.stdout.write(formatHelp(COMMANDS[name]) + '\n');
      return EXIT.ok;
    }
    if (name === 'describe') return await describeCommand(args, io);
    if (name === 'merge') return await mergeCommand(args, io);
    if (name === 'spray') return await sprayCommand(args, io);
    if (name === 'concepts') return await conceptsCommand(args, io);
    return await runCommand(name, args, io);
  } catch (e) {
    const err = e as Error;
    if (isUsage(e)) {
      io.stderr.write(`tfjs-lrp ${name}: ${err.message}\n`);
      if (e instanceof LrpUsageError) io.stderr.write(`Run 'tfjs-lrp ${name} --help' for usage.\n`);
      return EXIT.usage;
    }
    io.stderr.write(`tfjs-lrp ${name}: fatal: ${err.name}: ${err.message}\n`);
    if (process.env.TFJS_LRP_DEBUG !== undefined && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
    return EXIT.fatal;
  }
}

/** Entry point for the `bin` script: runs `main` on process.argv and exits with its status. */
export function run(argv: readonly string[] = process.argv.slice(2)): void {
  // tfjs prints a one-time banner suggesting tfjs-node; the CLI says which backend it uses instead
  const warn = console.warn.bind(console);
  console.warn = (...a: unknown[]): void => {
    if (typeof a[0] === 'string' && a[0].includes('looks like you are running TensorFlow.js in Node.js')) return;
    warn(...a);
  };
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`tfjs-lrp: fatal: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = EXIT.fatal;
    },
  );
}

if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) run();
