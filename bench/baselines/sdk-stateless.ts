/**
 * Baseline: the MCP TypeScript SDK's stateless Streamable HTTP pattern — Express, and for every POST a
 * fresh McpServer and StreamableHTTPServerTransport (no session ids), closed when the response ends.
 * The bench runs it under OpenTelemetry's zero-code setup (auto-instrumentations-node's `register`
 * with the ESM loader hook), exporting to the same OTLP receiver as Lookout.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { z } from 'zod';
import { listenAndAnnounce } from './listen.ts';

function newServer(): McpServer {
  const server = new McpServer({ name: 'sdk-stateless', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

const app = express();
app.use(express.json());
app.post('/mcp', async (req, res) => {
  const server = newServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
const notAllowed = (_req: express.Request, res: express.Response) => {
  res.status(405).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null });
};
app.get('/mcp', notAllowed);
app.delete('/mcp', notAllowed);

const listener = listenAndAnnounce(app);
// Stop serving on SIGTERM; the process then exits once telemetry (if any) has flushed.
process.once('SIGTERM', () => {
  listener.close();
  listener.closeAllConnections();
});
