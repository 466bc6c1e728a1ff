import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { isSecretKeyName, redactSecrets } from '../redaction/secrets.ts';
import { unknownEnvironmentWarnings } from './environment.ts';
import { serverMapKeys, upstreamsFromServerMap } from './mcp-servers.ts';
import { type OptionSpec, optionByKey, options } from './options.ts';
import { configSchema, type LookoutConfig } from './schema.ts';

/** Where a value came from, kept per dotted key so an error can say which setting to fix. */
type Sources = Map<string, string>;

interface Layer {
  readonly values: Record<string, unknown>;
  readonly sources: Sources;
}

export interface ConfigInputs {
  /** Values from command-line flags, keyed by the option's dotted key. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of a YAML or JSON config file; falls back to LOOKOUT_CONFIG. */
  readonly configPath?: string | undefined;
  readonly cwd?: string;
}

export type LoadResult =
  | {
      ok: true;
      config: LookoutConfig;
      /** Settings that do not stop start-up but are probably mistakes (a misspelt LOOKOUT_* variable). */
      warnings: string[];
    }
  | { ok: false; errors: string[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isPlainObject(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
}

function collectSources(value: unknown, prefix: string, source: string, into: Sources): void {
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value))
      collectSources(v, prefix ? `${prefix}.${k}` : k, source, into);
    return;
  }
  into.set(prefix, source);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const current = out[k];
    out[k] = isPlainObject(current) && isPlainObject(v) ? deepMerge(current, v) : v;
  }
  return out;
}

/** Converts a string from env or argv to the option's type; leaves it as is when it does not fit. */
function coerce(spec: OptionSpec, raw: string | boolean): unknown {
  if (typeof raw === 'boolean') return raw;
  const text = raw.trim();
  switch (spec.kind) {
    case 'integer':
      return /^[+-]?\d+$/.test(text) ? Number(text) : raw;
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : raw;
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return raw;
    case 'list':
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    case 'string':
      return raw;
  }
}

function fileLayer(path: string, cwd: string): Layer | { errors: string[] } {
  const absolute = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'file not readable';
    return { errors: [`config file ${path}: ${reason}`] };
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    return {
      errors: [`config file ${path}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`],
    };
  }
  if (parsed === null || parsed === undefined) parsed = {};
  if (!isPlainObject(parsed))
    return { errors: [`config file ${path}: expected a mapping of keys to values at the top level`] };
  const values = { ...parsed };
  // A desktop client's server list, as it is: its servers join the upstreams.
  for (const key of serverMapKeys) {
    if (!(key in values)) continue;
    const mapped = upstreamsFromServerMap(key, values[key]);
    if ('errors' in mapped) return { errors: mapped.errors.map((e) => `config file ${path}: ${e}`) };
    delete values[key];
    const own = values.upstreams ?? [];
    // Upstreams that are not a list stay as they are, for the schema to name the mistake.
    if (Array.isArray(own)) values.upstreams = [...own, ...mapped.upstreams];
  }
  // Module paths in a config file are relative to that file, not to wherever Lookout was started.
  if (Array.isArray(values.tools)) {
    const base = dirname(absolute);
    values.tools = values.tools.map((p: unknown) =>
      typeof p === 'string' && p.startsWith('.') && !isAbsolute(p) ? resolve(base, p) : p,
    );
  }
  const sources: Sources = new Map();
  collectSources(values, '', `config file ${path}`, sources);
  return { values, sources };
}

function envLayer(env: Readonly<Record<string, string | undefined>>): Layer {
  const values: Record<string, unknown> = {};
  const sources: Sources = new Map();
  for (const spec of options) {
    const raw = env[spec.env];
    if (raw === undefined || raw === '') continue;
    setPath(values, spec.key, coerce(spec, raw));
    sources.set(spec.key, `environment ${spec.env}`);
  }
  return { values, sources };
}

function flagLayer(flags: Readonly<Record<string, string | boolean | undefined>>): Layer {
  const values: Record<string, unknown> = {};
  const sources: Sources = new Map();
  for (const [key, raw] of Object.entries(flags)) {
    const spec = optionByKey.get(key);
    if (!spec || raw === undefined) continue;
    setPath(values, key, coerce(spec, raw));
    sources.set(key, `flag --${spec.flag}`);
  }
  return { values, sources };
}

function isSecretKey(key: string): boolean {
  return optionByKey.get(key)?.secret === true || isSecretKeyName(key.split('.').at(-1) ?? '');
}

function describeValue(key: string, value: unknown): string {
  if (value === undefined) return 'nothing';
  if (isSecretKey(key)) return '"***"';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function formatIssue(issue: z.core.$ZodIssue, merged: Record<string, unknown>, sources: Sources): string[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => {
      const key = [...path, k].join('.');
      return `${key}: unknown key (from ${sources.get(key) ?? 'config'}); see the config reference for valid keys`;
    });
  }
  const key = path.join('.') || '(root)';
  const value = valueAt(merged, issue.path);
  const source = sources.get(key) ?? [...sources.entries()].find(([k]) => key.startsWith(`${k}.`))?.[1];
  const form = optionByKey.get(key)?.form;
  const origin = source ? ` from ${source}` : '';
  const expected = form ? `; expected ${form}` : '';
  return [`${key}: ${issue.message} (got ${describeValue(key, value)}${origin})${expected}`];
}

/** Reads the sources in order defaults < config file < environment < flags and validates them once. */
export function loadConfig(inputs: ConfigInputs = {}): LoadResult {
  const cwd = inputs.cwd ?? process.cwd();
  const env = inputs.env ?? {};
  const layers: Layer[] = [];
  const configPath = inputs.configPath ?? env.LOOKOUT_CONFIG;
  if (configPath) {
    const layer = fileLayer(configPath, cwd);
    if ('errors' in layer) return { ok: false, errors: layer.errors };
    layers.push(layer);
  }
  layers.push(envLayer(env), flagLayer(inputs.flags ?? {}));

  let merged: Record<string, unknown> = {};
  const sources: Sources = new Map();
  for (const layer of layers) {
    merged = deepMerge(merged, layer.values);
    for (const [k, v] of layer.sources) sources.set(k, v);
  }
  if (typeof merged.tools !== 'undefined' && Array.isArray(merged.tools)) {
    merged.tools = (merged.tools as unknown[]).map((p) =>
      typeof p === 'string' && p.startsWith('.') ? resolve(cwd, p) : p,
    );
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.flatMap((issue) => formatIssue(issue, merged, sources)) };
  }
  return { ok: true, config: deepFreeze(parsed.data), warnings: unknownEnvironmentWarnings(env) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The effective config with every secret value replaced, for `--print-config` and logs. */
export function maskSecrets(config: unknown): unknown {
  return redactSecrets(config, (path) => optionByKey.get(path)?.secret === true);
}
