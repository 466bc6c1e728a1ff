/**
 * Reads Lookout's Grafana dashboards (monitoring/grafana/dashboards) and turns their panel queries into
 * PromQL that Prometheus can run as an instant query, the way Grafana would expand them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const dashboardsDir = fileURLToPath(new URL('../../monitoring/grafana/dashboards/', import.meta.url));

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface GrafanaTarget {
  refId: string;
  expr?: string;
  datasource?: DataSourceRef;
  exemplar?: boolean;
  instant?: boolean;
  range?: boolean;
  legendFormat?: string;
}

export interface GrafanaLink {
  title: string;
  url: string;
  targetBlank?: boolean;
  internal?: { datasourceUid: string; datasourceName?: string; query: Record<string, unknown> };
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  datasource?: DataSourceRef;
  targets?: GrafanaTarget[];
  /** Panels of a collapsed row live inside it. */
  panels?: GrafanaPanel[];
  links?: GrafanaLink[];
  fieldConfig?: { defaults?: { links?: GrafanaLink[]; unit?: string } };
}

export interface TemplateVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  current?: { text?: string | string[]; value?: string | string[] };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
  datasource?: DataSourceRef;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating?: { list: TemplateVariable[] };
  links?: unknown[];
}

export interface LoadedDashboard {
  file: string;
  model: GrafanaDashboard;
}

/** Every dashboard JSON file of the directory, parsed. */
export function readDashboards(dir = dashboardsDir): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ file, model: JSON.parse(readFileSync(join(dir, file), 'utf8')) as GrafanaDashboard }));
}

/** Every panel that shows data, those inside collapsed rows included (row panels themselves are not). */
export function dataPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  const walk = (panels: GrafanaPanel[]): GrafanaPanel[] =>
    panels.flatMap((p) => (p.type === 'row' ? walk(p.panels ?? []) : [p, ...walk(p.panels ?? [])]));
  return walk(dashboard.panels);
}

export interface PanelQuery {
  /** The dashboard's uid. */
  dashboard: string;
  panelTitle: string;
  refId: string;
  /** As written in the dashboard, Grafana variables and all. */
  expr: string;
  /** The dashboard's template variables, for {@link expandForInstantQuery}. */
  variables: readonly TemplateVariable[];
}

function isPrometheus(target: GrafanaTarget, panel: GrafanaPanel): boolean {
  const source = target.datasource ?? panel.datasource;
  return source?.type === 'prometheus' || source?.uid === 'prometheus';
}

/** Every Prometheus target of every panel of every dashboard. */
export function panelQueries(dir = dashboardsDir): PanelQuery[] {
  return readDashboards(dir).flatMap(({ model }) =>
    dataPanels(model).flatMap((panel) =>
      (panel.targets ?? [])
        .filter((target) => isPrometheus(target, panel))
        .map((target) => ({
          dashboard: model.uid,
          panelTitle: panel.title,
          refId: target.refId,
          expr: target.expr ?? '',
          variables: model.templating?.list ?? [],
        })),
    ),
  );
}

export interface Intervals {
  /** `$__rate_interval`: Grafana makes it at least four scrape intervals. */
  rateInterval: string;
  /** `$__interval`: the step Grafana would pick for the panel. */
  interval: string;
  /** `$__range`: the dashboard's time range. */
  range: string;
}

const defaultIntervals: Intervals = { rateInterval: '1m', interval: '15s', range: '1h' };

const builtIns: Record<string, keyof Intervals> = {
  __rate_interval: 'rateInterval',
  __interval: 'interval',
  __range: 'range',
};

/** `$name`, `${name}` or `${name:format}`. */
const variableReference = /\$(?:\{([A-Za-z_]\w*)(?::([\w-]+))?\}|([A-Za-z_]\w*))/g;

/** Start index of the string literal that `index` lies in, or -1 when it is outside any string. */
function enclosingStringStart(expr: string, index: number): number {
  let start = -1;
  for (let i = 0; i < index; i++) {
    const char = expr[i];
    if (char === '\\' && start !== -1) i++;
    else if (char === '"' || char === "'" || char === '`') {
      if (start === -1) start = i;
      else if (expr[start] === char) start = -1;
    }
  }
  return start;
}

function escapeRegex(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

function currentValue(variable: TemplateVariable): string | undefined {
  const value = variable.current?.value;
  const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  if (single !== undefined && single !== '') return single;
  return typeof variable.query === 'string' && variable.query !== '' ? variable.query : undefined;
}

/**
 * The expression as Grafana would send it for an instant query: built-in intervals replaced by
 * `intervals`, each template variable by `.*` in a regex matcher when "All" is its default, otherwise
 * by its default value. Throws on a variable the dashboard does not define, on a format, and on an
 * "All" that is used outside a regex matcher, so a query can't reach Prometheus half expanded.
 */
export function expandForInstantQuery(
  query: Pick<PanelQuery, 'expr' | 'variables'>,
  intervals: Partial<Intervals> = {},
): string {
  const values = { ...defaultIntervals, ...intervals };
  const variables = new Map(query.variables.map((v) => [v.name, v]));
  const expanded = query.expr.replace(
    variableReference,
    (
      match,
      braced: string | undefined,
      format: string | undefined,
      bare: string | undefined,
      offset: number,
    ) => {
      const name = (braced ?? bare) as string;
      if (format !== undefined) throw new Error(`${match}: formats are not expanded in queries`);
      const builtIn = builtIns[name];
      if (builtIn) return values[builtIn];
      const variable = variables.get(name);
      if (!variable) throw new Error(`${match} is not a variable of the dashboard (in ${query.expr})`);
      const stringStart = enclosingStringStart(query.expr, offset);
      const inRegex = stringStart !== -1 && /[=!]~\s*$/.test(query.expr.slice(0, stringStart));
      const value = currentValue(variable);
      if (value === '$__all') {
        if (!inRegex) throw new Error(`${match} defaults to All outside a regex matcher (in ${query.expr})`);
        return variable.allValue ?? '.*';
      }
      if (value === undefined) throw new Error(`${match} has no default value`);
      return inRegex && (variable.multi || variable.includeAll) ? escapeRegex(value) : value;
    },
  );
  return expanded;
}
