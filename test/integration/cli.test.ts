import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openSession } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Launch {
  /** Runs it on these CPUs only (`taskset -c`). */
  readonly cpus?: string;
  /** Options on node's own command line. */
  readonly nodeArgs?: readonly string[];
  /** Called with the process's id as `until` shows, before it is stopped. */
  readonly onUntil?: (pid: number) => void;
}

/** Runs the real CLI; `until` ends it (SIGTERM) once stdout shows that text. */
function runCli(
  args: string[],
  env: Record<string, string> = {},
  until?: string,
  launch: Launch = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const node = [process.execPath, ...(launch.nodeArgs ?? []), cli, ...args];
    const [command, ...commandArgs] =
      launch.cpus === undefined ? node : ['taskset', '-c', launch.cpus, ...node];
    const child = spawn(command as string, commandArgs, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (until && !signalled && stdout.includes(until)) {
        signalled = true;
        if (child.pid !== undefined) launch.onUntil?.(child.pid);
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the CLI on `cpus` and returns the command line of the process that listened, then stops it. */
async function commandLineOnCpus(
  cpus: string,
  nodeArgs: string[] = [],
): Promise<{ argv: string[]; run: Run }> {
  let argv: string[] = [];
  const run = await runCli(['--port', '0', '--log-format', 'json'], {}, 'lookout listening', {
    cpus,
    nodeArgs,
    onUntil: (pid) => {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    },
  });
  return { argv, run };
}

function configFile(text: string, name = 'lookout.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-cli-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('lookout CLI', () => {
  it('exits 2 naming the key, the problem and the expected form for a bad environment value', async () => {
    const run = await runCli([], { LOOKOUT_PORT: 'eighty' });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /port: .*expected number.*"eighty".*environment LOOKOUT_PORT.*expected integer 0-65535/,
    );
  });

  it('exits 2 with one line per bad key from a config file', async () => {
    const path = configFile('port: 70000\nmcp:\n  maxSessions: -1\n  colour: blue\n');
    const run = await runCli(['--config', path]);
    assert.equal(run.code, 2);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 3, run.stderr);
    assert.ok(
      lines.some((l) => /^lookout: invalid config: port: .*70000.*config file/.test(l)),
      run.stderr,
    );
    assert.ok(
      lines.some((l) => /mcp\.maxSessions: .*-1/.test(l)),
      run.stderr,
    );
    assert.ok(
      lines.some((l) => /mcp\.colour: unknown key/.test(l)),
      run.stderr,
    );
  });

  it('exits 2 for an unknown flag or a missing config file', async () => {
    assert.equal((await runCli(['--no-such-flag'])).code, 2);
    const missing = await runCli(['--config', '/nonexistent/lookout.yaml']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /file not found/);
  });

  it('prints help listing every flag with its environment variable', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    for (const text of [
      '--host',
      'LOOKOUT_HOST',
      '--port',
      'LOOKOUT_PORT',
      '--config',
      '--print-config',
      '--stateless',
    ]) {
      assert.ok(run.stdout.includes(text), text);
    }
  });

  it('layers defaults < file < environment < flags in --print-config', async () => {
    const path = configFile(
      JSON.stringify({ host: '0.0.0.0', port: 9000, mcp: { maxSessions: 5 } }),
      'c.json',
    );
    const run = await runCli(['--config', path, '--port', '9002', '--print-config'], {
      LOOKOUT_PORT: '9001',
      LOOKOUT_MAX_SESSIONS: '7',
    });
    assert.equal(run.code, 0, run.stderr);
    const config = JSON.parse(run.stdout);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 9002);
    assert.equal(config.mcp.maxSessions, 7);
    assert.equal(config.mcp.path, '/mcp');
  });

  it('starts, logs JSON and exits 0 on SIGTERM', async () => {
    const run = await runCli(['--port', '0', '--log-format', 'json'], {}, 'lookout listening');
    assert.equal(run.code, 0, run.stderr);
    const first = JSON.parse(run.stdout.split('\n')[0] as string);
    assert.equal(first.message, 'lookout listening');
    assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it('keeps serving when its log output goes away (EPIPE), and says so once on stderr', async () => {
    const lookout = await spawnLookout([], { OTEL_SDK_DISABLED: 'true' });
    try {
      // The reader of its stdout goes away, as a log collector that stops does.
      lookout.child.stdout?.destroy();
      // Each session opened writes log lines.
      for (let i = 0; i < 5; i++) {
        assert.ok(await openSession(lookout.url));
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(lookout.child.exitCode, null, lookout.stderr.join(''));
      assert.equal((await fetch(new URL('/health/live', lookout.url))).status, 200);
      const said = lookout.stderr
        .join('')
        .split('\n')
        .filter((l) => l.includes('log output lost'));
      assert.equal(said.length, 1, lookout.stderr.join(''));
      assert.equal(await lookout.stop('SIGTERM'), 0, lookout.stderr.join(''));
    } finally {
      lookout.child.kill('SIGKILL');
    }
  });
});

describe('GC threads on one CPU', { skip: process.platform !== 'linux' }, () => {
  it('replaces itself once with single-threaded GC, keeping its PID, and still stops cleanly', async () => {
    const { argv, run } = await commandLineOnCpus('0');
    assert.equal(run.code, 0, run.stderr);
    assert.ok(argv.includes('--single-threaded-gc'), argv.join(' '));
    // Its arguments came through the replacement unchanged.
    assert.deepEqual(argv.slice(-5), [cli, '--port', '0', '--log-format', 'json']);
  });

  it('keeps V8 default GC threads when the command line chose, or more than one CPU is there', async () => {
    const chosen = await commandLineOnCpus('0', ['--no-single-threaded-gc']);
    assert.equal(chosen.run.code, 0, chosen.run.stderr);
    assert.ok(!chosen.argv.includes('--single-threaded-gc'), chosen.argv.join(' '));
    if (availableParallelism() < 2) return;
    const two = await commandLineOnCpus('0,1');
    assert.equal(two.run.code, 0, two.run.stderr);
    assert.ok(!two.argv.includes('--single-threaded-gc'), two.argv.join(' '));
  });
});

describe('signed tool modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-signed-'));
  const zod = pathToFileURL(createRequire(import.meta.url).resolve('zod')).href;
  const api = new URL('../../src/index.ts', import.meta.url).href;
  const modulePath = join(dir, 'signed-tools.ts');
  writeFileSync(
    modulePath,
    `import { z } from '${zod}';\nimport { defineTool } from '${api}';\nexport const signed = defineTool({ name: 'signed', description: 'From a signed module.', input: z.object({}), handler: () => 'signed' });\n`,
  );
  const config = join(dir, 'lookout.yaml');
  writeFileSync(
    config,
    `tools: [${modulePath}]\nsecurity:\n  signedModules:\n    required: true\n    trustedKeys: [${join(dir, 'lookout-signing.pub')}]\n`,
  );

  it('keygen makes a key pair and sign writes <module>.sig', async () => {
    const keygen = await runCli(['keygen', '--out', dir]);
    assert.equal(keygen.code, 0, keygen.stderr);
    assert.match(keygen.stdout, /^key [0-9a-f]{16}$/m);
    const signed = await runCli(['sign', modulePath, '--key', join(dir, 'lookout-signing.key')]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.stdout.trim(), `${modulePath}.sig`);
  });

  it('starts with a module signed by a trusted key', async () => {
    const run = await runCli(
      ['--config', config, '--port', '0', '--log-format', 'json'],
      {},
      'lookout listening',
    );
    assert.equal(run.code, 0, run.stderr);
  });

  it('refuses to start, exit 2, naming the module, when it was tampered with', async () => {
    writeFileSync(modulePath, `${readFileSync(modulePath, 'utf8')}// changed\n`);
    const run = await runCli(['--config', config, '--port', '0']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /tool module .*signed-tools\.ts refused: signature does not match/);
  });

  it('refuses an unsigned module', async () => {
    const unsigned = join(dir, 'unsigned.ts');
    writeFileSync(unsigned, readFileSync(modulePath, 'utf8'));
    writeFileSync(config, readFileSync(config, 'utf8').replace(modulePath, unsigned));
    const run = await runCli(['--config', config, '--port', '0']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unsigned\.ts refused: no signature file/);
  });
});
