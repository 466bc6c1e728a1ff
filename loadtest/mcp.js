// k6 script: the MCP flow against Lookout over Streamable HTTP. Each virtual user opens its own
// session (initialize → notifications/initialized → tools/list), then every iteration calls `echo`
// and a gateway tool: the same upstream's, over stdio and over HTTP in turn. The echo call alternates
// between the two protocol eras: 2025-11-25 in the session (`call_echo`), and 2026-07-28, stateless,
// its version and capabilities in the request's `_meta` (`call_echo_modern`). Scenario parameters and
// thresholds come from scenarios.json; run it with
// `npm run loadtest -- --scenario <name>`, or by hand:
//   k6 run -e SCENARIO=smoke -e URL=http://127.0.0.1:8787/mcp loadtest/mcp.js
// -e variables: SCENARIO, URL, or TARGETS=base=<url>,head=<url> for an A/B run in which every
// iteration makes the same calls on each target in alternating order (the perf gate), GATEWAY_TOOL
// and GATEWAY_HTTP_TOOL ('' leaves that call out), SUMMARY_DIR, SUMMARY_NAME, and overrides DURATION (total; ramping stages are
// scaled to it) and RATE (iterations/s; ramping targets are scaled so that the peak is RATE).
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';

const config = JSON.parse(open('./scenarios.json'));
const scenarioName = __ENV.SCENARIO || 'smoke';
const scenario = config.scenarios[scenarioName];
if (!scenario) {
  throw new Error(`unknown scenario "${scenarioName}"; known: ${Object.keys(config.scenarios).join(', ')}`);
}
/** The gateway tools, by request kind: each iteration calls one of them, in turn. */
const gatewayCalls = [
  { kind: 'call_gateway', tool: __ENV.GATEWAY_TOOL ?? config.gatewayTool },
  { kind: 'call_gateway_http', tool: __ENV.GATEWAY_HTTP_TOOL ?? config.gatewayHttpTool },
].filter((call) => call.tool);
const echoText = config.echoText;
const protocolVersion = '2025-11-25';
const modernVersion = '2026-07-28';
/** The request kinds, as the `kind` tag on every request and check (thresholds select on it). */
const kinds = [
  'initialize',
  'initialized',
  'tools_list',
  'call_echo',
  'call_echo_modern',
  'call_gateway',
  'call_gateway_http',
];

/** Named MCP endpoints: one (`lookout`) from URL, or several from TARGETS. */
function parseTargets() {
  if (!__ENV.TARGETS) return [{ name: 'lookout', url: __ENV.URL || 'http://127.0.0.1:8787/mcp' }];
  return __ENV.TARGETS.split(',').map((entry) => {
    const at = entry.indexOf('=');
    if (at < 1) throw new Error(`TARGETS entry "${entry}" is not name=url`);
    return { name: entry.slice(0, at), url: entry.slice(at + 1) };
  });
}
const targets = parseTargets();
const abRun = targets.length > 1;

function seconds(duration) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`cannot read duration "${duration}"`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
  return Number(match[1]) * unit;
}

/** The scenario's k6 executor settings with the DURATION and RATE overrides applied. */
function executorSettings() {
  const settings = JSON.parse(JSON.stringify(scenario.k6));
  if (__ENV.DURATION) {
    if (settings.stages) {
      const total = settings.stages.reduce((sum, stage) => sum + seconds(stage.duration), 0);
      const factor = seconds(__ENV.DURATION) / total;
      for (const stage of settings.stages) {
        stage.duration = `${Math.max(1, Math.round(seconds(stage.duration) * factor))}s`;
      }
    } else {
      settings.duration = __ENV.DURATION;
    }
  }
  if (__ENV.RATE) {
    const rate = Number(__ENV.RATE);
    if (settings.stages && settings.startRate !== undefined) {
      const factor = rate / Math.max(...settings.stages.map((stage) => stage.target));
      settings.startRate = Math.round(settings.startRate * factor);
      for (const stage of settings.stages) stage.target = Math.round(stage.target * factor);
    } else if (settings.rate !== undefined) {
      settings.rate = rate;
    }
  }
  return settings;
}

function buildScenarios() {
  const main = { ...executorSettings(), exec: 'mcpFlow' };
  const scenarios = { [scenarioName]: main };
  if (scenario.warmup) {
    scenarios[`${scenarioName}_warmup`] = {
      executor: 'constant-arrival-rate',
      rate: scenario.warmup.rate,
      timeUnit: '1s',
      duration: scenario.warmup.duration,
      preAllocatedVUs: main.preAllocatedVUs ?? 10,
      maxVUs: main.maxVUs ?? 100,
      exec: 'mcpFlow',
    };
    main.startTime = scenario.warmup.duration;
  }
  return scenarios;
}

