import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Refusal } from './exchange.ts';
import type { Classified } from './messages.ts';

/** The version a client that sends no MCP-Protocol-Version header is assumed to speak (spec: 2025-03-26). */
export const defaultHeaderVersion = '2025-03-26';
/** Batches were dropped from the protocol in 2025-06-18. */
const batchVersions = new Set(['2024-11-05', '2025-03-26']);

/** A request that names a protocol version this server does not speak is refused before its body is read. */
export function unsupportedVersion(headerVersion: string | undefined): Refusal | undefined {
  if (headerVersion === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(headerVersion)) return undefined;
  return {
    code: 'UNSUPPORTED_PROTOCOL_VERSION',
    detail: `${headerVersion}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
  };
}

/** A batch from a version that has none is refused. */
export function batchNotSupported(batch: boolean, protocolVersion: string): Refusal | undefined {
  return batch && !batchVersions.has(protocolVersion)
    ? { code: 'BATCH_NOT_SUPPORTED', detail: protocolVersion }
    : undefined;
}

/** The version the SDK's server answers initialize with: the client's, when supported, else the latest. */
export function negotiatedVersion(message: Classified): string {
  const requested =
    message.kind === 'request'
      ? (message.message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion
      : undefined;
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}
