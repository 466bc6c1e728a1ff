import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  type DataSourceRef,
  dataPanels,
  expandForInstantQuery,
  type GrafanaLink,
  type GrafanaPanel,
  panelQueries,
  readDashboards,
  type TemplateVariable,
} from '../support/dashboards.ts';

const grafana = new URL('../../monitoring/grafana/', import.meta.url);
const dashboards = readDashboards();
const expected = ['mcp-operations', 'runtime', 'slo-overview', 'telemetry-pipeline', 'upstreams'];

function board(uid: string) {
  const found = dashboards.find((d) => d.model.uid === uid);
  assert.ok(found, `dashboard ${uid}`);
  return found.model;
}

interface ProvisionedDataSource {
  name: string;
  uid: string;
  type: string;
  url: string;
  isDefault?: boolean;
}
const provisioned = (
  parseYaml(readFileSync(new URL('provisioning/datasources/datasources.yml', grafana), 'utf8')) as {
    datasources: ProvisionedDataSource[];
  }
).datasources;

/** Every object in the JSON tree with a `datasource` key, as [where, reference]. */
function datasourceRefs(
  node: unknown,
  path: string,
  out: [string, DataSourceRef][] = [],
): [string, DataSourceRef][] {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) datasourceRefs(item, `${path}[${i}]`, out);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'datasource') out.push([`${path}.datasource`, value as DataSourceRef]);
      datasourceRefs(value, `${path}.${key}`, out);
    }
  }
  return out;
}

/** Grafana's own variables that may appear in queries and links. */
const builtInVariables = new Set([
  '__rate_interval',
  '__interval',
  '__range',
  '__from',
  '__to',
  '__url_time_range',
  '__field',
  '__series',
  '__value',
  '__all',
]);

function variablesUsedIn(text: string): string[] {
  return [...text.matchAll(/\$(?:\{([A-Za-z_]\w*)[^}]*\}|([A-Za-z_]\w*))/g)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
}

const links = (panel: GrafanaPanel): GrafanaLink[] => [
  ...(panel.links ?? []),
  ...(panel.fieldConfig?.defaults?.links ?? []),
];

/** The labels of the outermost `by (…)` clauses of an expression. */
function groupingLabels(expr: string): Set<string> {
  return new Set(
    [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((l) => l.trim())),
  );
}

/** A panel about MCP operations or upstream calls, broken down by something a trace can be searched by. */
function isOperationPanel(panel: GrafanaPanel): boolean {
  const exprs = (panel.targets ?? []).map((t) => t.expr ?? '');
  const aboutOperations = exprs.some((e) =>
    /mcp_(server|client)_operation_duration|traces_span_metrics_(calls|duration)/.test(e),
  );
  const perTraceable = exprs.some((e) =>
    ['mcp_method_name', 'gen_ai_tool_name', 'span_name', 'lookout_upstream'].some((l) =>
      groupingLabels(e).has(l),
    ),
  );
  return aboutOperations && perTraceable;
}

