// The live view's page: reads the snapshot stream (/live/events) and draws it. No build step: plain
// browser JavaScript and uPlot, both served by Lookout itself.

const maxPoints = 300;
const maxSeries = 8;
const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/** Builds an element; children are nodes or text (never parsed as HTML). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
}

const ms = (seconds) => (seconds === undefined || seconds === null ? '–' : (seconds * 1000).toFixed(1));
const fixed = (n, digits) => (typeof n === 'number' ? n.toFixed(digits) : '–');
const clock = (epochMs) => new Date(epochMs).toLocaleTimeString([], { hour12: false });

// --- views -----------------------------------------------------------------------------------------

for (const button of document.querySelectorAll('nav button')) {
  button.addEventListener('click', () => showView(button.dataset.view));
}

function showView(name) {
  for (const button of document.querySelectorAll('nav button'))
    button.classList.toggle('active', button.dataset.view === name);
  for (const view of document.querySelectorAll('.view'))
    view.classList.toggle('active', view.id === `view-${name}`);
  if (name === 'operations') for (const chart of charts.values()) chart.resize();
}

// --- charts ----------------------------------------------------------------------------------------

/** Per chart: a uPlot, rebuilt when its series change. */
const charts = new Map();
const fields = ['rate', 'p50', 'p95', 'p99', 'errors'];
const history = { times: [], series: new Map() };
/** The method and tool whose quantiles the latency chart shows: the busiest, until a click on a row picks one. */
let latencyKey;
let latencyPicked = false;

function chartKeys() {
  return [...history.series.keys()].slice(0, maxSeries);
}

/** One line per method and tool, of one field. */
const perKey = (field) => ({
  series: () => chartKeys().map((key) => ({ label: key, values: history.series.get(key)[field] })),
});

const chartSpecs = [
  { id: 'chart-rate', ...perKey('rate') },
  {
    id: 'chart-latency',
    series: () => {
      const series = latencyKey && history.series.get(latencyKey);
      document.getElementById('latency-key').textContent = latencyKey ?? '–';
      return series ? ['p50', 'p95', 'p99'].map((q) => ({ label: q, values: series[q] })) : [];
    },
  },
  { id: 'chart-p95', ...perKey('p95') },
  { id: 'chart-errors', ...perKey('errors') },
];

class ChartSlot {
  constructor(spec) {
    this.spec = spec;
    this.container = document.getElementById(spec.id);
    this.plot = undefined;
    this.labels = '';
  }

  resize() {
    this.plot?.setSize(this.size());
  }

  size() {
    return { width: Math.max(320, this.container.clientWidth || 380), height: 200 };
  }

  update() {
    const series = this.spec.series();
    const data = [history.times, ...series.map((s) => s.values)];
    const labels = series.map((s) => s.label).join('\n');
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.labels = labels;
    this.plot = new uPlot(
      {
        ...this.size(),
        legend: { show: true, live: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: palette[i % palette.length],
            width: 1.5,
            spanGaps: true,
          })),
        ],
      },
      data,
      this.container,
    );
  }
}

for (const spec of chartSpecs) charts.set(spec.id, new ChartSlot(spec));

const msOrNull = (seconds) => (seconds === undefined || seconds === null ? null : seconds * 1000);

function recordHistory(snapshot) {
  history.times.push(snapshot.atMs / 1000);
  const seen = new Set();
  for (const op of snapshot.operations) {
    let series = history.series.get(op.key);
    if (!series) {
      series = Object.fromEntries(fields.map((f) => [f, history.times.slice(0, -1).map(() => null)]));
      history.series.set(op.key, series);
    }
    series.rate.push(op.ratePerSecond);
    series.p50.push(msOrNull(op.p50));
    series.p95.push(msOrNull(op.p95));
    series.p99.push(msOrNull(op.p99));
    series.errors.push(op.errorShare * 100);
    seen.add(op.key);
  }
  for (const [key, series] of history.series) {
    if (!seen.has(key)) for (const field of fields) series[field].push(null);
  }
  if (history.times.length > maxPoints) {
    history.times.shift();
    for (const series of history.series.values()) for (const field of fields) series[field].shift();
  }
  if (!latencyPicked) {
    const busiest = [...snapshot.operations].sort((a, b) => b.calls - a.calls)[0];
    if (busiest && busiest.calls > 0) latencyKey = busiest.key;
  }
}

