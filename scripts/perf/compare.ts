/**
 * The perf gate's verdict, as pure functions of the rounds' statistics. Each round measured base and
 * head under the same conditions, so a round gives one paired change (head / base − 1) per request kind
 * and percentile. Head regresses on a p95/p99 when the median of those changes exceeds the allowed
 * regression and head was slower in most rounds (a share set in the rules): one round's p99 moves a lot
 * with the garbage collections that happen to fall into it, so a median over a few rounds crosses the
 * allowed regression by chance far more often than head turns out slower round after round
 * (docs/load-tests-and-perf-gate.md has the calibration). Head also fails
 * when the median across rounds of its p95/p99 crosses an absolute threshold, or when its error or check
 * rates do.
 */

import { median } from '../../support/statistics.ts';
import type { RunStats } from './k6.ts';
import { type LatencyLimits, type LoadtestConfig, scenarioNamed } from './scenarios.ts';

export interface GateRules {
  readonly compare: readonly string[];
  readonly maxRegression: number;
  /** Share of the rounds in which head must be slower for a change over maxRegression to count. */
  readonly minSlowerShare: number;
  readonly latencyMs: Readonly<Record<string, LatencyLimits>>;
  readonly maxFailedRate: number;
  readonly minChecksRate: number;
}

/** The gate's rules as loadtest/scenarios.json sets them. */
export function gateRules(config: LoadtestConfig): GateRules {
  const settings = config.gate;
  return {
    compare: settings.compare,
    maxRegression: settings.maxRegression,
    minSlowerShare: settings.minSlowerShare,
    latencyMs: scenarioNamed(config, settings.scenario).latencyMs,
    maxFailedRate: config.maxFailedRate,
    minChecksRate: config.minChecksRate,
  };
}

export type Percentile = 'p95' | 'p99';

export interface LatencyRow {
  readonly kind: string;
  readonly percentile: Percentile;
  readonly base: number;
  readonly head: number;
  /** Median of the rounds' changes. */
  readonly change: number;
  /** Each round's head / base − 1: how much the measurement moves between rounds. */
  readonly roundChanges: readonly number[];
  /** Rounds in which head was slower than base. */
  readonly slowerRounds: number;
  readonly limit: number | undefined;
  /** A compared row whose median change exceeds the allowed regression. */
  readonly overRegression: boolean;
  /** Over the allowed regression and slower in enough rounds: a failure. */
  readonly regressed: boolean;
  readonly overLimit: boolean;
}

export interface Rates {
  readonly requests: number;
  readonly failedRate: number;
  readonly checksRate: number;
  readonly droppedIterations: number;
}

export interface GateVerdict {
  readonly passed: boolean;
  readonly rows: readonly LatencyRow[];
  readonly base: Rates;
  readonly head: Rates;
  /** One line per reason head fails. */
  readonly failures: readonly string[];
  /** Head's error and check rates are within their limits. */
  readonly ratesOk: boolean;
}

function rates(rounds: readonly RunStats[]): Rates {
  const sum = (pick: (round: RunStats) => number) => rounds.reduce((total, round) => total + pick(round), 0);
  const requests = sum((r) => r.requests);
  const checks = sum((r) => r.checksPassed + r.checksFailed);
  return {
    requests,
    failedRate: requests === 0 ? 1 : sum((r) => r.failedRequests) / requests,
    checksRate: checks === 0 ? 0 : sum((r) => r.checksPassed) / checks,
    droppedIterations: sum((r) => r.droppedIterations),
  };
}

const percent = (fraction: number) => (Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : '–');
const signed = (fraction: number) =>
  Number.isFinite(fraction) && fraction >= 0 ? `+${percent(fraction)}` : percent(fraction);

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');

export function judge(base: readonly RunStats[], head: readonly RunStats[], rules: GateRules): GateVerdict {
  const failures: string[] = [];
  const rows: LatencyRow[] = [];
  const kinds = [...new Set([...rules.compare, ...Object.keys(rules.latencyMs)])];
  for (const kind of kinds) {
    for (const percentile of ['p95', 'p99'] as const) {
      const of = (rounds: readonly RunStats[]) =>
        rounds.map((round) => round.kinds[kind]?.[percentile] ?? Number.NaN);
      const baseValues = of(base);
      const headValues = of(head);
      if (headValues.some((v) => !Number.isFinite(v)))
        failures.push(`${kind}: head measured no ${percentile} in some rounds`);
      const baseMedian = median(baseValues.filter(Number.isFinite));
      const headMedian = median(headValues.filter(Number.isFinite));
      const roundChanges = headValues
        .map((h, i) => h / (baseValues[i] ?? Number.NaN) - 1)
        .filter(Number.isFinite);
      const change = median(roundChanges);
      const slowerRounds = roundChanges.filter((c) => c > 0).length;
      const limit = rules.latencyMs[kind]?.[percentile];
      const compared = rules.compare.includes(kind);
      // k6 thresholds read `p(95)<limit`: reaching the limit crosses it.
      const overLimit = limit !== undefined && !(headMedian < limit);
      // The tolerance keeps exactly +10 % from failing on a rounding error of the division.
      const overRegression = compared && !(change <= rules.maxRegression + 1e-9);
      const regressed =
        overRegression && slowerRounds >= Math.ceil(rules.minSlowerShare * roundChanges.length - 1e-9);
      if (overLimit)
        failures.push(`${kind} ${percentile}: head ${headMedian.toFixed(2)} ms ≥ limit ${limit} ms`);
      if (regressed) {
        failures.push(
          `${kind} ${percentile}: head ${headMedian.toFixed(2)} ms vs base ${baseMedian.toFixed(2)} ms, ` +
            `median change ${signed(change)} > +${percent(rules.maxRegression)}, ` +
            `slower in ${slowerRounds} of ${roundChanges.length} rounds`,
        );
      }
      rows.push({
        kind,
        percentile,
        base: baseMedian,
        head: headMedian,
        change,
        roundChanges,
        slowerRounds,
        limit,
        overRegression,
        regressed,
        overLimit,
      });
    }
  }
  const baseRates = rates(base);
  const headRates = rates(head);
  const latencyFailures = failures.length;
  if (!(headRates.failedRate < rules.maxFailedRate)) {
    failures.push(
      `head failed ${percent(headRates.failedRate)} of requests (limit < ${percent(rules.maxFailedRate)})`,
    );
  }
  if (!(headRates.checksRate >= rules.minChecksRate)) {
    failures.push(
      `head passed ${percent(headRates.checksRate)} of checks (limit ≥ ${percent(rules.minChecksRate)})`,
    );
  }
  return {
    passed: failures.length === 0,
    rows,
    base: baseRates,
    head: headRates,
    failures,
    ratesOk: failures.length === latencyFailures,
  };
}