/** The submetric of one request kind in the measured phase (per target in an A/B run). */
function latencyMetric(kind, target) {
  return `http_req_duration{scenario:${scenarioName},kind:${kind}${abRun ? `,target:${target}` : ''}}`;
}

/** Latency thresholds per request kind on the measured phase, errors and checks; per target in an A/B run. */
function buildThresholds() {
  const thresholds = {};
  for (const target of targets) {
    const only = abRun ? `{target:${target.name}}` : '';
    thresholds[`http_req_failed${only}`] = [`rate<${config.maxFailedRate}`];
    thresholds[`checks${only}`] = [`rate>=${config.minChecksRate}`];
    for (const [kind, limits] of Object.entries(scenario.latencyMs)) {
      thresholds[latencyMetric(kind, target.name)] = [`p(95)<${limits.p95}`, `p(99)<${limits.p99}`];
    }
  }
  return thresholds;
}

export const options = {
  scenarios: buildScenarios(),
  thresholds: buildThresholds(),
  summaryTrendStats: ['min', 'med', 'avg', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
};

/** This virtual user's session with each target (each VU has its own JS runtime). */
const sessions = {};
let nextId = 1;

function params(target, kind) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const session = sessions[target.name];
  if (session) {
    headers['mcp-session-id'] = session.id;
    headers['mcp-protocol-version'] = session.protocolVersion;
  }
  return { headers, tags: { kind, target: target.name } };
}

/** The JSON-RPC response with `id` in a JSON or an SSE reply, or undefined. */
function rpcResponse(res, id) {
  if (res.status !== 200 || typeof res.body !== 'string') return undefined;
  const type = String(res.headers['Content-Type'] || '');
  try {
    if (!type.includes('text/event-stream')) {
      const message = JSON.parse(res.body);
      return message.id === id ? message : undefined;
    }
    for (const line of res.body.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const message = JSON.parse(line.slice(5));
      if (message.id === id) return message;
    }
  } catch {
    // not JSON: no response
  }
  return undefined;
}

function rpc(target, kind, method, params_) {
  const id = nextId++;
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: params_ });
  const res = http.post(target.url, body, params(target, kind));
  // An ended or expired session gets 404: the next iteration opens a new one.
  if (res.status === 404) delete sessions[target.name];
  return { res, message: rpcResponse(res, id) };
}

/** A 2026-07-28 request: no session; the envelope in `_meta`, the method and name repeated in headers. */
function modernRpc(target, kind, method, name, params_) {
  const id = nextId++;
  const meta = {
    'io.modelcontextprotocol/protocolVersion': modernVersion,
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params_, _meta: meta } });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': modernVersion,
    'mcp-method': method,
    'mcp-name': name,
  };
  const res = http.post(target.url, body, { headers, tags: { kind, target: target.name } });
  return { res, message: rpcResponse(res, id) };
}

function checked(target, kind, res, name, condition) {
  return check(res, { [name]: condition }, { kind, target: target.name });
}

function openSession(target) {
  const init = rpc(target, 'initialize', 'initialize', {
    protocolVersion,
    capabilities: {},
    clientInfo: { name: 'lookout-k6', version: '1' },
  });
  const id = init.res.headers['Mcp-Session-Id'];
  const opened = checked(
    target,
    'initialize',
    init.res,
    'initialize: session id and server info',
    () => Boolean(id) && typeof init.message?.result?.serverInfo?.name === 'string',
  );
  if (!opened) return;
  sessions[target.name] = { id, protocolVersion: init.message.result.protocolVersion };

  const body = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const initialized = http.post(target.url, body, params(target, 'initialized'));
  checked(target, 'initialized', initialized, 'notifications/initialized: 202', (r) => r.status === 202);

  const list = rpc(target, 'tools_list', 'tools/list', {});
  checked(target, 'tools_list', list.res, 'tools/list: lists echo and the gateway tools', () => {
    const names = (list.message?.result?.tools ?? []).map((tool) => tool.name);
    return names.includes('echo') && gatewayCalls.every(({ tool }) => names.includes(tool));
  });
}

/** The text of a successful tool result (a result, not isError), or undefined. */
function toolText(message) {
  const result = message?.result;
  if (!result || result.isError) return undefined;
  return result.content?.find((block) => block.type === 'text')?.text;
}

