/**
 * `npm run bench`: Lookout measured side by side with its baselines on this machine, every server
 * pinned to one CPU and the load generator (and the OTLP receiver) to another. Prints one table and
 * the issue's targets, and writes everything as JSON (bench/results/, git-ignored, or --out).
 *
 *   npm run bench                                   # everything (docs/performance.md: how long it takes)
 *   npm run bench -- --only echo,idle --seconds 5   # a subset, shorter runs
 *   npm run bench -- --quick                        # every scenario, short: a smoke test
 *
 * Scenarios (--only): echo (max throughput, wrk: express-echo, sdk-stateful, sdk-stateless-otel,
 * sdk2-handler, sdk2-handler-2025, lookout-full, lookout-full-2026, lookout-default, lookout-off,
 * lookout-collector-down), latency (open-model generator at 50 % of lookout-default's max; the floor and
 * the SDK alone at the same rate), gateway (the same generator at a moderate rate, upstream direct vs
 * through Lookout), pairs (the era and telemetry ratios in alternating slices: the 2026-07-28 echo /
 * the 2025-11-25 one, both served by one lookout-full process; then, both targets running at once,
 * lookout-full / lookout-off, lookout-default / lookout-off, express-echo-otel / express-echo), live (lookout-default at full load
 * with and without a live view page open), idle (RSS with N idle sessions),
 * soak (RSS over a long run at 50 % of max), ready (spawn → /health/ready).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../support/ports.ts';
import { toolPath } from '../support/tools.ts';
import { Collector, collectorDescription } from './harness/collector.ts';
import { type BenchContext, type TargetSpec, targets } from './harness/targets.ts';
import { type Results, resultsTable, verdicts, verdictTable } from './report.ts';
import {
  type Durations,
  echoSideBySide,
  eraRatio,
  gatewayHop,
  idleSessions,
  latencyAtHalfMax,
  liveViewOpen,
  measureMaxRps,
  pairedRatio,
  readiness,
  soak,
} from './scenarios.ts';

const scenarios = ['echo', 'pairs', 'latency', 'gateway', 'live', 'idle', 'soak', 'ready'] as const;
type Scenario = (typeof scenarios)[number];
const echoTargets: TargetSpec[] = [
  targets.expressEcho,
  targets.expressEchoOtel,
  targets.sdkStateful,
  targets.sdkStatelessOtel,
  targets.sdk2Handler,
  targets.sdk2HandlerLegacy,
  targets.lookoutFull,
  targets.lookoutFullModern,
  targets.lookoutDefault,
  targets.lookoutOff,
  targets.lookoutCollectorDown,
];

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: scenarios.join(',') },
    targets: { type: 'string', default: echoTargets.map((t) => t.name).join(',') },
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    'max-warmup': { type: 'string' },
    rounds: { type: 'string' },
    pairs: { type: 'string' },
    'slice-seconds': { type: 'string' },
    connections: { type: 'string' },
    'latency-seconds': { type: 'string' },
    'gateway-seconds': { type: 'string' },
    'gateway-rate': { type: 'string' },
    'soak-seconds': { type: 'string' },
    'idle-sessions': { type: 'string' },
    'ready-runs': { type: 'string' },
    'server-cpu': { type: 'string', default: '0' },
    'load-cpu': { type: 'string', default: '1' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(
    [
      'npm run bench -- [options]',
      `  --only <list>            scenarios, comma-separated (${scenarios.join(',')}; default all)`,
      `  --targets <list>         echo targets (${echoTargets.map((t) => t.name).join(',')})`,
      '  --quick                  short everything (a smoke test of the harness, not a measurement)',
      '  --seconds N              each measured wrk run in echo (10)',
      '  --warmup N               warm-up before each measurement, at least (5)',
      "  --max-warmup N           echo: longest warm-up while the server's CPU per request has not settled (30)",
      '  --rounds N               interleaved echo rounds, every other one in reverse order (3)',
      '  --pairs N                pairs: pairs of alternating slices per comparison (8)',
      '  --slice-seconds N        pairs: seconds of each slice (3)',
      '  --connections N          wrk connections (32)',
      "  --latency-seconds N      constant-rate run at 50 % of lookout-default's max (60)",
      '  --gateway-seconds N      each gateway run (30)',
      '  --gateway-rate N         gateway requests per second (200)',
      '  --soak-seconds N         soak length (600)',
      '  --idle-sessions N        idle sessions to open (10000)',
      '  --ready-runs N           start-ups timed (5)',
      '  --server-cpu C / --load-cpu C   CPUs for the servers / for load generator and receiver (0 / 1)',
      '  --out FILE               JSON results (bench/results/bench-<time>.json)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

function number(value: string | undefined, normal: number, quick: number): number {
  const n = value === undefined ? (values.quick ? quick : normal) : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${value}`);
  return n;
}
const durations: Durations = {
  seconds: number(values.seconds, 10, 3),
  warmupSeconds: number(values.warmup, 5, 1),
  maxWarmupSeconds: number(values['max-warmup'], 30, 3),
  rounds: number(values.rounds, 3, 1),
  pairs: number(values.pairs, 8, 2),
  sliceSeconds: number(values['slice-seconds'], 3, 1),
  connections: number(values.connections, 32, 32),
  latencySeconds: number(values['latency-seconds'], 60, 10),
  gatewaySeconds: number(values['gateway-seconds'], 30, 5),
  gatewayRate: number(values['gateway-rate'], 200, 200),
  soakSeconds: number(values['soak-seconds'], 600, 30),
  idleSessions: number(values['idle-sessions'], 10_000, 1000),
  readyRuns: number(values['ready-runs'], 5, 3),
};
const only = new Set(values.only.split(',').map((s) => s.trim()));
for (const s of only)
  if (!scenarios.includes(s as Scenario))
    throw new Error(`unknown scenario ${s}; known: ${scenarios.join(', ')}`);
const selected = (s: Scenario) => only.has(s);
const chosenTargets = values.targets.split(',').map((name) => {
  const spec = echoTargets.find((t) => t.name === name.trim());
  if (!spec) throw new Error(`unknown target ${name}; known: ${echoTargets.map((t) => t.name).join(', ')}`);
  return spec;
});

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist/cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build`');
if (cpus().length < 2) throw new Error('the bench needs two CPUs: one for the servers, one for the load');
/** A tool's first output line (wrk prints its version with exit code 1); throws when it is missing. */
const version = (command: string, args: string[]): string => {
  try {
    return (
      execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ??
      ''
    );
  } catch (error) {
    const { stdout, code } = error as { stdout?: string; code?: string };
    if (code !== 'ENOENT' && stdout) return stdout.split('\n')[0] ?? '';
    throw new Error(`${command} is needed (${(error as Error).message})`);
  }
};
const machine = {
  cpu: cpus()[0]?.model,
  cpus: cpus().length,
  memoryGb: Math.round(totalmem() / 1e8) / 10,
  kernel: release(),
  node: process.version,
  wrk:
    selected('echo') || selected('pairs') || selected('live') || selected('latency') || selected('soak')
      ? version('wrk', ['--version'])
      : undefined,
  collector: version(toolPath('otelcol-lookout'), ['--version']),
  loadAverageAtStart: loadavg(),
};
version('taskset', ['--version']);

