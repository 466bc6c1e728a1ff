/**
 * `npm run perf:gate -- --base <ref> [--head <ref>]`: builds base and head (head defaults to the working
 * tree) in temporary directories outside the repository, runs the gate scenario of
 * loadtest/scenarios.json against both, A/B interleaved, for several rounds (fresh processes each,
 * Lookout pinned to one CPU and k6 to another), and fails when head crosses an absolute threshold or the
 * median across rounds of its p95/p99 regresses by more than the allowed share against base's in most
 * rounds. When the first rounds leave a p95/p99 in doubt, more rounds run and the verdict is on all.
 * Writes comparison.md, verdict.json and every k6 summary to the output directory, and the comparison
 * to $GITHUB_STEP_SUMMARY when set. The k6 script and the upstreams come from this tree for both sides,
 * so only Lookout differs.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, onCleanup } from './perf/cleanup.ts';
import { doubts, gateRules, judge, renderReport } from './perf/compare.ts';
import { type RunStats, readRunStats, runK6, thresholdsCrossedExitCode } from './perf/k6.ts';
import { startLookoutUnderTest } from './perf/lookout.ts';
import { foreignShare, sampleCpu } from './perf/machine.ts';
import { loadConfig, repoDir, scenarioNamed } from './perf/scenarios.ts';
import { build, installDependencies, snapshotWorkingTree, type Tree, worktreeAt } from './perf/trees.ts';

const usage = `usage: npm run perf:gate -- --base <ref> [--head <ref>] [--rounds 5] [--confirm-rounds 5]
       [--interleave requests|rounds]
       [--out-dir results/perf-gate]
       [--server-cpu 0 --k6-cpu 1 | --no-pin] [--keep]`;

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string' },
    rounds: { type: 'string' },
    'confirm-rounds': { type: 'string' },
    interleave: { type: 'string' },
    'out-dir': { type: 'string', default: join(repoDir, 'results/perf-gate') },
    'server-cpu': { type: 'string', default: '0' },
    'k6-cpu': { type: 'string', default: '1' },
    pin: { type: 'boolean', default: true },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
  allowNegative: true,
  strict: true,
});
if (values.help || !values.base) {
  process.stdout.write(`${usage}\n`);
  process.exit(values.help ? 0 : 2);
}

const config = loadConfig();
const settings = config.gate;
const scenario = scenarioNamed(config, settings.scenario);
const rounds = values.rounds === undefined ? settings.rounds : Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
const confirmRounds =
  values['confirm-rounds'] === undefined ? settings.confirmRounds : Number(values['confirm-rounds']);
if (!Number.isInteger(confirmRounds) || confirmRounds < 0)
  throw new Error(`--confirm-rounds must be a whole number`);
const interleave = values.interleave ?? settings.interleave;
if (interleave !== 'requests' && interleave !== 'rounds')
  throw new Error('--interleave must be requests or rounds');
const pin = values.pin && availableParallelism() >= 2;
const outDir = values['out-dir'];
const kinds = Object.keys(scenario.latencyMs);

const log = (line: string) => process.stdout.write(`perf:gate: ${line}\n`);
const percent = (share: number) => `${(share * 100).toFixed(0)} %`;
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

async function prepare(tree: Tree): Promise<void> {
  const deps = await installDependencies(repoDir, tree);
  log(`${tree.name} = ${tree.label}: node_modules ${deps}, building`);
  await build(tree);
}

type Side = 'base' | 'head';
type RoundStats = Record<Side, RunStats>;

async function startPinned(tree: Tree, name: string, workDir: string) {
  const lookout = await startLookoutUnderTest({
    tree: tree.dir,
    workDir,
    name,
    cpu: pin ? values['server-cpu'] : undefined,
  });
  return { lookout, forget: onCleanup(() => lookout.stop()) };
}

/** Shares of the machine's CPU that other processes took during each k6 run (see machine.ts). */
const foreignShares: number[] = [];

async function gateRun(url: string | Record<string, string>, summaryName: string) {
  const before = sampleCpu();
  const outcome = await runK6({
    url,
    scenario: settings.scenario,
    summaryDir: outDir,
    summaryName,
    cpu: pin ? values['k6-cpu'] : undefined,
    showOutput: false,
  });
  foreignShares.push(foreignShare(before, sampleCpu()));
  if (outcome.exitCode !== 0 && outcome.exitCode !== thresholdsCrossedExitCode) {
    throw new Error(`k6 failed (exit ${outcome.exitCode}) on ${summaryName}:\n${outcome.outputTail}`);
  }
  return outcome.summaryPath;
}

/**
 * One round, with fresh Lookouts. Interleaved by request (the default): base and head run at the same
 * time on the same CPU and every k6 iteration calls both, in alternating order, so whatever else the
 * machine does hits both alike. Interleaved by round: one after the other, in `order`.
 */