function callEcho(target) {
  const echo = rpc(target, 'call_echo', 'tools/call', { name: 'echo', arguments: { text: echoText } });
  checked(
    target,
    'call_echo',
    echo.res,
    'tools/call echo: the same text back',
    () => toolText(echo.message) === echoText,
  );
}

function callEchoModern(target) {
  const echo = modernRpc(target, 'call_echo_modern', 'tools/call', 'echo', {
    name: 'echo',
    arguments: { text: echoText },
  });
  checked(
    target,
    'call_echo_modern',
    echo.res,
    'tools/call echo (2026-07-28): the same text back, resultType complete',
    () => toolText(echo.message) === echoText && echo.message.result.resultType === 'complete',
  );
}

function callGateway(target, { kind, tool }) {
  const call = rpc(target, kind, 'tools/call', { name: tool, arguments: {} });
  checked(target, kind, call.res, `tools/call ${kind.slice('call_'.length)}: a text result`, () => {
    return typeof toolText(call.message) === 'string';
  });
}

export function mcpFlow() {
  // In an A/B run the order of the targets alternates, so neither always goes first.
  const order = exec.scenario.iterationInTest % 2 === 0 ? targets : [...targets].reverse();
  const ready = order.filter((target) => {
    if (!sessions[target.name]) openSession(target);
    return Boolean(sessions[target.name]);
  });
  // Nor by that of the gateway tool: each era gets both target orders and both gateway tools alike.
  const modern = Math.floor(exec.scenario.iterationInTest / 4) % 2 === 1;
  for (const target of ready) (modern ? callEchoModern : callEcho)(target);
  if (gatewayCalls.length === 0) return;
  // Not by the parity that orders the targets: each gateway tool gets both orders alike.
  const gatewayCall = gatewayCalls[Math.floor(exec.scenario.iterationInTest / 2) % gatewayCalls.length];
  for (const target of ready) if (sessions[target.name]) callGateway(target, gatewayCall);
}

const trendColumns = ['count', 'med', 'p(95)', 'p(99)', 'max'];

function formatMs(value) {
  return value === undefined ? '–' : value.toFixed(2);
}

/** The summary as Markdown: latency per request kind (and target), errors, checks and every threshold. */
function markdown(data) {
  const metric = (name) => data.metrics[name];
  const lines = [
    `## k6: scenario \`${scenarioName}\``,
    '',
    `Targets: ${targets.map((t) => `${t.name} ${t.url}`).join(', ')}; gateway tools ` +
      `${gatewayCalls.map(({ tool }) => `\`${tool}\``).join(', ') || 'none'}; ` +
      `${(data.state.testRunDurationMs / 1000).toFixed(1)} s.`,
    '',
    '| target | request kind | count | median ms | p95 ms | p99 ms | max ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const target of targets) {
    for (const kind of kinds) {
      const values = metric(latencyMetric(kind, target.name))?.values;
      if (!values?.count) continue;
      const [count, ...times] = trendColumns.map((column) => values[column]);
      lines.push(`| ${target.name} | ${kind} | ${count} | ${times.map(formatMs).join(' | ')} |`);
    }
  }
  const failed = metric('http_req_failed')?.values;
  const checks = metric('checks')?.values;
  const dropped = metric('dropped_iterations')?.values.count ?? 0;
  lines.push(
    '',
    `Requests: ${metric('http_reqs')?.values.count ?? 0}, failed ${((failed?.rate ?? 0) * 100).toFixed(3)} %; ` +
      `checks passed ${((checks?.rate ?? 0) * 100).toFixed(3)} %; dropped iterations ${dropped}.`,
    '',
    '| threshold | result |',
    '| --- | --- |',
  );
  const thresholdLines = [];
  for (const [name, entry] of Object.entries(data.metrics)) {
    for (const [expression, verdict] of Object.entries(entry.thresholds ?? {})) {
      thresholdLines.push(`| \`${name}\` \`${expression}\` | ${verdict.ok ? 'pass' : '**FAIL**'} |`);
    }
  }
  lines.push(...thresholdLines.sort());
  return `${lines.join('\n')}\n`;
}

export function handleSummary(data) {
  const text = markdown(data);
  const outputs = { stdout: `\n${text}\n` };
  if (__ENV.SUMMARY_DIR) {
    const base = `${__ENV.SUMMARY_DIR}/${__ENV.SUMMARY_NAME || scenarioName}`;
    outputs[`${base}.json`] = JSON.stringify(data, null, 2);
    outputs[`${base}.md`] = text;
  }
  return outputs;
}
