import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, JSONRPCRequest, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcCode } from '../errors/catalog.ts';
import { isObject } from '../json/object.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';
import { paramHeaderMismatch, paramHeadersOf } from '../tools/param-headers.ts';
import { metaKey, modernVersion, supportedVersions } from './era.ts';
import { type EndpointRequest, exchangeInfo, type Refusal } from './exchange.ts';
import { type Classified, classify } from './messages.ts';
import { HttpServerTransport, sseEvent, sseHeaders, type TransportOptions } from './transport.ts';

/** The methods a 2026-07-28 request may call; anything else (initialize, ping, setLevel…) is 404. */
const modernMethods = new Set([
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'subscriptions/listen',
  'tasks/get',
  'tasks/update',
  'tasks/cancel',
]);

/** Results a client may cache, and so carry `ttlMs` and `cacheScope`. */
const cacheable = new Set([
  'server/discover',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
  'resources/read',
]);

/** Which `params` field the Mcp-Name header repeats, per method. */
const namedBy: Record<string, 'name' | 'uri' | 'taskId'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/** Which listen filter flag each list-changed notification needs. */
const filterFlagOf: Record<string, string> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged',
};

const noHeader = (): undefined => undefined;

/** A header value with its optional whitespace removed and its RFC 2047-style base64 form decoded. */
function headerValue(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  const encoded = value?.match(/^=\?base64\?(.*)\?=$/i);
  return encoded ? Buffer.from(encoded[1] as string, 'base64').toString('utf8') : value;
}

/**
 * A 2025-era `task` hint on tools/call is ignored in 2026-07-28, where the server alone decides what
 * runs as a task; dropped here so the protocol server does not read it as a task request.
 */
function withoutTaskHint(message: Extract<Classified, { kind: 'request' }>): Classified {
  const params = message.message.params;
  if (message.message.method !== 'tools/call' || params === undefined || !('task' in params)) return message;
  const { task: _ignored, ...rest } = params;
  return { kind: 'request', message: { ...message.message, params: rest } };
}

interface Listener {
  readonly id: RequestId;
  readonly filter: Record<string, unknown>;
  readonly res: ServerResponse;
}

export interface ModernOptions {
  readonly serverInfo: { readonly name: string; readonly version: string };
  /** How long clients may cache list results and resource reads. */
  readonly cacheTtlMs: number;
  /** `private` when answers depend on who asks (authentication is on). */
  readonly cacheScope: 'public' | 'private';
  readonly keepAliveSeconds: number;
  /** A tool's input schema, whose `x-mcp-header` properties the request's headers must repeat. */
  readonly inputSchemaOf: (tool: string) => unknown;
}

/**
 * The 2026-07-28 side of `/mcp`: every request carries its protocol version and client capabilities
 * in `_meta`, so nothing is looked up; the request is checked against its headers, then handed to the
 * one modern transport. `subscriptions/listen` streams are kept here.
 */
export class ModernEndpoint {
  readonly #transport: HttpServerTransport;
  readonly #options: ModernOptions;
  readonly #listeners = new Set<Listener>();

