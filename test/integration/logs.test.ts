import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { NoopSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { connectClient, startTestLookout } from '../support/lookout.ts';

interface Record {
  level: string;
  message: string;
  trace_id?: string;
  [key: string]: unknown;
}

describe('logs: stdout JSON, redaction, the ring buffer over HTTP and MCP', () => {
  let lookout: Lookout & { logLines: string[] };
  let leaky: Lookout['logger'];

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
    const chatty = defineTool({
      name: 'chatty',
      description: 'Logs a line with secrets in its metadata.',
      input: z.object({}),
      handler: () => {
        leaky.warn('calling upstream', {
          headers: { authorization: 'Bearer s3cret', accept: 'json' },
          password: 'hunter2',
          user: 'ada',
        });
        return 'ok';
      },
    });
    lookout = await startTestLookout({ log: { level: 'info', format: 'json' } }, { definitions: [chatty] });
    leaky = lookout.logger;
    const client = await connectClient(lookout.url);
    await client.callTool({ name: 'chatty', arguments: {} });
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await client.close();
  });
  after(async () => {
    await lookout.close();
    trace.disable();
    context.disable();
  });

  const stdout = () => lookout.logLines.map((l) => JSON.parse(l) as Record);

  it('masks secrets in log metadata, at any depth', () => {
    const line = stdout().find((r) => r.message === 'calling upstream');
    assert.ok(line);
    assert.deepEqual(line.headers, { authorization: '***', accept: 'json' });
    assert.equal(line.password, '***');
    assert.equal(line.user, 'ada');
    assert.ok(!lookout.logLines.some((l) => l.includes('s3cret') || l.includes('hunter2')));
  });

  it('writes one access line per MCP request, in the request trace', () => {
    const access = stdout().filter((r) => r.message === 'mcp request');
    const call = access.find((r) => r.target === 'chatty');
    assert.ok(call);
    assert.equal(call.method, 'tools/call');
    assert.equal(call.outcome, 'ok');
    assert.equal(typeof call.duration_ms, 'number');
    assert.equal(typeof call.session, 'string');
    const warn = stdout().find((r) => r.message === 'calling upstream');
    assert.equal(warn?.trace_id, call.trace_id, 'the handler line and the access line share the trace');
  });

  it('serves recent records at GET /logs, filtered by level and trace id', async () => {
    const all = (await (await fetch(new URL('/logs?limit=1000', lookout.url))).json()) as {
      records: Record[];
    };
    assert.ok(all.records.length >= 4);
    const warnOnly = (await (await fetch(new URL('/logs?level=warn', lookout.url))).json()) as {
      records: Record[];
    };
    assert.ok(warnOnly.records.length >= 1);
    assert.ok(warnOnly.records.every((r) => r.level === 'warn' || r.level === 'error'));
    const traceId = warnOnly.records[0]?.trace_id as string;
    const byTrace = (await (await fetch(new URL(`/logs?trace_id=${traceId}`, lookout.url))).json()) as {
      records: Record[];
    };
    assert.deepEqual(byTrace.records.map((r) => r.message).sort(), ['calling upstream', 'mcp request']);
    assert.equal((await fetch(new URL('/logs?limit=0', lookout.url))).status, 400);
    assert.equal((await fetch(new URL('/logs?level=loud', lookout.url))).status, 400);
  });

  it('answers the same query through the lookout.logs.query tool', async () => {
    const client = await connectClient(lookout.url);
    const result = await client.callTool({
      name: 'lookout.logs.query',
      arguments: { level: 'warn', limit: 5 },
    });
    const { records } = JSON.parse((result.content as { text: string }[])[0]?.text ?? '{}') as {
      records: Record[];
    };
    assert.ok(records.some((r) => r.message === 'calling upstream' && r.password === '***'));
    await client.close();
  });
});
