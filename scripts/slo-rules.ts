/**
 * Generates Lookout's SLO recording rules and multi-window, multi-burn-rate alerts from
 * monitoring/slo.yaml (`npm run monitoring:rules`). Metric and label names come from the naming
 * contract (src/telemetry/conventions.ts), error codes from the error catalog, so the rules cannot
 * drift from what Lookout exports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { JsonRpcCode } from '../src/errors/catalog.ts';
import { admissionRejections } from '../src/http/admission.ts';
import {
  attr,
  knownMethods,
  metricNames,
  operationDurationBuckets,
  values,
} from '../src/telemetry/conventions.ts';

export const sloConfigPath = fileURLToPath(new URL('../monitoring/slo.yaml', import.meta.url));
export const rulesPath = fileURLToPath(
  new URL('../monitoring/prometheus/rules/lookout-slo.rules.yml', import.meta.url),
);

/** OTel name → Prometheus name, the way the Prometheus exporter writes it. */
const prom = (otelName: string) => otelName.replace(/[^a-zA-Z0-9_:]/g, '_');

const operations = prom(metricNames.serverOperationDuration);
const operationCount = `${operations}_count`;
const operationBucket = `${operations}_bucket`;
const rejections = `${prom(metricNames.admissionRejections)}_total`;
const breakerState = prom(metricNames.upstreamBreakerState);
const upstreamRestarts = `${prom(metricNames.upstreamRestarts)}_total`;
const admissionQueued = prom(metricNames.admissionQueued);
const clientOperations = prom(metricNames.clientOperationDuration);
const cpuTime = `${prom(metricNames.processCpuTime)}_total`;
const label = {
  method: prom(attr.mcpMethodName),
  errorType: prom(attr.errorType),
  tool: prom(attr.genAiToolName),
  admissionReason: prom(attr.lookoutAdmissionReason),
};

/** Requests the server receives and answers: notifications have no reply, and these three go to the client. */
const clientSideRequests = new Set(['sampling/createMessage', 'elicitation/create', 'roots/list']);
const serverRequestMethods = [...knownMethods]
  .filter((m) => !m.startsWith('notifications/') && !clientSideRequests.has(m))
  .sort();

/** The ratio windows the dashboards read (fixed names), plus the compliance period when it differs. */
const standardWindows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const;
/** Windows up to this one are recomputed at every evaluation; longer ones once a minute. */
const lastShortWindow = '6h';

/**
 * The multi-window, multi-burn-rate policy: alert when both windows burn the budget faster than
 * `burnRate` times the rate that would spend it exactly over the compliance period. The short window
 * makes the alert stop soon after the burn does; `for` rides out a single bad scrape.
 */
const burnRatePolicy = [
  { severity: 'page', longWindow: '1h', shortWindow: '5m', burnRate: 14.4, for: '2m' },
  { severity: 'page', longWindow: '6h', shortWindow: '30m', burnRate: 6, for: '10m' },
  { severity: 'ticket', longWindow: '1d', shortWindow: '2h', burnRate: 3, for: '30m' },
  { severity: 'ticket', longWindow: '3d', shortWindow: '6h', burnRate: 1, for: '1h' },
] as const;
const fastestBurn = Math.max(...burnRatePolicy.map((p) => p.burnRate));

