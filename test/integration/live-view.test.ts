import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout } from '../support/lookout.ts';

const adminToken = 'live-view-admin-token';
const toolsToken = 'live-view-tools-token';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const someTraceId = '0af7651916cd43dd8448eb211c80319c';

/** The first bytes of a response body, then the connection is dropped (for event streams). */
async function firstChunk(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const { value } = await reader.read();
  await reader.cancel();
  return new TextDecoder().decode(value);
}

describe('the live view with auth on', () => {
  let lookout: Lookout;
  let base: string;

  before(async () => {
    lookout = await startTestLookout({
      auth: {
        tokens: [
          { sha256: sha256(adminToken), subject: 'operator', scopes: ['admin'] },
          { sha256: sha256(toolsToken), subject: 'ci-bot', scopes: ['tools'] },
        ],
      },
    });
    base = new URL(lookout.url).origin;
  });
  after(() => lookout.close());

  const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      redirect: 'manual',
      headers: { ...headers, ...(token !== undefined && { authorization: `Bearer ${token}` }) },
    });

  for (const path of [
    '/',
    '/live/app.js',
    '/live/uplot.js',
    '/live/events',
    `/live/trace?id=${someTraceId}`,
    '/logs',
  ]) {
    it(`refuses ${path} without a token (401) and with a token lacking the admin scope (403)`, async () => {
      const anonymous = await get(path);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(anonymous.headers.get('content-type'), 'application/json');
      await anonymous.text();
      const unknown = await get(path, 'not-a-known-token');
      assert.equal(unknown.status, 401);
      await unknown.text();
      const tools = await get(path, toolsToken);
      assert.equal(tools.status, 403);
      assert.match(await tools.text(), /admin scope/);
    });
  }

  it('serves /logs to a principal with the admin scope', async () => {
    const logs = await get('/logs?limit=5', adminToken);
    assert.equal(logs.status, 200);
    assert.ok(Array.isArray(((await logs.json()) as { records: unknown }).records));
  });

  it('serves the page and its data stream to a principal with the admin scope', async () => {
    const page = await get('/', adminToken);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await page.text(), /<title>Lookout · live<\/title>/);
    const events = await get('/live/events', adminToken);
    assert.equal(events.status, 200);
    assert.equal(events.headers.get('content-type'), 'text/event-stream');
    const first = await firstChunk(events);
    assert.match(first, /^event: snapshot\ndata: \{/);
    const snapshot = JSON.parse(first.split('\n')[1]?.slice('data: '.length) ?? '') as { health: unknown };
    assert.deepEqual(snapshot.health, { status: 'ok', phase: 'serving' });
  });

  it('takes the admin token once from ?access_token into an HttpOnly cookie, and refuses a weaker one', async () => {
    const refused = await get(`/?access_token=${toolsToken}`);
    assert.equal(refused.status, 401);
    await refused.text();
    const exchange = await get(`/?access_token=${adminToken}`);
    assert.equal(exchange.status, 303);
    assert.equal(exchange.headers.get('location'), '/');
    const cookie = exchange.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const pair = cookie.split(';')[0] as string;
    const events = await get('/live/events', undefined, { cookie: pair });
    assert.equal(events.status, 200);
    await firstChunk(events);
    const forged = await get('/live/events', undefined, { cookie: `lookout_live_token=${toolsToken}` });
    assert.equal(forged.status, 403);
    await forged.text();
  });

  it('rejects a malformed trace id with 400', async () => {
    const res = await get('/live/trace?id=..%2F..%2Fetc', adminToken);
    assert.equal(res.status, 400);
    await res.text();
  });
});

describe('the live view on a loopback listener without auth', () => {
  let lookout: Lookout;
  let base: string;

  before(async () => {
    lookout = await startTestLookout();
    base = new URL(lookout.url).origin;
  });
  after(() => lookout.close());

  it('is served to anyone who reaches the listener', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    await page.text();
    const events = await fetch(`${base}/live/events`);
    assert.equal(events.status, 200);
    assert.match(await firstChunk(events), /"telemetry":false/);
  });

  it('refuses a page request whose Host is not a loopback name (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const url = new URL(`${base}/`);
      request(
        { host: url.hostname, port: url.port, path: '/', headers: { host: 'attacker.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      )
        .on('error', reject)
        .end();
    });
    assert.equal(status, 403);
  });
});
