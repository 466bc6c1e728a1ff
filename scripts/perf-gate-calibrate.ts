/**
 * `npm run perf:gate:calibrate -- <verdict.json>…`: how often the perf gate's rule fails a head that
 * is no slower than base, and how often it catches regressions of a few sizes, on the machine that
 * measured the rounds. Input: verdict.json files of gate runs with the same Lookout on both sides
 * (e.g. `npm run perf:gate -- --base HEAD --rounds 12 --confirm-rounds 0`). Each request kind and
 * percentile's per-round changes are first centred on their median, so the pooled rounds show no change
 * at all; the gate is then replayed on rounds drawn from them with replacement (the first rounds and,
 * when they leave a doubt, the confirming ones), through the same judge and doubt rule the gate uses.
 * For a regression, head's p95/p99 in every drawn round are raised by that factor.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { median } from '../support/statistics.ts';
import { doubts, type GateRules, gateRules, judge } from './perf/compare.ts';
import type { RunStats } from './perf/k6.ts';
import { loadConfig } from './perf/scenarios.ts';

const { values, positionals } = parseArgs({
  options: {
    trials: { type: 'string', default: '20000' },
    rounds: { type: 'string' },
    'confirm-rounds': { type: 'string' },
    'min-slower-share': { type: 'string' },
    help: { type: 'boolean' },
  },
  allowPositionals: true,
  strict: true,
});
if (values.help || positionals.length === 0) {
  process.stdout.write(
    'usage: npm run perf:gate:calibrate -- <verdict.json>… [--trials 20000] [--rounds 5] [--confirm-rounds 5]\n' +
      '       [--min-slower-share 0.8]   (the gate settings of loadtest/scenarios.json unless given)\n',
  );
  process.exit(values.help ? 0 : 2);
}

const config = loadConfig();
const settings = config.gate;
const firstRounds = Number(values.rounds ?? settings.rounds);
const confirmRounds = Number(values['confirm-rounds'] ?? settings.confirmRounds);
const trials = Number(values.trials);

interface PairedRound {
  readonly base: RunStats;
  readonly head: RunStats;
}
const pool: PairedRound[] = positionals.flatMap((path) => {
  const { rounds } = JSON.parse(readFileSync(path, 'utf8')) as {
    rounds: { base: RunStats[]; head: RunStats[] };
  };
  return rounds.base.map((base, i) => ({ base, head: rounds.head[i] as RunStats }));
});
const kinds = [...new Set(pool.flatMap((round) => Object.keys(round.head.kinds)))];
const configured = gateRules(config);
/** The gate's rules on the request kinds the rounds measured (runs from before a kind was added lack it). */
const rules: GateRules = {
  ...configured,
  compare: configured.compare.filter((kind) => kinds.includes(kind)),
  latencyMs: Object.fromEntries(
    Object.entries(configured.latencyMs).filter(([kind]) => kinds.includes(kind)),
  ),
  minSlowerShare: Number(values['min-slower-share'] ?? settings.minSlowerShare),
};
const percentiles = ['p95', 'p99'] as const;
type Percentile = (typeof percentiles)[number];

/** Per kind and percentile, the factor that brings the pool's median paired change to zero. */
const centring = Object.fromEntries(
  kinds.map((kind) => {
    const factors = percentiles.map((p) => {
      const ratios = pool.map(
        (round) => (round.head.kinds[kind]?.[p] ?? 0) / (round.base.kinds[kind]?.[p] ?? 0),
      );
      return [p, 1 / median(ratios)] as const;
    });
    return [kind, Object.fromEntries(factors) as Record<Percentile, number>];
  }),
);

/** Head of one pooled round with no change left, then slowed by `factor` where `slowed` says. */
function headOf(
  round: PairedRound,
  factor: number,
  slowed: (kind: string, p: Percentile) => boolean,
): RunStats {
  const scaled = Object.fromEntries(
    Object.entries(round.head.kinds).map(([kind, latency]) => {
      const scale = (p: Percentile) =>
        latency[p] * (centring[kind]?.[p] ?? 1) * (slowed(kind, p) ? factor : 1);
      return [kind, { ...latency, p95: scale('p95'), p99: scale('p99') }];
    }),
  );
  return { ...round.head, kinds: scaled };
}

function failRate(factor: number, slowed: (kind: string, p: Percentile) => boolean) {
  let failed = 0;
  let regressed = 0;
  let confirmed = 0;
  const draw = (count: number) =>
    Array.from({ length: count }, () => pool[Math.floor(Math.random() * pool.length)] as PairedRound);
  for (let trial = 0; trial < trials; trial++) {
    const rounds = draw(firstRounds);
    const judged = () =>
      judge(
        rounds.map((r) => r.base),
        rounds.map((r) => headOf(r, factor, slowed)),
        rules,
      );
    let verdict = judged();
    if (confirmRounds > 0 && doubts(verdict).length > 0) {
      confirmed++;
      rounds.push(...draw(confirmRounds));
      verdict = judged();
    }
    if (!verdict.passed) failed++;
    if (verdict.rows.some((row) => row.regressed)) regressed++;
  }
  const percent = (count: number) => `${((count / trials) * 100).toFixed(1)} %`;
  return (
    `fails ${percent(failed)}, ${percent(regressed)} on a regression (the rest on limits); ` +
    `more rounds run in ${percent(confirmed)}`
  );
}

process.stdout.write(
  `${pool.length} same-code rounds from ${positionals.length} run(s); rule: median change > ` +
    `+${settings.maxRegression * 100} % with head slower in ≥ ${rules.minSlowerShare * 100} % of rounds, ` +
    `or a median over its limit; ${firstRounds} rounds + ${confirmRounds} when in doubt; ${trials} trials each\n` +
    `compared: ${rules.compare.join(', ')}` +
    (rules.compare.length < configured.compare.length
      ? ' (the others were not measured in these rounds)'
      : '') +
    '\n',
);
const cases: [string, number, (kind: string, p: Percentile) => boolean][] = [
  ['no change', 1, () => false],
  ['every p95 +15 %', 1.15, (_, p) => p === 'p95'],
  ['every p99 +25 %', 1.25, (_, p) => p === 'p99'],
  ['every p99 +50 %', 1.5, (_, p) => p === 'p99'],
  ['everything +20 %', 1.2, () => true],
];
for (const [name, factor, slowed] of cases) process.stdout.write(`${name}: ${failRate(factor, slowed)}\n`);
