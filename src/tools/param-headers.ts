/**
 * `Mcp-Param-{Name}` request headers (MCP 2026-07-28, Streamable HTTP "custom headers from tool
 * parameters"): a tool's `inputSchema` may mark a primitive property with `x-mcp-header: "Name"`,
 * and a client calling that tool then repeats the argument in that header, so that proxies can route
 * on it without reading the body. The server acts on the body, so it checks the two agree.
 */

import { isObject } from '../json/object.ts';

/** One `x-mcp-header` declaration: where the argument sits and how its header is named. */
export interface ParamHeader {
  readonly path: readonly string[];
  readonly name: string;
  readonly type: 'string' | 'integer' | 'boolean';
}

const annotation = 'x-mcp-header';
/** RFC 9110 `token`: what an HTTP field name may be made of. */
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const primitiveTypes = new Set(['string', 'integer', 'boolean']);
/** Keywords whose subschemas are not reached by a chain of `properties`: no annotation may sit below them. */
const unreachableKeywords = [
  'items',
  'prefixItems',
  'contains',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'propertyNames',
  'patternProperties',
  'dependentSchemas',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  '$defs',
  'definitions',
];
/** Of those, the ones whose value maps names to subschemas. */
const namedSubschemas = new Set(['patternProperties', 'dependentSchemas', '$defs', 'definitions']);
const base64Sentinel = /^=\?base64\?(.*)\?=$/;
const canonicalBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const decimal = /^-?\d+(\.\d+)?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The declarations of a tool's input schema, or undefined when one breaks the revision's rules (not a
 * token, not a primitive, declared twice ignoring case, or not reachable through `properties` alone):
 * such a tool definition is invalid, clients drop it, and nothing is checked for it.
 */
export function scanParamHeaders(inputSchema: unknown): readonly ParamHeader[] | undefined {
  const found: ParamHeader[] = [];
  const seen = new Set<string>();
  const visit = (node: unknown, path: string[], reachable: boolean): boolean => {
    if (!isObject(node)) return true;
    if (annotation in node) {
      const name = node[annotation];
      const type = node.type;
      if (!reachable || path.length === 0 || typeof name !== 'string' || !token.test(name)) return false;
      if (typeof type !== 'string' || !primitiveTypes.has(type) || seen.has(name.toLowerCase())) return false;
      seen.add(name.toLowerCase());
      found.push({ path, name, type: type as ParamHeader['type'] });
    }
    if (isObject(node.properties)) {
      for (const [key, child] of Object.entries(node.properties))
        if (!visit(child, [...path, key], reachable)) return false;
    }
    for (const keyword of unreachableKeywords) {
      const sub = node[keyword];
      const branches = Array.isArray(sub)
        ? sub
        : namedSubschemas.has(keyword) && isObject(sub)
          ? Object.values(sub)
          : [sub];
      for (const branch of branches) if (!visit(branch, [...path, keyword], false)) return false;
    }
    return true;
  };
  return visit(inputSchema, [], true) ? found : undefined;
}

/** Plain visible ASCII (inner spaces allowed), neither empty nor padded: sent as it is. */
const plainValue = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * A header value as a client sends it: as it is when it is plain visible ASCII, else (non-ASCII, empty,
 * padded with spaces, or itself shaped like the sentinel) in its `=?base64?…?=` form, UTF-8 inside.
 */
export function headerValue(value: string): string {
  return plainValue.test(value) && !base64Sentinel.test(value)
    ? value
    : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/**
 * The `Mcp-Param-*` headers of a tools/call, by lower-case name: one per declaration whose argument is
 * a string, a finite number or a boolean; an absent or null one (or any other value) gets none.
 */
export function paramHeadersFor(declarations: readonly ParamHeader[], args: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const declaration of declarations) {
    const value = valueAt(args, declaration.path);
    const text =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
        ? String(value)
        : undefined;
    if (text !== undefined) headers[`mcp-param-${declaration.name.toLowerCase()}`] = headerValue(text);
  }
  return headers;
}

/** A header value as sent: `=?base64?…?=` decoded (undefined when that payload is not valid Base64 UTF-8). */
function decode(value: string): string | undefined {
  const wrapped = value.match(base64Sentinel);
  if (!wrapped) return value;
  const payload = wrapped[1] as string;
  if (!canonicalBase64.test(payload)) return undefined;
  try {
    return strictUtf8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}

function valueAt(args: unknown, path: readonly string[]): unknown {
  let node = args;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return node;
}

/**
 * Why the `Mcp-Param-*` headers of a tools/call disagree with its arguments, or undefined when they
 * agree. An argument that is present (and not null) needs its header, equal once decoded; integers
 * compare as numbers. An absent or null argument needs no header, and one sent anyway is ignored.
 */
export function paramHeaderMismatch(
  declarations: readonly ParamHeader[],
  args: unknown,
  headerOf: (name: string) => string | undefined,
): string | undefined {
  for (const declaration of declarations) {
    const value = valueAt(args, declaration.path);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    const header = `Mcp-Param-${declaration.name}`;
    const argument = declaration.path.join('.');
    const sent = headerOf(declaration.name);
    if (sent === undefined)
      return `${header} is missing but arguments.${argument} is ${JSON.stringify(value)}`;
    const decoded = decode(sent);
    if (decoded === undefined) return `${header} is not valid Base64 inside =?base64?…?=`;
    const agrees =
      typeof value === 'number' && decimal.test(decoded)
        ? Number(decoded) === value
        : decoded === String(value);
    if (!agrees)
      return `${header} is ${JSON.stringify(decoded)} but arguments.${argument} is ${JSON.stringify(value)}`;
  }
  return undefined;
}

const scanned = new WeakMap<object, readonly ParamHeader[] | undefined>();

/** `scanParamHeaders`, once per schema object: a tool's descriptor keeps its schema until it is replaced. */
export function paramHeadersOf(inputSchema: unknown): readonly ParamHeader[] | undefined {
  if (!isObject(inputSchema)) return undefined;
  // A schema without declarations scans to an empty list: a known schema is found with one lookup.
  const known = scanned.get(inputSchema);
  if (known !== undefined || scanned.has(inputSchema)) return known;
  const declarations = scanParamHeaders(inputSchema);
  scanned.set(inputSchema, declarations);
  return declarations;
}
