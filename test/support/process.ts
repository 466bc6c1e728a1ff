import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** A real `lookout` process (the CLI, telemetry bootstrap included) with its stdout lines collected. */
export interface LookoutProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: string[];
  readonly stderr: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `killAfterMs`: a safety net, so that a test that hangs leaves no process behind. */
export async function spawnLookout(
  args: string[],
  env: Record<string, string> = {},
  { killAfterMs = 60_000 } = {},
): Promise<LookoutProcess> {
  const child = spawn(process.execPath, [cli, '--port', '0', '--log-format', 'json', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  let resolveUrl: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => {
    resolveUrl = resolve;
  });
  child.stdout?.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (line.includes('"lookout listening"')) resolveUrl((JSON.parse(line) as { url: string }).url);
    }
  });
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  exited.finally(() => clearTimeout(timer));
  const url = await Promise.race([
    listening,
    exited.then((code) => {
      throw new Error(`lookout exited (${code}) before listening: ${stderr.join('')}`);
    }),
  ]);
  return {
    child,
    url,
    lines,
    stderr,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}
