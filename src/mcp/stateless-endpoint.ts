import type { ServerResponse } from 'node:http';
import type { Posted } from './batch.ts';
import { type EndpointRequest, exchangeInfo, type Refusal } from './exchange.ts';
import { batchNotSupported, defaultHeaderVersion, negotiatedVersion } from './negotiation.ts';
import type { SessionRegistry } from './sessions.ts';
import { HttpServerTransport, type TransportOptions } from './transport.ts';

/**
 * The endpoint without sessions: one shared transport answers every POST, each request carrying its
 * own protocol version; there is no standalone stream and nothing to delete.
 */
export class StatelessEndpoint {
  readonly #shared: HttpServerTransport;
  readonly #sessions: SessionRegistry;

  /** `sessions` stays empty in this mode; the endpoint only closes it. */
  constructor(transports: TransportOptions, sessions: SessionRegistry) {
    this.#shared = new HttpServerTransport(transports);
    this.#sessions = sessions;
  }

  initialize(
    message: NonNullable<Posted['initialize']>,
    res: ServerResponse,
    request: EndpointRequest,
  ): undefined {
    this.#shared.receive([message], res, exchangeInfo(request, false, negotiatedVersion(message)));
    return undefined;
  }

  receive(posted: Posted, res: ServerResponse, request: EndpointRequest): Refusal | undefined {
    const protocolVersion = request.protocolVersion ?? defaultHeaderVersion;
    const refusal = batchNotSupported(posted.batch, protocolVersion);
    if (refusal) return refusal;
    this.#shared.receive(posted.messages, res, exchangeInfo(request, posted.batch, protocolVersion));
    return undefined;
  }

  openStream(): Refusal {
    return {
      code: 'METHOD_NOT_ALLOWED',
      detail: 'stateless mode has no standalone stream',
      headers: { allow: 'POST' },
    };
  }

  delete(): Promise<Refusal> {
    return Promise.resolve({
      code: 'METHOD_NOT_ALLOWED',
      detail: 'stateless mode has no sessions',
      headers: { allow: 'POST' },
    });
  }

  /** There is no standalone stream to send a notification on. */
  broadcast(): void {}

  resourceUpdated(): void {}

  async close(): Promise<void> {
    await this.#shared.close();
    await this.#sessions.closeAll();
  }
}
