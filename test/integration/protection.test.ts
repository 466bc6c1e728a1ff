import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { Lookout } from '../../src/main.ts';
import { cancellations, waitTool } from '../fixtures/slow-tools.ts';
import { connectModernClient, mcpHeaders, openSession, rpc, startTestLookout } from '../support/lookout.ts';

const issuer = 'https://issuer.test';
const audience = 'lookout-tests';
const staticToken = 'static-secret-token-0123456789';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** Calls a tool without arguments in a session of its own, with this bearer token. */
async function callWithToken(url: string, token: string, tool: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 't', version: '1' });
  await client.connect(transport);
  try {
    return await client.callTool({ name: tool, arguments: {} });
  } finally {
    await client.close();
  }
}

describe('auth: static tokens and JWT against a locally served JWKS', () => {
  let jwks: Server;
  let lookout: Lookout & { logLines: string[] };
  let good: SigningKey;
  let other: SigningKey;

  const jwt = (
    claims: Record<string, unknown>,
    options: { key?: SigningKey; expires?: string; aud?: string; iss?: string } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject((claims.sub as string | undefined) ?? 'alice@example.com')
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? audience)
      .setIssuedAt()
      .setExpirationTime(options.expires ?? '5m')
      .sign(options.key ?? good);

  const initialize = (token?: string) =>
    rpc(
      lookout.url,
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      },
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );

  before(async () => {
    const pair = await generateKeyPair('RS256');
    good = pair.privateKey as SigningKey;
    other = (await generateKeyPair('RS256')).privateKey as SigningKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] })),
    );
    jwks.listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    lookout = await startTestLookout(
      {
        log: { level: 'info', format: 'json' },
        auth: {
          tokens: [
            {
              sha256: createHash('sha256').update(staticToken).digest('hex'),
              subject: 'ci-bot',
              scopes: ['tools'],
            },
          ],
          jwt: {
            jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
            issuer,
            audience,
            clockSkewSeconds: 5,
          },
          authorizationServers: [issuer],
          toolScopes: { 'lookout.*': ['admin'] },
        },
      },
      { definitions: [waitTool] },
    );
  });
  after(async () => {
    await lookout.close();
    jwks.close();
  });

  it('refuses a request without a token: 401, a JSON-RPC error, and WWW-Authenticate naming the metadata', async () => {
    const res = await initialize();
    assert.equal(res.status, 401);
    assert.equal((res.body as { error: { code: number } }).error.code, -32040);
    const challenge = res.headers.get('www-authenticate') ?? '';
    const metadataUrl = challenge.match(/resource_metadata="([^"]+)"/)?.[1];
    assert.ok(metadataUrl, challenge);
    const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    assert.equal(metadata.resource, lookout.url);
    assert.deepEqual(metadata.authorization_servers, [issuer]);
    assert.deepEqual(metadata.bearer_methods_supported, ['header']);
    assert.deepEqual(metadata.scopes_supported, ['admin']);
  });

  it('accepts a valid JWT and a valid static token', async () => {
    assert.equal((await initialize(await jwt({ scope: 'tools' }))).status, 200);
    assert.equal((await initialize(staticToken)).status, 200);
  });

  for (const [name, token] of [
    ['expired', () => jwt({}, { expires: '-1m' })],
    ['wrong audience', () => jwt({}, { aud: 'someone-else' })],
    ['wrong issuer', () => jwt({}, { iss: 'https://evil.test' })],
    ['bad signature', () => jwt({}, { key: other })],
    ['unknown static token', async () => 'not-the-token'],
  ] as const) {
    it(`refuses a token with ${name}: 401 invalid_token`, async () => {
      const res = await initialize(await token());
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.doesNotMatch(res.text, /at .+\.(ts|js):\d+/);
    });
  }

  it('authorizes tools by scope: a missing scope is -32041, the right one passes', async () => {
    const call = async (scope: string, tool: string) =>
      callWithToken(lookout.url, await jwt({ scope }), tool);
    await assert.rejects(call('tools', 'lookout.health'), (error: Error & { code?: number }) => {
      assert.equal(error.code, -32041);
      assert.match(error.message, /lookout.health needs admin/);
      return true;
    });
    const allowed = await call('tools admin', 'lookout.health');
    assert.equal((allowed.structuredContent as { status: string }).status, 'ok');
  });

  it('puts the subject on logs only as a hash, and never a token', async () => {
    const subject = 'carol@example.com';
    const res = await initialize(await jwt({ sub: subject }));
    assert.equal(res.status, 200);
    const hash = createHash('sha256').update(subject).digest('hex').slice(0, 16);
    assert.ok(lookout.logLines.some((l) => l.includes(`"subject":"${hash}"`)));
    assert.ok(!lookout.logLines.some((l) => l.includes(subject) || l.includes(staticToken)));
  });
});

