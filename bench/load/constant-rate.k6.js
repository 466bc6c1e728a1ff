// k6 script: tools/call at a constant arrival rate (open model: a slow server does not slow the
// arrivals, so queueing shows in the latencies). Driven by bench/harness/load.ts through -e variables:
// URL, TOOL, SESSION (may be empty), RATE (per second), SECONDS, SUMMARY (file for the JSON summary).
import { check } from 'k6';
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

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE),
      timeUnit: '1s',
      duration: `${__ENV.SECONDS}s`,
      // Enough VUs up front that a latency spike does not make k6 start more mid-run (and drop arrivals).
      preAllocatedVUs: 256,
      maxVUs: 1024,
    },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
};

export default function () {
  const res = http.post(__ENV.URL, body, { headers });
  check(res, { 'echo answered': (r) => r.status === 200 && String(r.body).includes(text) });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
