import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { isObject } from '../json/object.ts';

/**
 * The two protocol eras served on one endpoint. Legacy (2025-11-25 and before) negotiates a version
 * with `initialize` and may keep a session; modern (2026-07-28) carries everything a request needs in
 * its own `_meta` envelope and has no session.
 */
export type Era = 'legacy' | 'modern';

export const modernVersion = '2026-07-28';

/** Every version served, newest first: what `server/discover` lists and -32022 names. */
export const supportedVersions: readonly string[] = [
  modernVersion,
  ...SUPPORTED_PROTOCOL_VERSIONS.filter((v) => v >= '2025-03-26'),
];

/** The `_meta` keys of the 2026-07-28 request envelope and result. */
export const metaKey = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** The request's `_meta`, when the body is one request that has one. */
export function envelopeOf(body: unknown): Record<string, unknown> | undefined {
  if (!isObject(body) || !isObject(body.params)) return undefined;
  const meta = body.params._meta;
  return isObject(meta) ? meta : undefined;
}

/**
 * Which era a POST speaks: modern when the MCP-Protocol-Version header is 2026-07-28 or the body's
 * `_meta` claims a protocol version (the modern ladder then checks the two agree and are served);
 * otherwise legacy, whose path is unchanged. Cheap: nothing beyond the already parsed body is read.
 */
export function eraOf(body: unknown, headerVersion: string | undefined): Era {
  if (headerVersion === modernVersion) return 'modern';
  return envelopeOf(body)?.[metaKey.protocolVersion] !== undefined ? 'modern' : 'legacy';
}