const labelMatcher = /^[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"$/;

const objective = z
  .number()
  .gt(0)
  .lt(1)
  .refine((o) => fastestBurn * (1 - o) < 1, {
    error: (issue) =>
      `${issue.input} leaves a budget of ${percent(1 - Number(issue.input))}: a ${fastestBurn}× burn would need more than 100% bad operations, so the fast page could never fire; use an objective above ${(1 - 1 / fastestBurn).toFixed(4)}`,
  });

const requestMethod = z.string().refine((m) => serverRequestMethods.includes(m), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a request method Lookout answers; use one of ${serverRequestMethods.join(', ')}`,
});

const sloSchema = z.strictObject({
  selector: z
    .string()
    .default('job="lookout"')
    .refine((s) => splitMatchers(s).every((m) => labelMatcher.test(m)), {
      error: 'must be PromQL label matchers separated by commas, e.g. job="lookout", env="prod"',
    }),
  compliancePeriod: z
    .string()
    .regex(/^[1-9]\d*d$/, { error: 'must be a whole number of days, e.g. 30d' })
    .default('30d'),
  availability: z
    .strictObject({
      objective: objective.default(0.999),
      methods: z.union([z.literal('all'), z.array(requestMethod).min(1)]).default('all'),
      callerFaults: z
        .array(z.enum(Object.keys(JsonRpcCode) as [keyof typeof JsonRpcCode]))
        .default([
          'ParseError',
          'InvalidRequest',
          'MethodNotFound',
          'InvalidParams',
          'SessionNotFound',
          'Unauthorized',
          'Forbidden',
          'RateLimited',
        ]),
      countToolErrors: z.boolean().default(false),
      shedReasons: z.array(z.enum(admissionRejections)).default(['queue_full', 'queue_timeout']),
    })
    .prefault({}),
  latency: z
    .strictObject({
      objective: objective.default(0.99),
      thresholdSeconds: z
        .number()
        .refine((t) => (operationDurationBuckets as readonly number[]).includes(t), {
          error: (issue) =>
            `${issue.input} s is not a bucket boundary of ${metricNames.serverOperationDuration}, so the share of slower operations cannot be read from its histogram; use one of ${operationDurationBuckets.join(', ')} (operationDurationBuckets in src/telemetry/conventions.ts)`,
        })
        .default(0.1),
      methods: z
        .array(requestMethod)
        .min(1)
        .default([
          'initialize',
          'ping',
          'tools/list',
          'tools/call',
          'prompts/list',
          'prompts/get',
          'resources/list',
          'resources/templates/list',
          'resources/read',
          'resources/subscribe',
          'resources/unsubscribe',
          'completion/complete',
          'logging/setLevel',
        ]),
      excludeTools: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
});

export type SloConfig = z.output<typeof sloSchema>;

export class SloConfigError extends Error {
  constructor(source: string, problems: string[]) {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SloConfigError';
  }
}

/** Parses and validates slo.yaml's text; every missing key takes its documented default. */
export function parseSloConfig(text: string, source = 'monitoring/slo.yaml'): SloConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new SloConfigError(source, [(error as Error).message]);
  }
  const result = sloSchema.safeParse(raw);
  if (!result.success) {
    throw new SloConfigError(
      source,
      result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`),
    );
  }
  return result.data;
}

function splitMatchers(selector: string): string[] {
  // Commas inside quoted values do not separate matchers.
  return (selector.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []).map((m) => m.trim()).filter(Boolean);
}

