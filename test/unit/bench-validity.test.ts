import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eraSideName } from '../../bench/era-sides.ts';
import { generatorBounds, generatorFault } from '../../bench/harness/load.ts';
import {
  type Results,
  resultsTable,
  roundRatios,
  steadyWithin,
  unsteady,
  verdicts,
  verdictTable,
} from '../../bench/report.ts';
import {
  hasSettled,
  type LatencyResult,
  type Measured,
  type MeasuredAtRate,
  type PairedRatio,
  spread,
  type ThroughputRow,
} from '../../bench/scenarios.ts';

const heldRate = { scheduled: 30_000, requests: 30_000, dropped: 0, latenessP99Ms: 0.8, latenessMaxMs: 6 };

const atRate = (p99Ms: number, invalid?: string): MeasuredAtRate => ({
  ...heldRate,
  rps: 3000,
  p50Ms: 0.4,
  p99Ms,
  errors: 0,
  generatorCpuShare: 0.2,
  cpuUsPerRequest: 100,
  cpuShare: 0.3,
  ...(invalid !== undefined && { invalid }),
});

const latency = (load: MeasuredAtRate, floor: MeasuredAtRate): LatencyResult => ({
  target: 'lookout-default',
  maxRps: 6000,
  rate: 3000,
  seconds: 60,
  load,
  rssMb: 200,
  floor,
  sdkAlone: atRate(4),
  gc: {},
});

const statusOf = (results: Results, goal: string) => {
  const verdict = verdicts(results).find((v) => v.goal === goal);
  assert.ok(verdict, goal);
  const line = verdictTable([verdict]).split('\n').at(-1) ?? '';
  return { verdict, status: line.slice(line.lastIndexOf('|', line.length - 2) + 1, -1).trim() };
};

