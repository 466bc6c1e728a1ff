/**
 * The `mcpServers` map of desktop clients and IDEs (Claude Desktop, Cursor, Windsurf; VS Code names it
 * `servers`) as Lookout upstreams, so that such a file works as a Lookout config file as it is.
 */

/** The keys under which a client config lists its servers. */
export const serverMapKeys = ['mcpServers', 'servers'] as const;

/** Keys some clients write that mean nothing to a gateway (approval lists, UI text). */
const clientOnlyKeys = new Set(['autoApprove', 'alwaysAllow', 'description', 'disabled', 'type']);

const transports: Record<string, 'stdio' | 'http'> = {
  stdio: 'stdio',
  http: 'http',
  'streamable-http': 'http',
  streamableHttp: 'http',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Upstreams from a `{ name: { command, args, env } | { url, headers } }` map, with `type` when given.
 * An entry may also carry any of Lookout's own upstream keys (`required`, `tools`, `timeouts`, …);
 * entries marked `disabled` are left out.
 */
export function upstreamsFromServerMap(
  key: string,
  servers: unknown,
): { upstreams: Record<string, unknown>[] } | { errors: string[] } {
  if (!isPlainObject(servers)) return { errors: [`${key}: expected a mapping of server names to servers`] };
  const upstreams: Record<string, unknown>[] = [];
  const errors: string[] = [];
  for (const [name, entry] of Object.entries(servers)) {
    const where = `${key}.${name}`;
    if (!isPlainObject(entry)) {
      errors.push(`${where}: expected an object with command (stdio) or url (HTTP)`);
      continue;
    }
    if (entry.disabled === true) continue;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      errors.push(`${where}: a server name here names its tools: letters, digits, _ and - only`);
      continue;
    }
    const type = entry.type ?? (entry.url !== undefined && entry.command === undefined ? 'http' : 'stdio');
    const transport = typeof type === 'string' ? transports[type] : undefined;
    if (transport === undefined) {
      errors.push(
        `${where}.type: ${JSON.stringify(type)} is not supported; expected stdio, http or streamable-http` +
          (type === 'sse' ? ' (the old HTTP+SSE transport is not: give the Streamable HTTP URL)' : ''),
      );
      continue;
    }
    const upstream: Record<string, unknown> = { name, transport };
    for (const [k, v] of Object.entries(entry)) if (!clientOnlyKeys.has(k)) upstream[k] = v;
    upstreams.push(upstream);
  }
  return errors.length > 0 ? { errors } : { upstreams };
}
