import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';

function configFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'lookout-mcpservers-')), 'config.json');
  writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}

describe('a desktop-client config file (mcpServers) as a Lookout config file', () => {
  it('maps Claude Desktop / Cursor entries to stdio and HTTP upstreams, beside Lookout keys', () => {
    const path = configFile({
      port: 9100,
      mcpServers: {
        memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { A: '1' } },
        remote: { url: 'http://127.0.0.1:3001/mcp', headers: { authorization: 'Bearer t' } },
        typed: { type: 'streamable-http', url: 'http://127.0.0.1:3002/mcp' },
        local: { type: 'stdio', command: 'node', args: ['server.js'], required: true },
        off: { command: 'nope', disabled: true },
        approved: { command: 'node', autoApprove: ['read'] },
      },
    });
    const result = loadConfig({ env: {}, configPath: path });
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.equal(result.config.port, 9100);
    const byName = Object.fromEntries(result.config.upstreams.map((u) => [u.name, u]));
    assert.deepEqual(Object.keys(byName), ['memory', 'remote', 'typed', 'local', 'approved']);
    assert.equal(byName.memory?.transport, 'stdio');
    assert.equal(byName.memory?.command, 'npx');
    assert.deepEqual(byName.memory?.args, ['-y', '@modelcontextprotocol/server-memory']);
    assert.deepEqual(byName.memory?.env, { A: '1' });
    assert.equal(byName.remote?.transport, 'http');
    assert.deepEqual(byName.remote?.headers, { authorization: 'Bearer t' });
    assert.equal(byName.typed?.transport, 'http');
    assert.equal(byName.local?.required, true, "Lookout's own upstream keys are taken too");
  });

  it("adds to Lookout's own upstreams; VS Code's `servers` map works the same", () => {
    const path = configFile({
      upstreams: [{ name: 'own', transport: 'http', url: 'http://127.0.0.1:1/mcp' }],
      servers: { vs: { type: 'http', url: 'http://127.0.0.1:2/mcp' } },
    });
    const result = loadConfig({ env: {}, configPath: path });
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.deepEqual(
      result.config.upstreams.map((u) => [u.name, u.transport]),
      [
        ['own', 'http'],
        ['vs', 'http'],
      ],
    );
  });

  it('names the server of a bad entry: the SSE transport, a name unfit for tools, a duplicate', () => {
    const sse = loadConfig({
      env: {},
      configPath: configFile({ mcpServers: { old: { type: 'sse', url: 'http://x/sse' } } }),
    });
    assert.ok(!sse.ok);
    assert.match(sse.errors[0] as string, /mcpServers\.old\.type: "sse" is not supported.*Streamable HTTP/);
    const name = loadConfig({
      env: {},
      configPath: configFile({ mcpServers: { 'my server': { command: 'x' } } }),
    });
    assert.ok(!name.ok);
    assert.match(name.errors[0] as string, /mcpServers\.my server: .*letters, digits/);
    const twice = loadConfig({
      env: {},
      configPath: configFile({
        upstreams: [{ name: 'a', transport: 'stdio', command: 'x' }],
        mcpServers: { a: { command: 'y' } },
      }),
    });
    assert.ok(!twice.ok);
    assert.match(twice.errors.join('\n'), /upstream names must be unique/);
  });
});