describe('a constant-rate run the generator could not hold is refused', () => {
  it('accepts a run that held its schedule', () => {
    assert.equal(generatorFault(heldRate), undefined);
  });

  it('names each way the generator failed', () => {
    assert.match(generatorFault({ ...heldRate, dropped: 510 }) ?? '', /dropped 510 of 30000 arrivals/);
    assert.match(
      generatorFault({ ...heldRate, latenessP99Ms: generatorBounds.latenessP99Ms + 0.5 }) ?? '',
      /1 % of arrivals more than 2\.50 ms late \(bound 2 ms\)/,
    );
    assert.match(
      generatorFault({ ...heldRate, latenessMaxMs: generatorBounds.latenessMaxMs + 1 }) ?? '',
      /an arrival 51\.0 ms late/,
    );
    assert.match(generatorFault({ ...heldRate, requests: 29_000 }) ?? '', /only 29000 of 30000/);
    assert.match(generatorFault({ ...heldRate, latenessP99Ms: Number.NaN }) ?? '', /late/);
  });

  it('reports a valid latency comparison, as shipped against the floor', () => {
    const { verdict, status } = statusOf(
      { latency: latency(atRate(5), atRate(3)) },
      "≤ 2× the floor's p99, 0 errors",
    );
    assert.equal(verdict.met, true);
    assert.equal(status, 'met');
    assert.match(verdict.target, /as shipped/);
    assert.match(verdict.measured, /1\.67× the floor's 3\.00 ms/);
  });

  for (const [which, results] of [
    [
      'as shipped',
      { latency: latency(atRate(5, 'the generator dropped 27058 of 199440 arrivals'), atRate(3)) },
    ],
    ['the floor', { latency: latency(atRate(5), atRate(3, 'the generator dropped 510 of 199440 arrivals')) }],
  ] as const) {
    it(`marks the target invalid, never met or missed, when ${which} was not held`, () => {
      const { verdict, status } = statusOf(results, "≤ 2× the floor's p99, 0 errors");
      assert.equal(verdict.met, undefined);
      assert.equal(status, 'INVALID');
      assert.match(verdict.measured, /^INVALID: .*dropped/);
      assert.doesNotMatch(verdict.measured, /× the floor/);
      const table = resultsTable(results, 32);
      const invalidRow = table.split('\n').find((line) => line.includes('INVALID, not reported'));
      assert.ok(invalidRow, table);
      assert.doesNotMatch(invalidRow, /\b5\.00\b|\b3\.00\b/, 'an invalid row shows no latency');
    });
  }
});

describe('the gateway hop is refused when the generator could not hold either side', () => {
  const gateway = (direct: MeasuredAtRate, viaLookout: MeasuredAtRate): Results => ({
    gateway: {
      rate: 200,
      seconds: 30,
      direct,
      viaLookout,
      addedP50Ms: viaLookout.p50Ms - direct.p50Ms,
      addedP99Ms: 1,
      lookoutRssMb: 200,
    },
  });
  const fast = (p50Ms: number, invalid?: string) => ({ ...atRate(3, invalid), p50Ms, cpuUsPerRequest: 250 });

  it('judges a held hop', () => {
    assert.equal(statusOf(gateway(fast(0.5), fast(0.8)), '≤ 0.4 ms and ≤ 300 µs').status, 'met');
  });

  for (const side of ['direct', 'through Lookout'] as const) {
    it(`marks it invalid when the ${side} run was not held`, () => {
      const late = 'the generator issued an arrival 80.0 ms late (bound 50 ms)';
      const results =
        side === 'direct' ? gateway(fast(0.5, late), fast(0.8)) : gateway(fast(0.5), fast(0.8, late));
      const { verdict, status } = statusOf(results, '≤ 0.4 ms and ≤ 300 µs');
      assert.equal(status, 'INVALID');
      assert.equal(verdict.met, undefined);
      assert.match(verdict.measured, new RegExp(`^INVALID: ${side}: .*80\\.0 ms late`));
    });
  }
});

const row = (name: string, rounds: number[], cpuUs: number[] = rounds.map(() => 100)): ThroughputRow => ({
  name,
  description: name,
  runs: rounds.map((rps, i) => ({
    requests: rps * 10,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    cpuUsPerRequest: cpuUs[i] ?? 100,
    cpuShare: 1,
  })),
  rps: rounds.toSorted((a, b) => a - b)[Math.floor(rounds.length / 2)] ?? 0,
  p50Ms: 1,
  p99Ms: 2,
  errors: 0,
  rssMb: 100,
  peakRssMb: 100,
  cpuUsPerRequest: cpuUs.toSorted((a, b) => a - b)[Math.floor(cpuUs.length / 2)] ?? 0,
  cpuShare: 1,
  rpsSpread: spread(rounds),
  cpuSpread: spread(cpuUs),
  warmUps: [],
});

describe('echo ratios count only over targets whose rounds agree', () => {
  it('measures the spread of the rounds', () => {
    assert.equal(spread([100]), 0);
    assert.equal(spread([90, 100, 110]), 0.2);
    assert.ok(Math.abs(spread([7563, 12_413]) - 4850 / 9988) < 1e-9);
  });

  it('gives the ratio of each round beside the median', () => {
    assert.equal(
      roundRatios(row('a', [9000, 9500, 9200]), row('b', [10_000, 10_000, 10_000])),
      '0.90×, 0.95×, 0.92×',
    );
  });

  it('counts a ratio whose rows are steady', () => {
    const results: Results = {
      throughput: [row('lookout-off', [10_000, 10_400, 10_200]), row('lookout-default', [9000, 9300, 9100])],
    };
    const { verdict, status } = statusOf(results, '≥ 0.85×');
    assert.equal(verdict.met, true);
    assert.equal(status, 'met');
    assert.match(verdict.measured, /per round 0\.90×, 0\.89×, 0\.89×/);
  });

  it("refuses a ratio over a target whose rounds differ by more than the bound (08364a5's lookout-off)", () => {
    const results: Results = {
      throughput: [row('lookout-off', [7563, 12_413]), row('lookout-default', [8714, 9692])],
    };
    const { verdict, status } = statusOf(results, '≥ 0.85×');
    assert.equal(verdict.met, undefined);
    assert.equal(status, 'INVALID');
    assert.match(verdict.measured, /lookout-off's rounds differ by 49 % in rps \(bound 10 %\)/);
    assert.match(resultsTable(results, 32), /7,563 \/ 12,413 \(49 %, UNSTEADY\)/);
  });

  it('judges the CPU-per-call target by the spread of CPU per request, not of rps', () => {
    const steadyCpu = [
      row('express-echo', [19_000, 15_000], [53, 54]),
      row('express-echo-otel', [9000, 9200], [111, 112]),
      row('lookout-off', [7563, 12_413], [106, 107]),
      row('lookout-full', [6900, 6300], [151, 150]),
    ];
    assert.equal(statusOf({ throughput: steadyCpu }, '≤ SDK alone + 10 µs').verdict.met, true);
    const unsteadyCpu = steadyCpu.map((r) =>
      r.name === 'lookout-full' ? row(r.name, [6900, 6300], [150, 180]) : r,
    );
    const { verdict, status } = statusOf({ throughput: unsteadyCpu }, '≤ SDK alone + 10 µs');
    assert.equal(status, 'INVALID');
    assert.match(verdict.invalid ?? '', /lookout-full's rounds differ by \d+ % in CPU per request/);
  });

  it('states its bound', () => {
    assert.equal(steadyWithin, 0.1);
    assert.equal(unsteady([row('a', [100, 105])], 'rpsSpread'), undefined);
    assert.match(unsteady([row('a', [100, 115])], 'rpsSpread') ?? '', /a's rounds differ by 14 %/);
  });
});

describe('a ratio measured in paired slices', () => {
  const slice = (rps: number): Measured => ({
    rps,
    requests: rps * 3,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    cpuUsPerRequest: 1e6 / rps,
    cpuShare: 1,
  });
  const paired = (
    name: string,
    base: string,
    pairs: [number, number][],
    cpu: [number, number] = [100, 100],
  ): PairedRatio => {
    const ratios = pairs.map(([a, b]) => a / b);
    const middle = (xs: number[]) => xs.toSorted((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    return {
      name,
      base,
      sameProcess: false,
      sliceSeconds: 3,
      pairs: pairs.map(([a, b]) => ({ target: slice(a), base: slice(b), ratio: a / b })),
      ratio: middle(ratios),
      spread: spread(ratios),
      cpuSpread: spread(pairs.map(([a, b]) => b / a)),
      cpuUsPerRequest: cpu[0],
      baseCpuUsPerRequest: cpu[1],
      errors: 0,
    };
  }; /** The era comparison: both sides served by one process. */
  const eraPair = (pairs: [number, number][]): PairedRatio => ({
    ...paired(eraSideName('lookout-full', 'modern'), eraSideName('lookout-full', 'legacy'), pairs),
    sameProcess: true,
  });

  const unsteadyRows = [
    row('lookout-full', [8606, 7550, 8323]),
    row('lookout-full-2026', [8725, 6954, 7377]),
  ];

  it('judges the target by its pairs, not by rows measured a minute apart', () => {
    const results: Results = {
      throughput: unsteadyRows,
      paired: [
        eraPair([
          [8100, 8000],
          [8300, 8250],
          [7900, 7800],
        ]),
      ],
    };
    const { verdict, status } = statusOf(results, '≥ 1.00×');
    assert.equal(status, 'met');
    assert.match(
      verdict.measured,
      /1\.01× in 3 pairs of 3 s slices in one process serving both, two fresh ones warming them up in either order \(per pair 1\.01×, 1\.01×, 1\.01×/,
    );
    assert.match(verdict.target, /2026-07-28/);
    const shipped = statusOf(
      {
        paired: [
          paired('lookout-default', 'lookout-off', [
            [8600, 10_000],
            [8700, 10_000],
          ]),
        ],
      },
      '≥ 0.85×',
    );
    assert.match(shipped.verdict.measured, /0\.8\d× in 2 pairs of 3 s slices on two pairs of processes/);
  });

  it('refuses pairs that disagree by more than the bound, and states a ratio below the goal as not met', () => {
    const disagree: Results = {
      paired: [
        eraPair([
          [8000, 8000],
          [7000, 8000],
          [8000, 8100],
        ]),
      ],
    };
    assert.equal(statusOf(disagree, '≥ 1.00×').status, 'INVALID');
    assert.match(
      statusOf(disagree, '≥ 1.00×').verdict.measured,
      /the pairs' ratios differ by 13 % \(bound 10 %\)/,
    );
    const below: Results = {
      paired: [
        eraPair([
          [7600, 8000],
          [7700, 8000],
          [7650, 8000],
        ]),
      ],
    };
    assert.equal(statusOf(below, '≥ 1.00×').status, 'NOT MET');
  });

  it("judges telemetry's CPU per call by two pairs, Lookout's and the SDK's, when both ran", () => {
    const steady: [number, number][] = [
      [8000, 16_000],
      [8100, 16_100],
      [8050, 16_050],
    ];
    const lookout = paired('lookout-full', 'lookout-off', steady, [120, 60]);
    const met: Results = {
      paired: [lookout, paired('express-echo-otel', 'express-echo', steady, [110, 60])],
    };
    const { verdict, status } = statusOf(met, '≤ SDK alone + 10 µs');
    assert.equal(status, 'met');
    assert.match(verdict.measured, /^60 vs 50 µs\/req \(\+10 µs\) in pairs of 3 s slices/);
    const missed: Results = {
      paired: [lookout, paired('express-echo-otel', 'express-echo', steady, [105, 60])],
    };
    assert.equal(statusOf(missed, '≤ SDK alone + 10 µs').status, 'NOT MET');
    const scattered = paired(
      'express-echo-otel',
      'express-echo',
      [
        [8000, 16_000],
        [7000, 16_000],
      ],
      [110, 60],
    );
    const invalid = statusOf({ paired: [lookout, scattered] }, '≤ SDK alone + 10 µs');
    assert.equal(invalid.status, 'INVALID');
    assert.match(
      invalid.verdict.measured,
      /express-echo-otel\/express-echo: the pairs' CPU ratios differ by 13 %/,
    );
  });
});

describe('the echo warm-up lasts until the server has settled', () => {
  // A fresh lookout-off under wrk, CPU µs per request in its first one-second slices.
  const freshProcess = [311, 153, 139, 88, 89, 79, 76, 71];

  it('is not settled while CPU per request still falls', () => {
    for (let n = 1; n <= 3; n++) assert.equal(hasSettled(freshProcess.slice(0, n), 1), false, `${n} s`);
  });

  it('is settled once two slices agree within 5 %, after the shortest warm-up', () => {
    assert.equal(hasSettled(freshProcess.slice(0, 5), 3), true);
    assert.equal(hasSettled(freshProcess.slice(0, 5), 6), false, 'not before the shortest warm-up');
    assert.equal(hasSettled([80, 90], 1), false, '12 % apart');
  });
});
