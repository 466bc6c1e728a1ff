// k6 script: tools/call at a constant arrival rate (open model: a slow server does not slow the
// arrivals, so queueing shows in the latencies). Driven by bench/harness/load.ts through -e variables:
// URL, TOOL, SESSION (may be empty), RATE (per second), WARMUP and SECONDS, SUMMARY (file for the JSON
// summary). k6's own Go garbage collector is held off (GOGC=off up to GOMEMLIMIT, set by the harness):
// its pauses on the load generator's one CPU otherwise add milliseconds to the measured tail. The
// warm-up runs in the same scenario, on the same VUs and connections, so the measured phase does not
// start with a new pool of VUs opening hundreds of connections at once.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';

const text = 'hello, lookout';
const body = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: __ENV.TOOL, arguments: { text } },
});
const headers = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
if (__ENV.SESSION) headers['mcp-session-id'] = __ENV.SESSION;
const warmupMs = Number(__ENV.WARMUP) * 1000;
const measured = '{phase:measure}';

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE),
      timeUnit: '1s',
      duration: `${Number(__ENV.WARMUP) + Number(__ENV.SECONDS)}s`,
      // Enough VUs up front that a latency spike does not make k6 start more mid-run (and drop arrivals).
      preAllocatedVUs: 256,
      maxVUs: 1024,
    },
  },
  // Thresholds that always hold: they only make k6 keep the measured phase's own series for the summary.
  thresholds: {
    [`http_req_duration${measured}`]: ['max>=0'],
    [`http_reqs${measured}`]: ['count>=0'],
    [`checks${measured}`]: ['rate>=0'],
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
};

// The scenario starts right after setup: the bench reads this line to time the measured phase.
export function setup() {
  console.log('lookout-bench: load starts');
}

export default function () {
  const phase = Date.now() - exec.scenario.startTime < warmupMs ? 'warmup' : 'measure';
  const res = http.post(__ENV.URL, body, { headers, tags: { phase } });
  check(res, { 'echo answered': (r) => r.status === 200 && String(r.body).includes(text) }, { phase });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