/** A PromQL double-quoted string holding a regex that matches exactly these values. */
function anyOf(items: readonly string[]): string {
  return JSON.stringify(items.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
}

/** Up to 12 significant digits: 1 - 0.999 is 0.001 here, not 0.0010000000000000009. */
function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

function percent(ratio: number): string {
  return `${num(ratio * 100)}%`;
}

function days(window: string): number {
  const n = Number.parseInt(window, 10);
  return window.endsWith('d') ? n : window.endsWith('h') ? n / 24 : n / 1440;
}

/** A duration in the largest whole units, e.g. 50 h → "2d 2h". */
function humanDays(d: number): string {
  const hours = Math.round(d * 24);
  const whole = Math.floor(hours / 24);
  const rest = hours % 24;
  return [whole > 0 ? `${whole}d` : '', rest > 0 ? `${rest}h` : ''].filter(Boolean).join(' ');
}

/**
 * The `le` matcher of a bucket boundary. Prometheus 2 keeps the exporter's text ("1"), Prometheus 3
 * normalises whole numbers to "1.0"; either matches.
 */
function leMatcher(threshold: number): string {
  return Number.isInteger(threshold) ? `le=~"${threshold}(\\\\.0)?"` : `le="${threshold}"`;
}

const sum = (metric: string, matchers: string[], window: string) =>
  `sum(rate(${metric}{${matchers.join(', ')}}[${window}]))`;

interface Sli {
  slo: 'availability' | 'latency';
  ratioName: string;
  objective: number;
  ratioExpr(window: string): string;
}

function availabilitySli(config: SloConfig): Sli {
  const { availability } = config;
  const base = [config.selector.trim()];
  if (availability.methods !== 'all') base.push(`${label.method}=~${anyOf(availability.methods)}`);
  const notBad = [...new Set(availability.callerFaults.map((name) => String(JsonRpcCode[name])))].sort();
  if (!availability.countToolErrors) notBad.push(values.toolError);
  const bad = [...base, `${label.errorType}!=""`];
  if (notBad.length > 0) bad.push(`${label.errorType}!~${anyOf(notBad)}`);
  const shed = [config.selector.trim(), `${label.admissionReason}=~${anyOf(availability.shedReasons)}`];
  return {
    slo: 'availability',
    ratioName: 'availability_error_ratio',
    objective: availability.objective,
    ratioExpr(window) {
      // `or vector(0)`: series with an error_type only exist after the first error, and a ratio of
      // 0 is the truth then. `> 0` on the denominator: no traffic gives no ratio, not NaN.
      const term = (metric: string, matchers: string[]) => `(${sum(metric, matchers, window)} or vector(0))`;
      const failed = [term(operationCount, bad)];
      const all = [term(operationCount, base)];
      if (availability.shedReasons.length > 0) {
        failed.push(term(rejections, shed));
        all.push(term(rejections, shed));
      }
      return `(\n  ${failed.join('\n  + ')}\n)\n/\n(\n  (\n    ${all.join('\n    + ')}\n  ) > 0\n)\n`;
    },
  };
}

function latencySli(config: SloConfig): Sli {
  const { latency } = config;
  const counted = [config.selector.trim(), `${label.method}=~${anyOf(latency.methods)}`];
  if (latency.excludeTools.length > 0) counted.push(`${label.tool}!~${anyOf(latency.excludeTools)}`);
  return {
    slo: 'latency',
    ratioName: 'latency_slow_ratio',
    objective: latency.objective,
    ratioExpr(window) {
      const all = sum(operationCount, counted, window);
      const fast = sum(operationBucket, [...counted, leMatcher(latency.thresholdSeconds)], window);
      return `(\n  ${all}\n  - ${fast}\n)\n/\n(\n  ${all} > 0\n)\n`;
    },
  };
}

const recordName = (sli: Sli, window: string) => `lookout_slo:${sli.ratioName}:rate${window}`;
const alertName = (sli: Sli, severity: string) =>
  `Lookout${sli.slo[0]?.toUpperCase()}${sli.slo.slice(1)}BurnRate${severity[0]?.toUpperCase()}${severity.slice(1)}`;

function runbook(sli: Sli, selector: string): string {
  if (sli.slo === 'availability') {
    return `Open the Lookout SLO dashboard. Break the failures down with sum by (${label.errorType}, ${label.method}, ${label.tool}) (rate(${operationCount}{${selector}, ${label.errorType}!=""}[1h])). -32010/-32011 point at an upstream (${breakerState}, ${upstreamRestarts}); -32002 and shed requests at overload (${rejections}, ${admissionQueued}); -32603 at a bug: find the traces with that error.type in Jaeger and the log lines with their trace_id.`;
  }
  return `Open the Lookout SLO dashboard. Find the slow method or tool with histogram_quantile(0.99, sum by (le, ${label.method}, ${label.tool}) (rate(${operationBucket}{${selector}}[1h]))). Then look for queueing (${admissionQueued}), a slow upstream (${clientOperations} by ${prom(attr.lookoutUpstream)}), a busy event loop (nodejs_eventloop_delay_p99) or CPU (${cpuTime}); slow traces are kept by tail sampling, so Jaeger has examples.`;
}

function alerts(sli: Sli, config: SloConfig) {
  const budget = 1 - sli.objective;
  const what =
    sli.slo === 'availability'
      ? "of MCP operations failed by Lookout's fault"
      : `of MCP operations took longer than ${config.latency.thresholdSeconds} s`;
  return burnRatePolicy.map((p) => {
    const threshold = `${num(p.burnRate)} * ${num(budget)}`;
    const exhaustion = humanDays(days(config.compliancePeriod) / p.burnRate);
    const spent = percent((p.burnRate * days(p.longWindow)) / days(config.compliancePeriod));
    return {
      alert: alertName(sli, p.severity),
      expr: `${recordName(sli, p.longWindow)} > ${threshold}\nand\n${recordName(sli, p.shortWindow)} > ${threshold}\n`,
      for: p.for,
      labels: { severity: p.severity, slo: sli.slo, long_window: p.longWindow, short_window: p.shortWindow },
      annotations: {
        summary: `Lookout ${sli.slo} SLO: error budget burning at ${num(p.burnRate)}× the sustainable rate over ${p.longWindow} and ${p.shortWindow}`,
        description: `{{ $value | humanizePercentage }} ${what} over the last ${p.longWindow}, and more than ${percent(p.burnRate * budget)} over the last ${p.shortWindow}: ${num(p.burnRate)}× the ${percent(budget)} the ${percent(sli.objective)} objective allows. At least ${spent} of the ${config.compliancePeriod} error budget is spent; at this rate a whole budget lasts ${exhaustion}.`,
        runbook: runbook(sli, config.selector.trim()),
      },
    };
  });
}

/** The rules file's text for a validated SLO config. */
export function renderRules(config: SloConfig): string {
  const slis = [availabilitySli(config), latencySli(config)];
  const windows: string[] = [...standardWindows];
  if (!windows.includes(config.compliancePeriod)) windows.push(config.compliancePeriod);
  const shortWindows = windows.filter((w) => days(w) <= days(lastShortWindow));
  const longWindows = windows.filter((w) => days(w) > days(lastShortWindow));
  const ratios = (ws: string[]) =>
    slis.flatMap((sli) => ws.map((w) => ({ record: recordName(sli, w), expr: sli.ratioExpr(w) })));
  const groups = [
    {
      name: 'lookout-slo-objectives',
      rules: [
        {
          record: 'lookout_slo:availability_objective',
          expr: `vector(${num(config.availability.objective)})`,
        },
        { record: 'lookout_slo:latency_objective', expr: `vector(${num(config.latency.objective)})` },
        {
          record: 'lookout_slo:latency_threshold_seconds',
          expr: `vector(${num(config.latency.thresholdSeconds)})`,
        },
      ],
    },
    { name: 'lookout-slo-ratios-short', rules: ratios(shortWindows) },
    {
      // Days of raw samples per evaluation: once a minute is plenty for windows this long.
      name: 'lookout-slo-ratios-long',
      interval: '1m',
      rules: [
        ...ratios(longWindows),
        ...slis.map((sli) => ({
          record: `lookout_slo:${sli.slo}_error_budget_remaining`,
          expr: `1 - ${recordName(sli, config.compliancePeriod)} / ${num(1 - sli.objective)}`,
        })),
      ],
    },
    { name: 'lookout-slo-alerts', rules: slis.flatMap((sli) => alerts(sli, config)) },
  ];
  const header = [
    '# Generated by scripts/slo-rules.ts from monitoring/slo.yaml (npm run monitoring:rules): do not edit.',
    `# Availability: bad = ${label.errorType} set and not a caller fault (${config.availability.callerFaults.join(', ')})${config.availability.countToolErrors ? '' : ` nor ${values.toolError}`}.`,
    `# Latency: slow = longer than ${config.latency.thresholdSeconds} s, for ${config.latency.methods.join(', ')}.`,
    '',
  ].join('\n');
  return header + toYaml({ groups }, { lineWidth: 0 });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    writeFileSync(rulesPath, renderRules(parseSloConfig(readFileSync(sloConfigPath, 'utf8'))));
    console.log(`wrote ${rulesPath}`);
  } catch (error) {
    console.error(error instanceof SloConfigError ? error.message : error);
    process.exitCode = 1;
  }
}