// --- tables ----------------------------------------------------------------------------------------

function renderOperations(snapshot) {
  document.getElementById('telemetry-off').hidden = snapshot.telemetry;
  document.getElementById('window').textContent =
    `(rates per second; shares and quantiles over the last ${snapshot.windowSeconds} s)`;
  fillTable(
    'operations',
    snapshot.operations.map((op) => {
      const row = el(
        'tr',
        { className: `clickable${op.key === latencyKey ? ' selected' : ''}` },
        el('td', {}, op.method),
        el('td', {}, op.target ?? ''),
        el('td', { className: 'num' }, fixed(op.ratePerSecond, 2)),
        el('td', { className: 'num' }, op.calls),
        el(
          'td',
          { className: `num ${op.errorShare > 0 ? 'error' : ''}` },
          `${fixed(op.errorShare * 100, 1)} %`,
        ),
        el('td', { className: 'num' }, ms(op.p50)),
        el('td', { className: 'num' }, ms(op.p95)),
        el('td', { className: 'num' }, ms(op.p99)),
      );
      row.addEventListener('click', () => {
        latencyKey = op.key;
        latencyPicked = true;
        for (const other of document.querySelectorAll('#operations tbody tr'))
          other.classList.toggle('selected', other === row);
        charts.get('chart-latency').update();
      });
      return row;
    }),
  );
  for (const chart of charts.values()) chart.update();
}

const stateClass = { ready: 'ok', starting: 'warn', down: 'error', holding: 'error', closed: 'muted' };

function renderUpstreams(snapshot) {
  fillTable(
    'upstreams',
    snapshot.upstreams.map((u) =>
      el(
        'tr',
        {},
        el('td', {}, u.name),
        el('td', {}, u.transport),
        el('td', { className: stateClass[u.state] ?? '' }, u.state === 'holding' ? 'held' : u.state),
        el('td', {}, u.protocolVersion ? `${u.protocolVersion} (${u.era}-era)` : '–'),
        el('td', { className: 'num' }, u.tools),
        el('td', { className: 'num' }, u.restarts),
        el('td', { className: u.breaker === 'Closed' ? 'ok' : 'error' }, u.breaker),
        el(
          'td',
          { className: u.readiness?.status === 'ok' ? 'ok' : 'error' },
          u.readiness ? `${u.readiness.status}${u.readiness.required ? ' (required)' : ''}` : '–',
        ),
        el(
          'td',
          { className: 'wrap' },
          u.lastError ? `${clock(Date.parse(u.lastError.at))} ${u.lastError.message}` : '–',
        ),
      ),
    ),
  );
  if (snapshot.upstreams.length === 0)
    fillTable('upstreams', [
      el('tr', {}, el('td', { colspan: 9, className: 'muted' }, 'no upstreams configured')),
    ]);
  document.getElementById('sampler').textContent = snapshot.sampling.sampler;
  fillTable(
    'sampling',
    snapshot.sampling.keys.map((k) =>
      el(
        'tr',
        {},
        el('td', {}, k.key),
        el('td', {}, k.mode),
        el('td', { className: 'num' }, fixed(k.probability, 3)),
        el('td', { className: 'num' }, fixed(k.ratePerSecond, 2)),
        el('td', { className: 'num' }, fixed(k.keptPerSecond, 2)),
      ),
    ),
  );
}

let selectedTrace;

function renderCalls(snapshot) {
  if (snapshot.calls.length === 0) {
    fillTable('calls', [
      el('tr', {}, el('td', { colspan: 7, className: 'muted' }, 'no calls kept since this page opened')),
    ]);
    return;
  }
  fillTable(
    'calls',
    snapshot.calls.map((call) => {
      const row = el(
        'tr',
        {
          className: `clickable${call.traceId === selectedTrace ? ' selected' : ''}`,
          'data-trace': call.traceId,
        },
        el('td', {}, clock(call.startMs)),
        el('td', {}, call.client),
        el('td', {}, call.method),
        el('td', {}, call.target ?? ''),
        el('td', { className: 'num' }, fixed(call.durationMs, 1)),
        el('td', { className: call.outcome === 'ok' ? 'ok' : 'error' }, call.outcome),
        el('td', {}, el('code', {}, call.traceId.slice(0, 16))),
      );
      row.addEventListener('click', () => openTrace(call.traceId));
      return row;
    }),
  );
}

