/** Runs the `tfjs-lrp` command in this process (src/node/cli/main.ts), capturing its output. */
import { main } from '../../src/node/cli/main';

/** What one command run printed, and its exit status. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tfjs-lrp <argv…>` with `cwd` as its working folder. */
export async function runCli(cwd: string, argv: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main([...argv], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd });
  return { code, stdout, stderr };
}
