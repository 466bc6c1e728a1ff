/** The perf gate's verdict (scripts/perf/compare.ts) on made-up rounds. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doubts, type GateRules, judge, renderReport } from '../../scripts/perf/compare.ts';
import type { RunStats } from '../../scripts/perf/k6.ts';
import { median } from '../../support/statistics.ts';

const rules: GateRules = {
  compare: ['call_echo', 'call_gateway'],
  maxRegression: 0.1,
  minSlowerShare: 0.8,
  latencyMs: { call_echo: { p95: 10, p99: 25 }, call_gateway: { p95: 15, p99: 30 } },
  maxFailedRate: 0.001,
  minChecksRate: 0.999,
};

function round(echo: [number, number], gateway: [number, number], failed = 0): RunStats {
  return {
    kinds: {
      call_echo: { count: 4000, p95: echo[0], p99: echo[1] },
      call_gateway: { count: 4000, p95: gateway[0], p99: gateway[1] },
    },
    requests: 8000,
    failedRequests: failed,
    checksPassed: 8000 - failed,
    checksFailed: failed,
    droppedIterations: 0,
    thresholdsOk: true,
  };
}

const baseEchoP95 = [2, 2.1, 1.9];
const base = [round([2, 4], [3, 6]), round([2.1, 4.2], [3.1, 6.2]), round([1.9, 3.8], [2.9, 5.8])];

describe('perf gate verdict', () => {
  it('takes the median of the rounds', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it('passes a head equal to base', () => {
    const verdict = judge(base, base, rules);
    assert.equal(verdict.passed, true, verdict.failures.join('\n'));
    assert.equal(verdict.rows.length, 4);
  });

  it('passes exactly +10 % and fails just above it', () => {
    const plus10 = baseEchoP95.map((p95) => round([p95 * 1.1, 4], [3, 6]));
    assert.equal(judge(base, plus10, rules).passed, true);
    const plus11 = baseEchoP95.map((p95) => round([p95 * 1.11, 4], [3, 6]));
    const verdict = judge(base, plus11, rules);
    assert.equal(verdict.passed, false);
    assert.deepEqual(verdict.failures, [
      'call_echo p95: head 2.22 ms vs base 2.00 ms, median change +11.0 % > +10.0 %, slower in 3 of 3 rounds',
    ]);
  });

  it('does not let one slow round decide', () => {
    const head = [round([2, 4], [3, 6]), round([9, 20], [14, 29]), round([2, 4], [3, 6])];
    assert.equal(judge(base, head, rules).passed, true);
  });

  it('compares within rounds, so a round slowed for both sides does not move the change', () => {
    const busy = (factor: number) => round([2 * factor, 4 * factor], [3 * factor, 6 * factor]);
    const baseRounds = [busy(1), busy(4), busy(1)];
    const headRounds = [busy(1.05), busy(4 * 1.05), busy(1.05)];
    const verdict = judge(baseRounds, headRounds, { ...rules, latencyMs: {} });
    assert.equal(verdict.passed, true, verdict.failures.join('\n'));
    for (const row of verdict.rows)
      assert.ok(Math.abs(row.change - 0.05) < 1e-9, `${row.kind} ${row.change}`);
  });

  it('fails a head over an absolute threshold even when base is as slow', () => {
    const slow = [round([12, 20], [3, 6]), round([12, 20], [3, 6])];
    const verdict = judge(slow, slow, rules);
    assert.equal(verdict.passed, false);
    assert.deepEqual(verdict.failures, ['call_echo p95: head 12.00 ms ≥ limit 10 ms']);
  });

  it('fails on failed requests and failed checks', () => {
    const failing = base.map((r) => ({ ...r, failedRequests: 10, checksFailed: 10, checksPassed: 7990 }));
    const verdict = judge(base, failing, rules);
    assert.equal(verdict.passed, false);
    assert.equal(verdict.failures.length, 2);
    assert.match(verdict.failures[0] ?? '', /head failed 0\.1 % of requests/);
    assert.match(verdict.failures[1] ?? '', /head passed 99\.9 % of checks/);
  });

  it('fails when head measured nothing for a compared kind', () => {
    const empty = baseEchoP95.map((p95) => ({
      ...round([p95, 4], [3, 6]),
      kinds: { call_echo: { count: 4000, p95, p99: 4 } },
    }));
    const verdict = judge(base, empty, rules);
    assert.equal(verdict.passed, false);
    assert.ok(verdict.failures.some((f) => f.startsWith('call_gateway: head measured no p95')));
  });

  it('needs head slower in enough rounds to call a change over the limit a regression', () => {
    const fiveBase = [...base, base[0], base[1]] as RunStats[];
    const echoP99 = (changes: number[]) =>
      fiveBase.map((r, i) =>
        round([r.kinds.call_echo?.p95 ?? 0, (r.kinds.call_echo?.p99 ?? 0) * (1 + (changes[i] ?? 0))], [3, 6]),
      );
    // Median +20 %, slower in 3 of 5 rounds: 60 % < 80 %.
    const mixed = judge(fiveBase, echoP99([0.2, 0.3, 0.25, -0.2, -0.1]), rules);
    assert.equal(mixed.passed, true, mixed.failures.join('\n'));
    const row = mixed.rows.find((r) => r.kind === 'call_echo' && r.percentile === 'p99');
    assert.equal(row?.overRegression, true);
    assert.equal(row?.slowerRounds, 3);
    assert.equal(row?.regressed, false);
    // Slower in 4 of 5 (80 %): a regression.
    const consistent = judge(fiveBase, echoP99([0.2, 0.3, 0.25, 0.05, -0.1]), rules);
    assert.deepEqual(consistent.failures, [
      'call_echo p99: head 4.75 ms vs base 4.00 ms, median change +20.0 % > +10.0 %, slower in 4 of 5 rounds',
    ]);
  });

  it('is in doubt over a change or a limit crossed, not over failed requests', () => {
    const slowerIn2of3 = baseEchoP95.map((p95, i) => round([p95 * (i === 2 ? 0.9 : 1.5), 4], [3, 6]));
    const verdict = judge(base, slowerIn2of3, rules);
    assert.equal(verdict.passed, true);
    assert.deepEqual(doubts(verdict), ['call_echo p95 +50.0 %, slower in 2 of 3 rounds']);
    const overLimit = [round([12, 20], [3, 6]), round([12, 20], [3, 6])];
    assert.deepEqual(doubts(judge(overLimit, overLimit, rules)), ['call_echo p95 12.00 ms ≥ limit 10 ms']);
    assert.deepEqual(doubts(judge(base, base, rules)), []);
    const failing = slowerIn2of3.map((r) => ({ ...r, failedRequests: 10 }));
    assert.deepEqual(doubts(judge(base, failing, rules)), []);
  });

  it('says when the verdict is on rounds added to settle a doubt', () => {
    const context = {
      baseLabel: 'main (abc)',
      headLabel: 'working tree',
      scenario: 'gate',
      rounds: 6,
      interleaving: 'interleaved by request',
      scenarioLine: '200 iterations/s',
      machineLine: 'Machine: test.',
    };
    const verdict = judge([...base, ...base], [...base, ...base], rules);
    const confirmed = renderReport(verdict, rules, {
      ...context,
      confirmation: { rounds: 3, doubts: ['call_echo p99 +12.0 %, slower in 2 of 3 rounds'] },
    });
    assert.match(
      confirmed,
      /The first 3 rounds were in doubt \(call_echo p99 \+12\.0 %, slower in 2 of 3 rounds\), so 3 more were run; the verdict below is on all 6\./,
    );
    assert.doesNotMatch(renderReport(verdict, rules, context), /The first/);
  });

  it('reports the comparison as Markdown', () => {
    const slower = baseEchoP95.map((p95) => round([p95 * 1.5, 4], [3, 6]));
    const report = renderReport(judge(base, slower, rules), rules, {
      baseLabel: 'main (abc)',
      headLabel: 'working tree',
      scenario: 'gate',
      rounds: 3,
      interleaving: 'interleaved by request',
      scenarioLine: '200 iterations/s',
      machineLine: 'Machine: test.',
    });
    assert.match(report, /^## Perf gate: FAILED/);
    assert.match(
      report,
      /\| call_echo \| p95 \| 2\.00 \| 3\.00 \| \+50\.0 % \| \+50\.0 \+50\.0 \+50\.0 \| 3\/3 \| 10 \| \*\*FAIL\*\* \|/,
    );
    assert.match(report, /### Why it failed\n\n- call_echo p95/);
  });
});
