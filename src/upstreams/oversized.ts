import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { jsonRpcError } from '../errors/catalog.ts';

/** A message from an upstream over its size limit, dropped unread. */
export interface OversizedMessage {
  /** Its size, or as much of it as was read before it was dropped. */
  readonly bytes: number;
  readonly limit: number;
  /** The id of the request it answers, when it could be found. */
  readonly id: RequestId | undefined;
}

/** How much of an oversized message's start and end is kept to find its id. */
export const idSearchBytes = 256;

const idValue = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
/** `{"jsonrpc":"2.0","id":…` or `{"id":…` at the start (Python SDK and most others). */
const leadingId = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${idValue}`);
/** `…,"id":…}` at the end (the TypeScript SDK writes `{result, jsonrpc, id}`). */
const trailingId = new RegExp(String.raw`"id"\s*:\s*${idValue}\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$`);

/** The top-level id of a JSON-RPC message of which only the first and last bytes are known. */
export function findMessageId(head: string, tail: string): RequestId | undefined {
  const found = leadingId.exec(head)?.[1] ?? trailingId.exec(tail)?.[1];
  return found === undefined ? undefined : (JSON.parse(found) as RequestId);
}

/** The error response that stands in for an oversized answer: the call fails, nothing else does. */
export function tooLargeResponse(upstream: string, oversized: OversizedMessage): JSONRPCMessage {
  return jsonRpcError(
    'UPSTREAM_RESULT_TOO_LARGE',
    oversized.id ?? null,
    `${upstream}'s answer exceeds its limit of ${oversized.limit} bytes (maxResultBytes)`,
    { upstream },
  ) as JSONRPCMessage;
}
