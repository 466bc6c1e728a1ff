import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { isObject } from '../json/object.ts';
import { headerValue } from '../tools/param-headers.ts';

const protocolVersionKey = 'io.modelcontextprotocol/protocolVersion';

/** The parameter a method's `Mcp-Name` header repeats (2026-07-28, SEP-2243). */
function nameOf(method: string, params: Record<string, unknown>): unknown {
  if (method === 'tools/call' || method === 'prompts/get') return params.name;
  if (method === 'resources/read') return params.uri;
  if (method.startsWith('tasks/')) return params.taskId;
  return undefined;
}

/**
 * The headers a 2026-07-28 request carries over HTTP, taken from its body: `MCP-Protocol-Version`
 * from its `_meta` envelope, `Mcp-Method`, and `Mcp-Name` where the method names a tool, prompt,
 * resource or task. None for a 2025 message (no envelope claims a version).
 */
export function modernRequestHeaders(message: JSONRPCMessage): Record<string, string> | undefined {
  if (!('method' in message) || !('id' in message) || !isObject(message.params)) return undefined;
  const meta = message.params._meta;
  const version = isObject(meta) ? meta[protocolVersionKey] : undefined;
  if (typeof version !== 'string') return undefined;
  const name = nameOf(message.method, message.params);
  return {
    'mcp-protocol-version': version,
    'mcp-method': message.method,
    ...(typeof name === 'string' && { 'mcp-name': headerValue(name) }),
  };
}
