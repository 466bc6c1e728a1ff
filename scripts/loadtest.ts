/**
 * `npm run loadtest -- --scenario <smoke|load|stress|spike|soak>`: starts the built Lookout (building
 * it only when dist/ is missing or older than src/) with the fixture upstream (over stdio and over
 * Streamable HTTP) on a free loopback port, runs loadtest/mcp.js with k6 against it, stops everything,
 * and exits with k6's code (99 when a threshold was crossed). With --url it runs against a Lookout that is already running instead.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, onCleanup } from './perf/cleanup.ts';
import { runK6, thresholdsCrossedExitCode } from './perf/k6.ts';
import { startLookoutUnderTest } from './perf/lookout.ts';
import { loadConfig, repoDir, scenarioNamed } from './perf/scenarios.ts';

const usage = `usage: npm run loadtest -- [--scenario smoke] [--duration 30s] [--rate 200]
       [--gateway-tool fx__report_meta] [--gateway-http-tool fxh__report_meta] [--url http://host:port/mcp] [--out-dir results/loadtest]
       [--server-cpu 0 --k6-cpu 1 | --no-pin]`;

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'smoke' },
    duration: { type: 'string' },
    rate: { type: 'string' },
    'gateway-tool': { type: 'string' },
    'gateway-http-tool': { type: 'string' },
    url: { type: 'string' },
    'out-dir': { type: 'string', default: join(repoDir, 'results/loadtest') },
    'server-cpu': { type: 'string', default: '0' },
    'k6-cpu': { type: 'string', default: '1' },
    pin: { type: 'boolean', default: true },
    help: { type: 'boolean' },
  },
  allowNegative: true,
  strict: true,
});
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const config = loadConfig();
scenarioNamed(config, values.scenario);
const pin = values.pin && availableParallelism() >= 2 && existsSync('/usr/bin/taskset');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds only when dist/cli.js is missing or a source file changed since it was built. */
function buildIfNeeded(): void {
  const cli = join(repoDir, 'dist/cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(repoDir, 'src'))) return;
  process.stdout.write('dist/ is missing or older than src/: npm run build\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoDir, stdio: 'inherit' });
}

async function main(): Promise<number> {
  const outDir = values['out-dir'];
  mkdirSync(outDir, { recursive: true });
  let url = values.url;
  if (!url) {
    buildIfNeeded();
    const lookout = await startLookoutUnderTest({
      tree: repoDir,
      workDir: outDir,
      name: values.scenario,
      cpu: pin ? values['server-cpu'] : undefined,
    });
    onCleanup(() => lookout.stop());
    url = lookout.url;
  }
  process.stdout.write(`scenario ${values.scenario} against ${url}${pin ? ' (pinned)' : ''}\n`);
  const outcome = await runK6({
    url,
    scenario: values.scenario,
    summaryDir: outDir,
    summaryName: values.scenario,
    cpu: pin ? values['k6-cpu'] : undefined,
    duration: values.duration,
    rate: values.rate === undefined ? undefined : Number(values.rate),
    gatewayTool: values['gateway-tool'],
    gatewayHttpTool: values['gateway-http-tool'],
    showOutput: true,
  });
  if (outcome.exitCode === thresholdsCrossedExitCode) {
    process.stderr.write(`loadtest: thresholds of scenario ${values.scenario} crossed\n`);
  } else if (outcome.exitCode !== 0) {
    process.stderr.write(`loadtest: k6 failed with exit code ${outcome.exitCode}\n`);
  }
  process.stdout.write(`summaries: ${join(outDir, values.scenario)}.{json,md}\n`);
  return outcome.exitCode;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  process.stderr.write(`loadtest: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await cleanup();
}
process.exit(exitCode);
