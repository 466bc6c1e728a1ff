import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  parseSloConfig,
  renderRules,
  rulesPath,
  SloConfigError,
  sloConfigPath,
} from '../../scripts/slo-rules.ts';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}
interface RulesFile {
  groups: { name: string; rules: Rule[] }[];
}

const rulesOf = (yaml: string): Rule[] =>
  (parse(renderRules(parseSloConfig(yaml))) as RulesFile).groups.flatMap((g) => g.rules);
const expr = (rules: Rule[], name: string) => {
  const rule = rules.find((r) => r.record === name);
  assert.ok(rule, `a rule records ${name}`);
  return rule.expr;
};
const alertExprs = (rules: Rule[], slo: string) =>
  rules.filter((r) => r.alert && r.labels?.slo === slo).map((r) => r.expr);

describe('SLO rules generator', () => {
  it('the checked-in rules are what monitoring/slo.yaml generates (run npm run monitoring:rules)', () => {
    const generated = renderRules(parseSloConfig(readFileSync(sloConfigPath, 'utf8')));
    assert.equal(readFileSync(rulesPath, 'utf8'), generated);
  });

  it('monitoring/slo.yaml spells out the defaults', () => {
    assert.deepEqual(parseSloConfig(readFileSync(sloConfigPath, 'utf8')), parseSloConfig(''));
  });

  it('rejects a latency threshold that is not a histogram bucket boundary, naming the boundaries', () => {
    assert.throws(
      () => parseSloConfig('latency: { thresholdSeconds: 0.15 }'),
      (error: unknown) => {
        assert.ok(error instanceof SloConfigError);
        assert.match(
          error.message,
          /latency\.thresholdSeconds: 0\.15 s is not a bucket boundary of mcp\.server\.operation\.duration/,
        );
        assert.match(error.message, /use one of 0\.0005, 0\.001, .*, 0\.1, 0\.2, .*, 300/);
        return true;
      },
    );
    assert.match(
      expr(rulesOf('latency: { thresholdSeconds: 0.25e-2 }'), 'lookout_slo:latency_slow_ratio:rate5m'),
      /le="0\.0025"/,
    );
  });

  it('matches a whole-second threshold however Prometheus writes le', () => {
    assert.match(
      expr(rulesOf('latency: { thresholdSeconds: 1 }'), 'lookout_slo:latency_slow_ratio:rate1h'),
      /le=~"1\(\\\\\.0\)\?"/,
    );
  });

  it('rejects objectives the fast page could never fire for, unknown keys and unknown error codes', () => {
    assert.throws(() => parseSloConfig('availability: { objective: 0.9 }'), /the fast page could never fire/);
    assert.throws(
      () => parseSloConfig('latency: { objectve: 0.95 }'),
      /latency: Unrecognized key: "objectve"/,
    );
    assert.throws(
      () => parseSloConfig('availability: { callerFaults: [Teapot] }'),
      /availability\.callerFaults\.0/,
    );
    assert.throws(
      () => parseSloConfig('latency: { methods: [notifications/progress] }'),
      /not a request method/,
    );
  });

  it('follows the objectives into the recorded constants, budgets and alert thresholds', () => {
    const defaults = rulesOf('');
    const stricter = rulesOf('availability: { objective: 0.9995 }\nlatency: { objective: 0.95 }');
    assert.equal(expr(defaults, 'lookout_slo:availability_objective'), 'vector(0.999)');
    assert.equal(expr(stricter, 'lookout_slo:availability_objective'), 'vector(0.9995)');
    assert.equal(expr(stricter, 'lookout_slo:latency_objective'), 'vector(0.95)');
    assert.equal(
      expr(stricter, 'lookout_slo:availability_error_budget_remaining'),
      '1 - lookout_slo:availability_error_ratio:rate30d / 0.0005',
    );
    assert.equal(
      expr(stricter, 'lookout_slo:latency_error_budget_remaining'),
      '1 - lookout_slo:latency_slow_ratio:rate30d / 0.05',
    );
    assert.match(alertExprs(defaults, 'availability')[0] ?? '', /rate1h > 14\.4 \* 0\.001\n/);
    assert.match(alertExprs(stricter, 'availability')[0] ?? '', /rate1h > 14\.4 \* 0\.0005\n/);
    assert.match(alertExprs(stricter, 'latency')[3] ?? '', /rate3d > 1 \* 0\.05\n/);
    // The ratios themselves do not depend on the objectives.
    assert.equal(
      expr(stricter, 'lookout_slo:availability_error_ratio:rate5m'),
      expr(defaults, 'lookout_slo:availability_error_ratio:rate5m'),
    );
  });

  it('counts tool errors and caller faults only when told to', () => {
    const ratio = (yaml: string) => expr(rulesOf(yaml), 'lookout_slo:availability_error_ratio:rate1h');
    assert.match(
      ratio(''),
      /error_type!~"-32001\|-32040\|-32041\|-32042\|-32600\|-32601\|-32602\|-32700\|tool_error"/,
    );
    assert.match(ratio('availability: { countToolErrors: true }'), /error_type!~"[^"]*-32700"/);
    assert.doesNotMatch(ratio('availability: { countToolErrors: true }'), /tool_error/);
    assert.match(
      ratio('availability: { callerFaults: [InvalidParams] }'),
      /error_type!~"-32602\|tool_error"/,
    );
    assert.doesNotMatch(ratio('availability: { shedReasons: [] }'), /lookout_admission_rejections_total/);
  });

  it('puts the selector and the method and tool filters in every ratio', () => {
    const rules = rulesOf(
      'selector: \'job="mcp", env="prod"\'\nlatency: { methods: [tools/call], excludeTools: [lookout.health, ask_user] }',
    );
    const latency = expr(rules, 'lookout_slo:latency_slow_ratio:rate30m');
    assert.equal(
      latency.match(
        /\{job="mcp", env="prod", mcp_method_name=~"tools\/call", gen_ai_tool_name!~"lookout\\\\\.health\|ask_user"/g,
      )?.length,
      3,
    );
    assert.throws(() => parseSloConfig("selector: 'job=lookout'"), /selector: must be PromQL label matchers/);
  });
});