async function measureRound(round: number, order: readonly Tree[], workDir: string): Promise<RoundStats> {
  if (interleave === 'requests') {
    const started = [];
    try {
      for (const tree of order)
        started.push({ tree, ...(await startPinned(tree, `${tree.name}-round${round}`, workDir)) });
      const urls = Object.fromEntries(started.map(({ tree, lookout }) => [tree.name, lookout.url]));
      const summary = await gateRun(urls, `round${round}`);
      return {
        base: readRunStats(summary, settings.scenario, kinds, 'base'),
        head: readRunStats(summary, settings.scenario, kinds, 'head'),
      };
    } finally {
      for (const { lookout, forget } of started) {
        forget();
        await lookout.stop();
      }
    }
  }
  const stats: Partial<RoundStats> = {};
  for (const tree of order) {
    const name = `${tree.name}-round${round}`;
    const { lookout, forget } = await startPinned(tree, name, workDir);
    try {
      stats[tree.name as Side] = readRunStats(await gateRun(lookout.url, name), settings.scenario, kinds);
    } finally {
      forget();
      await lookout.stop();
    }
  }
  return stats as RoundStats;
}

function describeRun(stats: RunStats): string {
  const latency = Object.entries(stats.kinds)
    .map(([kind, l]) => `${kind} p95 ${l.p95.toFixed(2)} p99 ${l.p99.toFixed(2)} ms`)
    .join(', ');
  return `${latency}; ${stats.requests} requests, ${stats.failedRequests} failed${stats.thresholdsOk ? '' : '; k6 thresholds crossed'}`;
}

async function main(): Promise<boolean> {
  mkdirSync(outDir, { recursive: true });
  const workRoot = mkdtempSync(join(tmpdir(), 'lookout-perf-gate-'));
  onCleanup(() => {
    if (values.keep) log(`kept ${workRoot}`);
    else rmSync(workRoot, { recursive: true, force: true });
  });

  const base = await worktreeAt(repoDir, 'base', values.base as string, join(workRoot, 'base'));
  if (!values.keep) onCleanup(() => base.remove());
  const head = values.head
    ? await worktreeAt(repoDir, 'head', values.head, join(workRoot, 'head'))
    : await snapshotWorkingTree(repoDir, 'head', join(workRoot, 'head'));
  if (!values.keep) onCleanup(() => head.remove());
  await prepare(base);
  await prepare(head);

  const loadBefore = load();
  log(`${rounds} rounds of scenario ${settings.scenario}; load average ${loadBefore}`);
  const results: Record<Side, RunStats[]> = { base: [], head: [] };
  const measureRounds = async (count: number) => {
    for (let round = results.base.length + 1, last = results.base.length + count; round <= last; round++) {
      // ABBA…: alternating which side goes first cancels a steady drift of the machine.
      const stats = await measureRound(round, round % 2 === 1 ? [base, head] : [head, base], workRoot);
      for (const side of ['base', 'head'] as const) {
        results[side].push(stats[side]);
        log(`round ${round} ${side}: ${describeRun(stats[side])}`);
      }
      log(`round ${round}: other processes took ${percent(foreignShares.at(-1) ?? 0)} of the machine's CPU`);
    }
  };
  await measureRounds(rounds);

  const rules = gateRules(config);
  let verdict = judge(results.base, results.head, rules);
  // A p95/p99 over its limit or the allowed regression after the first rounds is settled by more: the
  // verdict is then taken on all rounds, first and added alike.
  const inDoubt = confirmRounds > 0 ? doubts(verdict) : [];
  if (inDoubt.length > 0) {
    log(`first ${rounds} rounds in doubt (${inDoubt.join('; ')}): ${confirmRounds} more rounds`);
    await measureRounds(confirmRounds);
    verdict = judge(results.base, results.head, rules);
  }
  const loadAfter = load();

  const k6 = scenario.k6 as { rate?: number; duration?: string };
  const report = renderReport(verdict, rules, {
    baseLabel: base.label,
    headLabel: head.label,
    scenario: settings.scenario,
    rounds: results.base.length,
    confirmation: inDoubt.length > 0 ? { rounds, doubts: inDoubt } : undefined,
    interleaving:
      interleave === 'requests'
        ? 'interleaved by request (base and head side by side, every iteration calls both, alternating which goes first)'
        : 'interleaved by round (base and head one after the other, alternating which goes first)',
    scenarioLine:
      `${k6.rate} iterations/s, each an echo call (2025-11-25 and 2026-07-28 in turn, by pairs) and a gateway call, over stdio and over HTTP in turn, for ${k6.duration}` +
      (scenario.warmup ? ` after a ${scenario.warmup.duration} warm-up` : ''),
    machineLine:
      `Machine: ${availableParallelism()} CPUs, load average ${loadBefore} before and ${loadAfter} after; ` +
      `other processes took ${foreignShares.map(percent).join(', ')} of its CPU during the k6 runs; ` +
      (pin
        ? `Lookout pinned to CPU ${values['server-cpu']}, k6 to CPU ${values['k6-cpu']}.`
        : 'no CPU pinning.'),
  });
  writeFileSync(join(outDir, 'comparison.md'), report);
  writeFileSync(
    join(outDir, 'verdict.json'),
    JSON.stringify(
      {
        baseLabel: base.label,
        headLabel: head.label,
        ...verdict,
        ...(inDoubt.length > 0 ? { firstRounds: rounds, firstRoundsDoubts: inDoubt } : {}),
        foreignCpuShares: foreignShares,
        rounds: results,
      },
      null,
      2,
    ),
  );
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, report);
  process.stdout.write(`\n${report}\n`);
  log(`comparison and k6 summaries in ${outDir}`);
  return verdict.passed;
}

let exitCode = 1;
try {
  exitCode = (await main()) ? 0 : 1;
} catch (error) {
  process.stderr.write(`perf:gate: ${error instanceof Error ? error.message : String(error)}\n`);
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);