const startedAt = new Date();
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-'));
const collector = new Collector(await freePort(), dir, values['load-cpu']);
const ctx: BenchContext = {
  root,
  dir,
  serverCpu: values['server-cpu'],
  loadCpu: values['load-cpu'],
  otlpEndpoint: collector.endpoint,
  closedPort: await freePort(),
};
log(
  `bench: ${[...only].join(', ')}; servers on CPU ${ctx.serverCpu}, load and receiver on CPU ${ctx.loadCpu}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);

const results: Results = {};
const failures: { scenario: string; error: string }[] = [];
async function attempt(scenario: Scenario, fn: () => Promise<void>): Promise<void> {
  if (!selected(scenario)) return;
  try {
    await fn();
  } catch (error) {
    log(`${scenario} failed: ${(error as Error).stack ?? error}`);
    failures.push({ scenario, error: (error as Error).message });
  }
}

await collector.start();
const maxima = new Map<string, number>();
/** A target's maximum throughput: from the side-by-side when it ran, else measured on its own. */
const maxOf = async (spec: TargetSpec) => {
  const known =
    maxima.get(spec.name) ??
    results.throughput?.find((t) => t.name === spec.name)?.rps ??
    (await measureMaxRps(spec, ctx, durations));
  maxima.set(spec.name, known);
  return known;
};
try {
  await attempt('echo', async () => {
    results.throughput = await echoSideBySide(chosenTargets, ctx, collector, durations);
  });
  await attempt('pairs', async () => {
    results.paired = [];
    results.paired.push(await eraRatio(targets.lookoutFull, ctx, durations));
    for (const [spec, base] of [
      [targets.lookoutFull, targets.lookoutOff],
      [targets.lookoutDefault, targets.lookoutOff],
      [targets.expressEchoOtel, targets.expressEcho],
    ] as const)
      results.paired.push(await pairedRatio(spec, base, ctx, durations));
  });
  await attempt('latency', async () => {
    results.latency = await latencyAtHalfMax(
      await maxOf(targets.lookoutDefault),
      ctx,
      durations,
      collector.pid,
    );
  });
  await attempt('gateway', async () => {
    results.gateway = await gatewayHop(ctx, durations);
  });
  await attempt('live', async () => {
    results.live = await liveViewOpen(ctx, durations);
  });
  await attempt('idle', async () => {
    results.idle = [
      await idleSessions(targets.lookoutFull, ctx, durations),
      await idleSessions(targets.sdkStateful, ctx, durations),
    ];
  });
  await attempt('soak', async () => {
    results.soak = await soak(await maxOf(targets.lookoutFull), ctx, durations);
  });
  await attempt('ready', async () => {
    results.ready = await readiness(ctx, durations);
  });
} finally {
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * At full load a server should use a whole CPU; when it got much less, other processes took the CPU
 * and the rps (not the CPU per request) of this run say more about the machine than about the server.
 */
function busyWarning(r: Results): string[] {
  const starved = (r.throughput ?? []).filter((t) => t.cpuShare < 0.9);
  if (starved.length === 0) return [];
  return [
    `WARNING: the machine was busy — at full load ${starved.map((t) => `${t.name} got ${Math.round(t.cpuShare * 100)} %`).join(', ')} of a CPU (a quiet machine gives ~100 %). Its rps and latencies are not valid; compare CPU µs/req instead, and run again on a quiet machine.`,
    '',
  ];
}

const seconds = (Date.now() - startedAt.getTime()) / 1000;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const loadAverageAtEnd = loadavg();
const verdictList = verdicts(results);
const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const report = [
  '',
  `## Lookout bench — ${startedAt.toISOString()}`,
  '',
  `Command: \`${command}\``,
  `Machine: ${machine.cpu}, ${machine.cpus} CPUs, ${machine.memoryGb} GB, Linux ${machine.kernel}, Node ${machine.node}; servers on CPU ${ctx.serverCpu}, load generator and receiver on CPU ${ctx.loadCpu}`,
  `Load average (1/5/15 min): ${fmtLoad(machine.loadAverageAtStart)} at start, ${fmtLoad(loadAverageAtEnd)} at end`,
  `Receiver: ${collectorDescription}`,
  `Load: ${machine.wrk ?? 'wrk not used'} (closed model, 1 thread); bench/load/open-loop.ts (open model, undici, fixed schedule)`,
  '',
  resultsTable(results, durations.connections),
  '',
  ...busyWarning(results),
  '### Targets',
  '',
  verdictTable(verdictList),
  '',
  ...failures.map((f) => `FAILED ${f.scenario}: ${f.error}`),
  `Took ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s.`,
  '',
].join('\n');
process.stdout.write(report);

const out =
  values.out ?? join(root, 'bench', 'results', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      startedAt,
      seconds,
      command,
      machine: { ...machine, loadAverageAtEnd },
      receiver: collectorDescription,
      durations,
      results,
      targets: verdictList,
      failures,
    },
    null,
    2,
  )}\n`,
);
log(`results written to ${out}`);
process.exitCode = failures.length > 0 ? 1 : 0;