  constructor(transports: TransportOptions, options: ModernOptions) {
    this.#options = options;
    const serverMeta = { [metaKey.serverInfo]: options.serverInfo };
    this.#transport = new HttpServerTransport({
      ...transports,
      modern: {
        shapeResult: (method, result) => {
          // One copy of the handler's result (which a catalog may share between calls), filled in place.
          const shaped: Record<string, unknown> = { ...result };
          if (result.resultType === undefined) {
            shaped.resultType = 'complete';
            if (cacheable.has(method)) {
              // A handler's own hint (a resource that changes on every read) wins.
              if (typeof result.ttlMs !== 'number') shaped.ttlMs = options.cacheTtlMs;
              if (result.cacheScope !== 'public' && result.cacheScope !== 'private')
                shaped.cacheScope = options.cacheScope;
            }
          }
          shaped._meta = isObject(result._meta) ? { ...result._meta, ...serverMeta } : serverMeta;
          return shaped;
        },
        errorStatus: (code) => (code === JsonRpcCode.MissingRequiredClientCapability ? 400 : 200),
      },
    });
  }

  receive(body: unknown, res: ServerResponse, request: EndpointRequest): Refusal | undefined {
    if (Array.isArray(body)) return { code: 'BATCH_NOT_SUPPORTED', detail: modernVersion };
    const message = classify(body);
    if (message.kind === 'invalid')
      return { code: 'INVALID_REQUEST', id: message.id, detail: message.reason };
    if (message.kind !== 'request') {
      // Nothing the server sends a modern client needs an answer, and cancelling is closing the stream.
      finishOutsideRequestContext(() => res.writeHead(202).end());
      return undefined;
    }
    const refusal = this.#check(message.message, request);
    if (refusal) return refusal;
    if (message.message.method === 'subscriptions/listen') {
      const listenRefusal = this.#listen(message.message, res);
      if (!listenRefusal) request.onLongLived?.();
      return listenRefusal;
    }
    this.#transport.receive([withoutTaskHint(message)], res, exchangeInfo(request, false, modernVersion));
    return undefined;
  }

  /** The envelope and header rules of 2026-07-28, in the order the revision gives them. */
  #check(message: JSONRPCRequest, request: EndpointRequest): Refusal | undefined {
    const { id, method } = message;
    const params = message.params ?? {};
    const meta = params._meta;
    if (
      !isObject(meta) ||
      typeof meta[metaKey.protocolVersion] !== 'string' ||
      !isObject(meta[metaKey.clientCapabilities])
    ) {
      return { code: 'INVALID_ENVELOPE', id };
    }
    const version = meta[metaKey.protocolVersion] as string;
    if (request.protocolVersion !== version && request.protocolVersion?.trim() !== version) {
      return {
        code: 'HEADER_MISMATCH',
        id,
        detail: `MCP-Protocol-Version ${request.protocolVersion ?? '(none)'} but _meta says ${version}`,
      };
    }
    if (version !== modernVersion) {
      return {
        code: 'PROTOCOL_VERSION_NOT_SERVED',
        id,
        detail: version,
        data: { supported: supportedVersions, requested: version },
      };
    }
    if (request.mcpMethod !== method && headerValue(request.mcpMethod) !== method) {
      return {
        code: 'HEADER_MISMATCH',
        id,
        detail: `Mcp-Method ${request.mcpMethod ?? '(none)'} but the body calls ${method}`,
      };
    }
    const nameField = namedBy[method];
    const name = nameField === undefined ? undefined : params[nameField];
    if (typeof name === 'string' && request.mcpName !== name && headerValue(request.mcpName) !== name) {
      return {
        code: 'HEADER_MISMATCH',
        id,
        detail: `Mcp-Name ${request.mcpName ?? '(none)'} but the body names ${name}`,
      };
    }
    if (!modernMethods.has(method)) return { code: 'UNKNOWN_METHOD', id, detail: method };
    if (method === 'tools/call' && typeof name === 'string') {
      const declarations = paramHeadersOf(this.#options.inputSchemaOf(name));
      const mismatch =
        declarations !== undefined && declarations.length > 0
          ? paramHeaderMismatch(declarations, params.arguments, request.mcpParam ?? noHeader)
          : undefined;
      if (mismatch) return { code: 'HEADER_MISMATCH', id, detail: mismatch };
    }
    return undefined;
  }

  /** Opens a listen stream: the acknowledgement first, then the notifications its filter asked for. */
  #listen(message: JSONRPCRequest, res: ServerResponse): Refusal | undefined {
    const filter = message.params?.notifications;
    if (!isObject(filter)) {
      return {
        code: 'INVALID_PARAMS',
        id: message.id,
        detail: 'subscriptions/listen: params.notifications must be an object',
      };
    }
    const listener: Listener = { id: message.id, filter, res };
    this.#listeners.add(listener);
    res.writeHead(200, sseHeaders);
    this.#write(listener, 'notifications/subscriptions/acknowledged', { notifications: filter });
    const keepAliveMs = this.#options.keepAliveSeconds * 1000;
    const keepAlive =
      keepAliveMs > 0 ? setInterval(() => res.write(': keepalive\n\n'), keepAliveMs) : undefined;
    keepAlive?.unref();
    res.once('close', () => {
      clearInterval(keepAlive);
      this.#listeners.delete(listener);
    });
    return undefined;
  }

  #write(listener: Listener, method: string, params: Record<string, unknown>): void {
    if (listener.res.writableEnded) return;
    const notification: JSONRPCMessage = {
      jsonrpc: '2.0',
      method,
      params: { ...params, _meta: { [metaKey.subscriptionId]: listener.id } },
    };
    listener.res.write(sseEvent(notification));
  }

  /** A list changed: tells the listen streams that asked for it. */
  broadcast(method: string): void {
    const flag = filterFlagOf[method];
    if (flag === undefined) return;
    for (const listener of this.#listeners)
      if (listener.filter[flag] === true) this.#write(listener, method, {});
  }

  /** A resource changed: tells the listen streams subscribed to it. */
  resourceUpdated(uri: string): void {
    for (const listener of this.#listeners) {
      const uris = listener.filter.resourceSubscriptions;
      if (Array.isArray(uris) && uris.includes(uri)) {
        this.#write(listener, 'notifications/resources/updated', { uri });
      }
    }
  }

  /**
   * Ends every listen stream deliberately: each gets the empty `subscriptions/listen` result first,
   * which tells its client the end was the server's choice, not a dropped connection; the client
   * opens a new one, on this process or another.
   */
  endListens(): void {
    for (const listener of this.#listeners) {
      if (listener.res.writableEnded) continue;
      const ended: JSONRPCMessage = {
        jsonrpc: '2.0',
        id: listener.id,
        result: {
          resultType: 'complete',
          _meta: {
            [metaKey.subscriptionId]: listener.id,
            [metaKey.serverInfo]: this.#options.serverInfo,
          },
        },
      };
      listener.res.end(sseEvent(ended));
    }
    this.#listeners.clear();
  }

  async close(): Promise<void> {
    this.endListens();
    await this.#transport.close();
  }
}
