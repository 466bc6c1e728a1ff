/**
 * Baseline: the MCP TypeScript SDK 2.x serving both eras the way it is meant to — `createMcpHandler`
 * with a low-level `Server` factory (a fresh server per request), answering the same echo tool. It is
 * what Lookout would run instead of its own dispatcher (design 23), so the bench can quote the ratio.
 * Served in-process over HTTP: Express hands each POST to the handler as a web Request, no telemetry.
 */
import { createMcpHandler, Server } from '@modelcontextprotocol/server';
import express from 'express';
import { listenAndAnnounce } from './listen.ts';

const echoTool = {
  name: 'echo',
  description: 'Echo',
  inputSchema: { type: 'object' as const, properties: { text: { type: 'string' } }, required: ['text'] },
};

function newServer(): Server {
  const server = new Server({ name: 'sdk2-handler', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler('tools/list', () => ({ tools: [echoTool] }));
  server.setRequestHandler('tools/call', (request) => ({
    content: [{ type: 'text', text: String(request.params.arguments?.text ?? '') }],
  }));
  return server;
}

const handler = createMcpHandler(newServer, { legacy: 'stateless' });

const app = express();
app.disable('x-powered-by');
app.use(express.raw({ type: '*/*', limit: '4mb' }));
app.all('/mcp', async (req, res) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  const hasBody = req.method === 'POST' && Buffer.isBuffer(req.body);
  const response = await handler.fetch(
    new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.originalUrl}`, {
      method: req.method,
      headers,
      ...(hasBody && { body: req.body as Buffer }),
    }),
  );
  res.status(response.status);
  response.headers.forEach((value, name) => {
    res.setHeader(name, value);
  });
  res.end(Buffer.from(await response.arrayBuffer()));
});

const listener = listenAndAnnounce(app);
process.once('SIGTERM', () => {
  listener.close();
  listener.closeAllConnections();
});