// --- one trace -------------------------------------------------------------------------------------

/** Spans depth-first from the roots (spans whose parent was not kept count as roots). */
function treeOrder(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const ordered = [];
  const visit = (parent, depth) => {
    for (const span of children.get(parent) ?? []) {
      ordered.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit('', 0);
  return ordered;
}

function renderTrace(trace) {
  document.getElementById('trace').hidden = false;
  document.getElementById('trace-id').textContent = trace.traceId;
  document
    .getElementById('jaeger')
    .replaceChildren(
      ...(trace.jaegerUrl
        ? [el('a', { href: trace.jaegerUrl, target: '_blank', rel: 'noopener noreferrer' }, 'open in Jaeger')]
        : []),
    );
  const detail = document.getElementById('span-detail');
  detail.hidden = true;
  const start = Math.min(...trace.spans.map((s) => s.startMs));
  const end = Math.max(...trace.spans.map((s) => s.startMs + s.durationMs));
  const total = Math.max(end - start, 0.001);
  const rows = treeOrder(trace.spans).map(({ span, depth }) => {
    const bar = el('div', {
      className: `span-bar ${span.kind.toLowerCase()}${span.status === 'error' || span.attributes['error.type'] ? ' error' : ''}`,
    });
    bar.style.left = `${((span.startMs - start) / total) * 100}%`;
    bar.style.width = `${(span.durationMs / total) * 100}%`;
    const name = el(
      'div',
      { className: 'span-name', title: `${span.name} (${span.scope})` },
      span.name,
      el('span', { className: 'kind' }, span.kind),
    );
    name.style.paddingLeft = `${depth * 0.9}rem`;
    const row = el(
      'div',
      { className: 'span-row', 'data-kind': span.kind, 'data-name': span.name },
      name,
      el('div', { className: 'span-track' }, bar),
      el('div', { className: 'span-ms' }, `${span.durationMs.toFixed(2)} ms`),
    );
    row.addEventListener('click', () => {
      detail.hidden = false;
      detail.textContent = JSON.stringify(
        {
          name: span.name,
          kind: span.kind,
          scope: span.scope,
          status: span.status,
          statusMessage: span.statusMessage,
          attributes: span.attributes,
        },
        null,
        2,
      );
    });
    return row;
  });
  document
    .getElementById('waterfall')
    .replaceChildren(
      ...(rows.length > 0 ? rows : [el('p', { className: 'muted' }, 'no kept spans for this trace')]),
    );
  fillTable(
    'logs',
    trace.logs.map((line) => {
      const { level, message, timestamp, ...fields } = line;
      return el(
        'tr',
        {},
        el('td', {}, timestamp ? clock(Date.parse(timestamp)) : ''),
        el('td', { className: level === 'error' ? 'error' : level === 'warn' ? 'warn' : '' }, level),
        el('td', {}, message),
        el('td', { className: 'wrap' }, el('code', {}, JSON.stringify(fields))),
      );
    }),
  );
}

async function openTrace(traceId) {
  selectedTrace = traceId;
  for (const row of document.querySelectorAll('#calls tbody tr'))
    row.classList.toggle('selected', row.dataset.trace === traceId);
  const response = await fetch(`/live/trace?id=${encodeURIComponent(traceId)}`, {
    credentials: 'same-origin',
  });
  if (!response.ok) {
    setStatus(`trace ${traceId}: HTTP ${response.status}`, true);
    return;
  }
  renderTrace(await response.json());
}

// --- the stream ------------------------------------------------------------------------------------

function setStatus(text, down) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.classList.toggle('down', down);
}

const events = new EventSource('/live/events');
events.addEventListener('snapshot', (event) => {
  const snapshot = JSON.parse(event.data);
  setStatus(
    `${snapshot.health.status === 'ok' ? 'ready' : 'not ready'} · ${snapshot.health.phase} · ${clock(snapshot.atMs)}`,
    snapshot.health.status !== 'ok',
  );
  recordHistory(snapshot);
  renderOperations(snapshot);
  renderUpstreams(snapshot);
  renderCalls(snapshot);
});
events.addEventListener('error', () => setStatus('disconnected: retrying…', true));
window.addEventListener('resize', () => {
  for (const chart of charts.values()) chart.resize();
});
