import type { IncomingMessage, ServerResponse } from 'node:http';
import { LookoutError } from '../errors/catalog.ts';
import type { McpEndpoint } from '../mcp/endpoint.ts';
import type { EndpointRequest, Refusal } from '../mcp/exchange.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';
import { principalOf } from './auth.ts';
import { readBody } from './body.ts';
import { accepts, acceptsJsonAndEvents, isJsonContentType } from './content-negotiation.ts';
import { replyError } from './reply.ts';
import { transportContextOf } from './transport-context.ts';

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function endpointRequest(req: IncomingMessage, onLongLived?: () => void): EndpointRequest {
  return {
    sessionId: header(req, 'mcp-session-id'),
    protocolVersion: header(req, 'mcp-protocol-version'),
    mcpMethod: header(req, 'mcp-method'),
    mcpName: header(req, 'mcp-name'),
    mcpParam: (name) => header(req, `mcp-param-${name.toLowerCase()}`),
    httpVersion: req.httpVersion,
    transportContext: transportContextOf(req),
    principal: principalOf(req),
    onLongLived,
  };
}

function refuse(res: ServerResponse, refusal: Refusal | undefined): void {
  if (refusal) replyError(res, refusal.code, refusal);
}

/**
 * HTTP glue for the MCP endpoint: checks what HTTP decides (media types, encoding, body size, JSON),
 * hands the endpoint the parsed body and what it needs of the request, and sends its refusals.
 */
export function mcpRoute(endpoint: McpEndpoint, maxBodyBytes: number) {
  return {
    /** `onLongLived`: gives back the exchange's admission slot, when it becomes a listen stream. */
    async post(req: IncomingMessage, res: ServerResponse, onLongLived?: () => void): Promise<void> {
      if (!acceptsJsonAndEvents(header(req, 'accept'))) return replyError(res, 'NOT_ACCEPTABLE');
      if (!isJsonContentType(header(req, 'content-type'))) return replyError(res, 'UNSUPPORTED_MEDIA_TYPE');
      const encoding = header(req, 'content-encoding')?.trim().toLowerCase();
      if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
        return replyError(res, 'UNSUPPORTED_MEDIA_TYPE', {
          detail: `Content-Encoding ${encoding} is not supported`,
        });
      }
      let body: Buffer;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (error instanceof LookoutError)
          return replyError(res, error.catalogCode, { headers: { connection: 'close' } });
        throw error;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return replyError(res, 'PARSE_ERROR');
      }
      refuse(res, endpoint.post(parsed, res, endpointRequest(req, onLongLived)));
    },

    get(req: IncomingMessage, res: ServerResponse): void {
      const acceptsEventStream = accepts(header(req, 'accept'), 'text/event-stream');
      refuse(res, endpoint.openStream(res, endpointRequest(req), acceptsEventStream));
    },

    async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const refusal = await endpoint.delete(endpointRequest(req));
      if (refusal) return refuse(res, refusal);
      finishOutsideRequestContext(() => res.writeHead(200).end());
    },
  };
}
