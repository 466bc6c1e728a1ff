/**
 * The one error catalog: every error Lookout reports to a client has a stable string code,
 * mapped once to a JSON-RPC error code and to the HTTP status used when it ends an HTTP exchange.
 */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors live in -32000..-32099. */
  ConnectionClosed: -32000,
  SessionNotFound: -32001,
  ServerBusy: -32002,
  Unavailable: -32003,
  UpstreamUnavailable: -32010,
  /** 2026-07-28: an HTTP header disagrees with the body it describes. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability its `_meta` did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: the request's protocol version is not served. */
  UnsupportedProtocolVersion: -32022,
  UpstreamTimeout: -32011,
  ToolTimeout: -32012,
  UpstreamResultTooLarge: -32013,
  UpstreamLockTimeout: -32014,
  Unauthorized: -32040,
  Forbidden: -32041,
  RateLimited: -32042,
} as const;

interface CatalogEntry {
  readonly rpc: number;
  readonly http: number;
  readonly message: string;
}

export const errorCatalog = {
  PARSE_ERROR: { rpc: JsonRpcCode.ParseError, http: 400, message: 'Parse error: body is not valid JSON' },
  INVALID_REQUEST: { rpc: JsonRpcCode.InvalidRequest, http: 400, message: 'Invalid request' },
  BATCH_NOT_SUPPORTED: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 400,
    message: 'Batch requests are not supported in this protocol version',
  },
  INITIALIZE_NOT_ALONE: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 400,
    message: 'initialize must be sent on its own, not in a batch',
  },
  ALREADY_INITIALIZED: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 400,
    message: 'Session already initialized: send initialize without Mcp-Session-Id',
  },
  SESSION_ID_REQUIRED: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 400,
    message: 'Mcp-Session-Id header is required',
  },
  SESSION_NOT_FOUND: { rpc: JsonRpcCode.SessionNotFound, http: 404, message: 'Session not found' },
  SESSION_LIMIT: {
    rpc: JsonRpcCode.ServerBusy,
    http: 503,
    message: 'Session limit reached, retry later',
  },
  STREAM_ALREADY_OPEN: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 409,
    message: 'A standalone SSE stream is already open for this session',
  },
  UNSUPPORTED_PROTOCOL_VERSION: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 400,
    message: 'Unsupported MCP-Protocol-Version',
  },
  PROTOCOL_VERSION_NOT_SERVED: {
    rpc: JsonRpcCode.UnsupportedProtocolVersion,
    http: 400,
    message: 'Unsupported protocol version',
  },
  HEADER_MISMATCH: { rpc: JsonRpcCode.HeaderMismatch, http: 400, message: 'Header mismatch' },
  INVALID_ENVELOPE: {
    rpc: JsonRpcCode.InvalidParams,
    http: 400,
    message: 'Invalid params: _meta must carry the protocol version and the client capabilities',
  },
  UNKNOWN_METHOD: { rpc: JsonRpcCode.MethodNotFound, http: 404, message: 'Method not found' },
  MISSING_CLIENT_CAPABILITY: {
    rpc: JsonRpcCode.MissingRequiredClientCapability,
    http: 400,
    message: 'Missing required client capability',
  },
  INPUT_NOT_DELIVERABLE: {
    rpc: JsonRpcCode.InternalError,
    http: 200,
    message: 'The handler asked the client for input on a request that cannot carry the question',
  },
  INVALID_REQUEST_STATE: {
    rpc: JsonRpcCode.InvalidParams,
    http: 200,
    message: 'Invalid requestState',
  },
  NOT_ACCEPTABLE: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 406,
    message: 'Accept must include application/json and text/event-stream',
  },
  NOT_ACCEPTABLE_SSE: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 406,
    message: 'Accept must include text/event-stream',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    rpc: JsonRpcCode.InvalidRequest,
    http: 415,
    message: 'Content-Type must be application/json',
  },
  BODY_TOO_LARGE: { rpc: JsonRpcCode.InvalidRequest, http: 413, message: 'Request body too large' },
  FORBIDDEN_HOST: { rpc: JsonRpcCode.InvalidRequest, http: 403, message: 'Forbidden' },
  METHOD_NOT_ALLOWED: { rpc: JsonRpcCode.InvalidRequest, http: 405, message: 'Method not allowed' },
  NOT_FOUND: { rpc: JsonRpcCode.InvalidRequest, http: 404, message: 'Not found' },
  METHOD_NOT_FOUND: { rpc: JsonRpcCode.MethodNotFound, http: 200, message: 'Method not found' },
  INVALID_PARAMS: { rpc: JsonRpcCode.InvalidParams, http: 200, message: 'Invalid params' },
  UNKNOWN_TOOL: { rpc: JsonRpcCode.InvalidParams, http: 200, message: 'Unknown tool' },
  INVALID_ARGUMENTS: { rpc: JsonRpcCode.InvalidParams, http: 200, message: 'Invalid arguments' },
  UNKNOWN_PROMPT: { rpc: JsonRpcCode.InvalidParams, http: 200, message: 'Unknown prompt' },
  UNKNOWN_RESOURCE: { rpc: JsonRpcCode.InvalidParams, http: 200, message: 'Resource not found' },
  INVALID_COMPLETION_REF: {
    rpc: JsonRpcCode.InvalidParams,
    http: 200,
    message: 'Invalid completion reference',
  },
  SESSION_CLOSED: {
    rpc: JsonRpcCode.ConnectionClosed,
    http: 200,
    message: 'Session closed before the reply',
  },
  UPSTREAM_UNAVAILABLE: { rpc: JsonRpcCode.UpstreamUnavailable, http: 200, message: 'Upstream unavailable' },
  UPSTREAM_TIMEOUT: { rpc: JsonRpcCode.UpstreamTimeout, http: 200, message: 'Upstream timed out' },
  UPSTREAM_BUSY: { rpc: JsonRpcCode.ServerBusy, http: 200, message: 'Upstream busy' },
  UPSTREAM_RESULT_TOO_LARGE: {
    rpc: JsonRpcCode.UpstreamResultTooLarge,
    http: 200,
    message: 'Upstream result too large',
  },
  UPSTREAM_LOCK_TIMEOUT: {
    rpc: JsonRpcCode.UpstreamLockTimeout,
    http: 200,
    message: 'Upstream lock not acquired in time',
  },
  UNAUTHORIZED: { rpc: JsonRpcCode.Unauthorized, http: 401, message: 'Unauthorized' },
  TOOL_FORBIDDEN: { rpc: JsonRpcCode.Forbidden, http: 200, message: 'Forbidden: missing scope' },
  SCOPE_REQUIRED: { rpc: JsonRpcCode.Forbidden, http: 403, message: 'Forbidden: missing scope' },
  OVERLOADED: { rpc: JsonRpcCode.ServerBusy, http: 503, message: 'Server overloaded, retry later' },
  RATE_LIMITED: { rpc: JsonRpcCode.RateLimited, http: 429, message: 'Too many requests, retry later' },
  TOOL_TIMEOUT: { rpc: JsonRpcCode.ToolTimeout, http: 200, message: 'Tool timed out' },
  DRAINING: { rpc: JsonRpcCode.Unavailable, http: 503, message: 'Server is shutting down' },
  INTERNAL: { rpc: JsonRpcCode.InternalError, http: 500, message: 'Internal error' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof errorCatalog;

/**
 * An error whose code is in the catalog; `detail` refines the message, `data` goes to the client as-is.
 * `code` is the JSON-RPC code because the SDK's Protocol copies `code` and `data` of a thrown error into
 * the reply; `catalogCode` is the stable string code.
 */
export class LookoutError extends Error {
  readonly catalogCode: ErrorCode;
  readonly code: number;
  readonly data: unknown;

  constructor(catalogCode: ErrorCode, detail?: string, data?: unknown) {
    const entry = errorCatalog[catalogCode];
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`);
    this.name = 'LookoutError';
    this.catalogCode = catalogCode;
    this.code = entry.rpc;
    this.data = data;
  }
}

/** A start-up refusal caused by configuration (a module that is missing, unsigned or tampered): exit code 2. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface JsonRpcErrorBody {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data?: unknown };
}

export function jsonRpcError(
  code: ErrorCode,
  id: string | number | null = null,
  detail?: string,
  data?: unknown,
): JsonRpcErrorBody {
  const entry = errorCatalog[code];
  const message = detail === undefined ? entry.message : `${entry.message}: ${detail}`;
  return {
    jsonrpc: '2.0',
    id,
    error: data === undefined ? { code: entry.rpc, message } : { code: entry.rpc, message, data },
  };
}

export function httpStatusOf(code: ErrorCode): number {
  return errorCatalog[code].http;
}