describe('Grafana dashboards', () => {
  it('are the five expected ones, each parsed, with a unique stable uid and a recent schema', () => {
    assert.deepEqual(
      dashboards.map((d) => d.file.replace(/\.json$/, '')),
      expected,
    );
    const uids = dashboards.map((d) => d.model.uid);
    assert.deepEqual(
      uids,
      expected.map((name) => `lookout-${name}`),
    );
    assert.equal(new Set(uids).size, uids.length);
    for (const { file, model } of dashboards) {
      assert.ok(model.schemaVersion >= 39, `${file}: schemaVersion ${model.schemaVersion}`);
      assert.ok(model.title.startsWith('Lookout / '), `${file}: title ${model.title}`);
      assert.ok(dataPanels(model).length >= 6, `${file} has panels`);
    }
  });

  it('give every panel, rows included, at least one target with a query', () => {
    for (const { file, model } of dashboards) {
      for (const panel of dataPanels(model)) {
        const exprs = (panel.targets ?? []).map((t) => t.expr?.trim() ?? '');
        assert.ok(exprs.length > 0, `${file}: ${panel.title} has no target`);
        assert.ok(exprs.every(Boolean), `${file}: ${panel.title} has an empty query`);
      }
    }
    // The collapsed row's panels are found too.
    const pipeline = board('lookout-telemetry-pipeline');
    assert.ok(pipeline.panels.some((p) => p.type === 'row' && (p.panels ?? []).length > 0));
    const collapsed = pipeline.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : []));
    assert.ok(panelQueries().some((q) => q.panelTitle === collapsed[0]?.title));
  });

  it('give every panel a unique id and refIds unique within it', () => {
    for (const { file, model } of dashboards) {
      const ids = dataPanels(model).map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids`);
      for (const panel of dataPanels(model)) {
        const refIds = (panel.targets ?? []).map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `${file}: ${panel.title}`);
      }
    }
  });

  it('refer only to provisioned data sources, by uid', () => {
    const byUid = new Map(provisioned.map((d) => [d.uid, d]));
    assert.deepEqual([...byUid.keys()].sort(), ['jaeger', 'prometheus']);
    assert.equal(provisioned.find((d) => d.isDefault)?.uid, 'prometheus');
    for (const { file, model } of dashboards) {
      const refs = datasourceRefs(model, file);
      assert.ok(refs.length > 0);
      for (const [where, ref] of refs) {
        if (ref.type === 'grafana' && ref.uid === '-- Grafana --') continue; // the built-in annotations
        const source = ref.uid === undefined ? undefined : byUid.get(ref.uid);
        assert.ok(source, `${where}: ${JSON.stringify(ref)} is not provisioned`);
        assert.equal(ref.type, source.type, where);
      }
      for (const panel of dataPanels(model)) {
        for (const link of links(panel)) {
          if (link.internal) assert.ok(byUid.has(link.internal.datasourceUid), `${file}: ${panel.title}`);
        }
      }
    }
  });

  it('define every variable they use, in queries, variable queries and links', () => {
    for (const { file, model } of dashboards) {
      const defined = new Set((model.templating?.list ?? []).map((v) => v.name));
      const text = JSON.stringify(model);
      for (const name of variablesUsedIn(text)) {
        assert.ok(defined.has(name) || builtInVariables.has(name), `${file}: $${name} is not defined`);
      }
    }
  });

  it('expand every query for an instant query, with no variable left', () => {
    const queries = panelQueries();
    assert.ok(queries.length >= 100, `${queries.length} queries`);
    for (const query of queries) {
      const expr = expandForInstantQuery(query);
      assert.doesNotMatch(expr, /\$/, `${query.dashboard} ${query.panelTitle} ${query.refId}: ${expr}`);
      assert.match(expr, /^[^\n]+$/);
    }
  });

  it('compute rates over $__rate_interval, unless the panel names its fixed window', () => {
    for (const query of panelQueries()) {
      for (const [, fn, window] of query.expr.matchAll(/\b(rate|increase)\([^[]*\[([^\]]+)\]/g)) {
        if (window === '$__rate_interval') continue;
        assert.ok(
          query.panelTitle.includes(`(${window})`),
          `${query.dashboard} ${query.panelTitle}: ${fn} over ${window}`,
        );
      }
    }
  });

  it('ask for no exemplars (Lookout exports none)', () => {
    for (const { file, model } of dashboards) {
      for (const panel of dataPanels(model)) {
        for (const target of panel.targets ?? [])
          assert.equal(target.exemplar, false, `${file}: ${panel.title}`);
      }
    }
  });

  it('link operation and upstream panels to their traces in Jaeger, by labels the query keeps', () => {
    let linked = 0;
    for (const { file, model } of dashboards) {
      for (const panel of dataPanels(model).filter(isOperationPanel)) {
        const where = `${file}: ${panel.title}`;
        const fieldLinks = panel.fieldConfig?.defaults?.links ?? [];
        const ui = fieldLinks.find((l) =>
          l.url.startsWith(`\${jaeger_url:raw}/search?service=\${service:percentencode}`),
        );
        const explore = fieldLinks.find((l) => l.internal?.datasourceUid === 'jaeger');
        assert.ok(ui, `${where} links to the Jaeger UI`);
        assert.ok(explore, `${where} links to Explore with the Jaeger data source`);
        assert.match(ui.url, /&start=\$\{__from\}000&end=\$\{__to\}000&lookback=custom/, where);
        assert.ok(/[?&](operation|tags)=/.test(ui.url), `${where}: searches an operation or tags`);
        assert.equal(explore.internal?.query.queryType, 'search', where);
        assert.equal(explore.internal?.query.service, `\${service}`, where);
        for (const link of [ui, explore]) {
          const used = [...JSON.stringify(link).matchAll(/__field\.labels\.(\w+)/g)].map(
            (m) => m[1] as string,
          );
          assert.ok(used.length > 0, `${where}: ${link.title} uses a series label`);
          for (const target of panel.targets ?? []) {
            const kept = groupingLabels(target.expr ?? '');
            for (const label of used) assert.ok(kept.has(label), `${where} ${target.refId} keeps ${label}`);
          }
        }
        linked++;
      }
    }
    const count = (uid: string) => dataPanels(board(uid)).filter(isOperationPanel).length;
    assert.ok(count('lookout-mcp-operations') >= 7, 'MCP operations has its linked panels');
    assert.ok(count('lookout-upstreams') >= 4, 'Upstreams has its linked panels');
    assert.ok(linked >= 11);
  });

  it('searches a tool call by the span name Lookout gives it', () => {
    const panel = dataPanels(board('lookout-mcp-operations')).find((p) => p.title === 'Tool calls by tool');
    const ui = panel?.fieldConfig?.defaults?.links?.[0]?.url ?? '';
    // `tools/call echo`, URL-encoded: the span name is `{mcp.method.name} {gen_ai.tool.name}`.
    assert.match(ui, /operation=tools%2Fcall%20\$\{__field\.labels\.gen_ai_tool_name:percentencode\}/);
  });

  it("hard-code the latency SLO's threshold only where it matches monitoring/slo.yaml", () => {
    const slo = parseYaml(readFileSync(new URL('../slo.yaml', grafana), 'utf8')) as {
      latency: { thresholdSeconds: number };
    };
    const text = JSON.stringify(board('lookout-slo-overview'));
    const les = [...text.matchAll(/le=\\"([\d.]+)\\"/g)].map((m) => Number(m[1]));
    const minDurations = [...text.matchAll(/minDuration=(\d+)ms/g)].map((m) => Number(m[1]) / 1000);
    assert.ok(les.length > 0 && minDurations.length > 0);
    for (const value of [...les, ...minDurations]) assert.equal(value, slo.latency.thresholdSeconds);
  });
});

describe('expandForInstantQuery', () => {
  const variables: TemplateVariable[] = [
    { name: 'job', type: 'query', current: { text: 'lookout', value: 'lookout' } },
    {
      name: 'tool',
      type: 'query',
      includeAll: true,
      multi: true,
      allValue: '.*',
      current: { text: ['All'], value: ['$__all'] },
    },
    { name: 'method', type: 'query', includeAll: true, multi: true, current: { value: ['tools/call'] } },
    { name: 'jaeger_url', type: 'textbox', query: 'http://localhost:16686', current: { value: '' } },
  ];
  const expand = (expr: string) => expandForInstantQuery({ expr, variables }, { rateInterval: '2m' });

  it('replaces intervals, defaults and All', () => {
    assert.equal(
      expand('sum by (le) (rate(x_bucket{job="$job", gen_ai_tool_name=~"$tool"}[$__rate_interval]))'),
      'sum by (le) (rate(x_bucket{job="lookout", gen_ai_tool_name=~".*"}[2m]))',
    );
    assert.equal(expand(`increase(x{job="\${job}"}[$__range])`), 'increase(x{job="lookout"}[1h])');
    assert.equal(expand('rate(x[$__interval])'), 'rate(x[15s])');
    assert.equal(expand('x{a=~"$method"}'), 'x{a=~"tools/call"}');
    assert.equal(expand('x{u="$jaeger_url"}'), 'x{u="http://localhost:16686"}');
  });

  it('escapes a chosen value of a multi-value variable in a regex matcher', () => {
    const dotted: TemplateVariable[] = [
      { name: 'tool', type: 'query', multi: true, current: { value: ['lookout.health'] } },
    ];
    assert.equal(
      expandForInstantQuery({ expr: 'x{t=~"$tool"}', variables: dotted }),
      'x{t=~"lookout\\.health"}',
    );
  });

  it('throws on an unknown variable, a format, or All outside a regex matcher', () => {
    assert.throws(() => expand('x{job="$nope"}'), /\$nope is not a variable/);
    assert.throws(() => expand('rate(x[$__rate_interval_ms])'), /not a variable/);
    assert.throws(() => expand(`x{job="\${job:raw}"}`), /formats are not expanded/);
    assert.throws(() => expand('x{tool="$tool"}'), /All outside a regex matcher/);
  });
});
