import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { LookoutError } from '../errors/catalog.ts';
import { replyError } from './reply.ts';

/**
 * Answers `Expect: 100-continue` itself: a request whose Content-Length is over `limit` gets 413 before
 * any `100 Continue`, so the client never sends the body (answered while the body was on its way, the
 * client could see a reset instead). The connection then closes, as the unsent body would otherwise be
 * read as the next request. Any other request gets its `100 Continue` and is served as usual.
 */
export function refuseOversizedBeforeContinue(server: HttpServer, limit: number): void {
  server.on('checkContinue', (req, res) => {
    if (Number(req.headers['content-length']) > limit) {
      replyError(res, 'BODY_TOO_LARGE', {
        detail: `limit is ${limit} bytes`,
        headers: { connection: 'close' },
      });
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
}

/** Reads a request body up to `limit` bytes; a larger body is refused without reading the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new LookoutError('BODY_TOO_LARGE', `limit is ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new LookoutError('BODY_TOO_LARGE', `limit is ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