/**
 * What more rounds could settle, one line each: with error and check rates fine, every p95/p99 that
 * crosses its limit or changes by more than the allowed regression (in enough rounds or not). Empty
 * when the verdict stands as it is.
 */
export function doubts(verdict: GateVerdict): string[] {
  if (!verdict.ratesOk) return [];
  return verdict.rows.flatMap((row) => [
    ...(row.overLimit ? [`${row.kind} ${row.percentile} ${ms(row.head)} ms ≥ limit ${row.limit} ms`] : []),
    ...(row.overRegression
      ? [
          `${row.kind} ${row.percentile} ${signed(row.change)}, ` +
            `slower in ${row.slowerRounds} of ${row.roundChanges.length} rounds`,
        ]
      : []),
  ]);
}

export interface ReportContext {
  readonly baseLabel: string;
  readonly headLabel: string;
  readonly scenario: string;
  /** All rounds measured. */
  readonly rounds: number;
  /** Set when the first rounds were in doubt and more were run. */
  readonly confirmation?: { readonly rounds: number; readonly doubts: readonly string[] };
  /** How base and head were interleaved, as a phrase. */
  readonly interleaving: string;
  readonly scenarioLine: string;
  readonly machineLine: string;
}

/** The comparison as Markdown, for the job summary and the output directory. */
export function renderReport(verdict: GateVerdict, rules: GateRules, context: ReportContext): string {
  const lines = [
    `## Perf gate: ${verdict.passed ? 'passed' : 'FAILED'}`,
    '',
    `Head \`${context.headLabel}\` against base \`${context.baseLabel}\`: scenario \`${context.scenario}\` ` +
      `(${context.scenarioLine}), ${context.rounds} rounds with fresh processes, ${context.interleaving}. ` +
      "Base and head ms are medians across rounds; change is the median of the rounds' own changes " +
      `(head / base − 1, listed per round). Head fails when a compared change exceeds ` +
      `+${(rules.maxRegression * 100).toFixed(0)} % with head slower in at least ` +
      `${(rules.minSlowerShare * 100).toFixed(0)} % of the rounds, or when a median crosses its limit.`,
    '',
    ...(context.confirmation
      ? [
          `The first ${context.confirmation.rounds} rounds were in doubt (${context.confirmation.doubts.join('; ')}), ` +
            `so ${context.rounds - context.confirmation.rounds} more were run; the verdict below is on all ${context.rounds}.`,
          '',
        ]
      : []),
    '| request kind | percentile | base ms | head ms | change | per round | slower in | limit ms | verdict |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of verdict.rows) {
    const verdictCell =
      row.overLimit || row.regressed
        ? '**FAIL**'
        : rules.compare.includes(row.kind)
          ? 'ok'
          : 'ok (limit only)';
    lines.push(
      `| ${row.kind} | ${row.percentile} | ${ms(row.base)} | ${ms(row.head)} | ${signed(row.change)} | ` +
        `${row.roundChanges.map((c) => signed(c).replace(' %', '')).join(' ')} | ` +
        `${row.slowerRounds}/${row.roundChanges.length} | ${row.limit ?? '–'} | ${verdictCell} |`,
    );
  }
  const ratesLine = (name: string, r: Rates) =>
    `| ${name} | ${r.requests} | ${(r.failedRate * 100).toFixed(3)} % | ${(r.checksRate * 100).toFixed(3)} % | ${r.droppedIterations} |`;
  lines.push(
    '',
    '| side | requests | failed | checks passed | dropped iterations |',
    '| --- | ---: | ---: | ---: | ---: |',
    ratesLine('base', verdict.base),
    ratesLine('head', verdict.head),
    '',
    context.machineLine,
  );
  if (verdict.failures.length > 0) {
    lines.push('', '### Why it failed', '', ...verdict.failures.map((failure) => `- ${failure}`));
  }
  return `${lines.join('\n')}\n`;
}