describe("auth without toolScopes: the tools that show every client's data are admin-only", () => {
  const tokens = { user: 'user-token-0123456789abcdef', admin: 'admin-token-0123456789abcdef' };
  const lookouts: (Lookout & { logLines: string[] })[] = [];
  const start = async (toolScopes?: Record<string, string[]>) => {
    const lookout = await startTestLookout({
      auth: {
        tokens: Object.entries(tokens).map(([name, token]) => ({
          sha256: createHash('sha256').update(token).digest('hex'),
          subject: name,
          scopes: name === 'admin' ? ['admin'] : ['tools'],
        })),
        ...(toolScopes && { toolScopes }),
      },
    });
    lookouts.push(lookout);
    return lookout;
  };
  const call = (lookout: Lookout, token: string, tool: string) => callWithToken(lookout.url, token, tool);
  after(async () => {
    for (const lookout of lookouts) await lookout.close();
  });

  it('refuses lookout.logs.query and lookout.sessions without the admin scope, and serves them with it', async () => {
    const lookout = await start();
    for (const tool of ['lookout.logs.query', 'lookout.sessions']) {
      await assert.rejects(call(lookout, tokens.user, tool), (error: Error & { code?: number }) => {
        assert.equal(error.code, -32041);
        assert.match(error.message, new RegExp(`${tool} needs admin`));
        return true;
      });
      assert.notEqual((await call(lookout, tokens.admin, tool)).isError, true);
    }
    assert.equal((await call(lookout, tokens.user, 'lookout.health')).isError, undefined);
  });

  it('leaves them to toolScopes when an entry names them, a pattern included', async () => {
    const lookout = await start({ 'lookout.logs.*': [], 'lookout.sessions': ['tools'] });
    assert.notEqual((await call(lookout, tokens.user, 'lookout.logs.query')).isError, true);
    assert.notEqual((await call(lookout, tokens.user, 'lookout.sessions')).isError, true);
  });
});

describe('admission control', () => {
  it('under 3× the concurrency limit: admitted calls succeed, the excess gets 503 + Retry-After, the service stays ready', {
    timeout: 30_000,
  }, async () => {
    const lookout = await startTestLookout(
      { admission: { maxConcurrent: 4, queue: 0, queueTimeoutSeconds: 1 } },
      { definitions: [waitTool] },
    );
    try {
      const session = await openSession(lookout.url);
      const calls = Array.from({ length: 12 }, (_, i) =>
        rpc(
          lookout.url,
          { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'wait', arguments: { ms: 400 } } },
          { 'mcp-session-id': session },
        ),
      );
      const ready = await fetch(new URL('/health/ready', lookout.url));
      assert.equal(ready.status, 200, 'shedding does not flip readiness');
      const results = await Promise.all(calls);
      const ok = results.filter((r) => r.status === 200);
      const shed = results.filter((r) => r.status === 503);
      assert.equal(ok.length, 4);
      assert.equal(shed.length, 8);
      for (const r of ok)
        assert.deepEqual((r.body as { result: unknown }).result, {
          content: [{ type: 'text', text: 'waited 400 ms' }],
        });
      for (const r of shed) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.equal((r.body as { error: { code: number } }).error.code, -32002);
      }
      const after = await rpc(
        lookout.url,
        { jsonrpc: '2.0', id: 99, method: 'ping' },
        { 'mcp-session-id': session },
      );
      assert.equal(after.status, 200);
    } finally {
      await lookout.close();
    }
  });

  it('queues within the bound and the queue timeout, then admits', { timeout: 30_000 }, async () => {
    const lookout = await startTestLookout(
      { admission: { maxConcurrent: 2, queue: 2, queueTimeoutSeconds: 5 } },
      { definitions: [waitTool] },
    );
    try {
      const session = await openSession(lookout.url);
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          rpc(
            lookout.url,
            { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'wait', arguments: { ms: 200 } } },
            { 'mcp-session-id': session },
          ),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
      );
    } finally {
      await lookout.close();
    }
  });

  it('a 2026-07-28 listen stream gives its slot back: calls beside it are admitted', {
    timeout: 30_000,
  }, async () => {
    const lookout = await startTestLookout({
      admission: { maxConcurrent: 1, queue: 0, queueTimeoutSeconds: 1 },
    });
    const client = await connectModernClient(lookout.url, 'listener');
    try {
      const listening = await client.listen({ toolsListChanged: true });
      for (let i = 0; i < 3; i++) assert.ok((await client.listTools()).tools.length > 0);
      await listening.close();
    } finally {
      await client.close();
      await lookout.close();
    }
  });

  it('limits each client to its rate with a burst: 429 + Retry-After beyond it', async () => {
    const lookout = await startTestLookout({ admission: { ratePerSecond: 2, burst: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await fetch(lookout.url, {
          method: 'POST',
          headers: mcpHeaders,
          body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
        });
        statuses.push(res.status);
        if (res.status === 429) {
          assert.ok(Number(res.headers.get('retry-after')) >= 1);
          assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32042);
        } else {
          await res.text();
        }
      }
      assert.ok(statuses.filter((s) => s === 429).length >= 4, statuses.join());
      assert.ok(
        statuses.slice(0, 3).every((s) => s !== 429),
        'the burst is allowed',
      );
    } finally {
      await lookout.close();
    }
  });

  it('ends a tool call at its deadline: -32012, and the handler is told to stop', async () => {
    const lookout = await startTestLookout(
      { admission: { toolTimeouts: { wait: 0.2 } } },
      { definitions: [waitTool] },
    );
    try {
      const session = await openSession(lookout.url);
      const before = cancellations.length;
      const started = Date.now();
      const res = await rpc(
        lookout.url,
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { ms: 10_000 } } },
        { 'mcp-session-id': session },
      );
      assert.ok(Date.now() - started < 2000);
      assert.equal((res.body as { error: { code: number; message: string } }).error.code, -32012);
      assert.match((res.body as { error: { message: string } }).error.message, /wait took longer than 0.2 s/);
      assert.equal(cancellations.length, before + 1);
      assert.equal(cancellations.at(-1)?.aborted, true);
    } finally {
      await lookout.close();
    }
  });
});
