/**
 * Baseline: the least an Express app can do to answer a JSON-RPC tools/call echo. No MCP semantics,
 * no sessions, no telemetry: the ceiling Lookout is measured against.
 */
import express from 'express';
import { listenAndAnnounce } from './listen.ts';

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.post('/mcp', (req, res) => {
  const { id, params } = req.body as { id: number; params?: { arguments?: { text?: string } } };
  res.json({
    jsonrpc: '2.0',
    id,
    result: { content: [{ type: 'text', text: params?.arguments?.text ?? '' }] },
  });
});
listenAndAnnounce(app);
