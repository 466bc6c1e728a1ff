/**
 * How every baseline starts serving: on loopback, on `PORT` (0 picks a free one), then one JSON line
 * on stdout that tells the bench harness it is ready and on which port.
 */
import type { Server } from 'node:http';
import type { Express } from 'express';

export function listenAndAnnounce(app: Express): Server {
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  });
  return server;
}
