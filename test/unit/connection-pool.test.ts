import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/client';
import type { HandlerContext } from '../../src/tools/api.ts';
import { Callers } from '../../src/upstreams/caller-relay.ts';
import { type Connection, ConnectionPool } from '../../src/upstreams/connection-pool.ts';
import { LogRelay } from '../../src/upstreams/log-relay.ts';

/** A connection whose client only records that it was closed. */
function fakeConnection(closed: string[], key: string): Connection {
  const client = { onclose: undefined, close: async () => void closed.push(key) };
  return {
    client: client as unknown as Client,
    callers: new Callers(false),
    logs: new LogRelay(),
    subscribers: new Map(),
  };
}

const caller = { sessionId: 's' } as HandlerContext;

describe('isolated connection pool', () => {
  it('opens one connection per key, once', async () => {
    const closed: string[] = [];
    const pool = new ConnectionPool({ upstream: 'u', max: 4, idleSeconds: 60 });
    let opened = 0;
    const open = (key: string) => () => {
      opened++;
      return Promise.resolve(fakeConnection(closed, key));
    };
    const [a1, a2] = await Promise.all([pool.get('a', open('a')), pool.get('a', open('a'))]);
    const b = await pool.get('b', open('b'));
    assert.equal(a1, a2);
    assert.notEqual(a1, b);
    assert.equal(opened, 2);
    await pool.closeAll();
    assert.deepEqual(closed.sort(), ['a', 'b']);
  });

  it('makes room by closing the least recently used idle connection, and refuses when all are busy', async () => {
    const closed: string[] = [];
    const pool = new ConnectionPool({ upstream: 'u', max: 2, idleSeconds: 60 });
    const open = (key: string) => () => Promise.resolve(fakeConnection(closed, key));
    const a = await pool.get('a', open('a'));
    await new Promise((r) => setTimeout(r, 5));
    const b = await pool.get('b', open('b'));
    await pool.get('c', open('c'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed, ['a'], 'a was the least recently used');
    assert.equal(pool.size, 2);

    // b and c each have a call running: no room for d.
    const c = await pool.get('c', open('c'));
    let release = () => {};
    const running = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls = [b.callers.during(caller, () => running), c.callers.during(caller, () => running)];
    await assert.rejects(pool.get('d', open('d')), { catalogCode: 'UPSTREAM_BUSY' });
    release();
    await Promise.all(calls);
    assert.notEqual(a, b);
    await pool.closeAll();
  });

  it('closes the connections of a session that ended', async () => {
    const closed: string[] = [];
    const pool = new ConnectionPool({ upstream: 'u', max: 4, idleSeconds: 60 });
    for (const key of ['session:1|', 'session:2|', 'subject:alice']) {
      await pool.get(key, () => Promise.resolve(fakeConnection(closed, key)));
    }
    await pool.closeWhere((key) => key.startsWith('session:1|'));
    assert.deepEqual(closed, ['session:1|']);
    assert.equal(pool.size, 2);
    await pool.closeAll();
  });

  it('waits, when closing all, for a session close already under way', async () => {
    const pool = new ConnectionPool({ upstream: 'u', max: 4, idleSeconds: 60 });
    let finishClose = () => {};
    let finished = false;
    const slowClose = new Promise<void>((resolve) => {
      finishClose = resolve;
    });
    const connection = fakeConnection([], 'session:1|');
    (connection.client as unknown as { close: () => Promise<void> }).close = () =>
      slowClose.then(() => {
        finished = true;
      });
    await pool.get('session:1|', () => Promise.resolve(connection));
    void pool.closeWhere((key) => key.startsWith('session:1|'));
    const all = pool.closeAll();
    setTimeout(finishClose, 20);
    await all;
    assert.equal(finished, true, 'closeAll returned before the session connection had closed');
  });

  it('forgets a connection that ended, and closes and forgets one discarded: the next get opens another', async () => {
    const closed: string[] = [];
    const pool = new ConnectionPool({ upstream: 'u', max: 4, idleSeconds: 60 });
    let opened = 0;
    const open = (key: string) => () => {
      opened++;
      return Promise.resolve(fakeConnection(closed, key));
    };
    const lost = await pool.get('a', open('a'));
    assert.equal(pool.ended(lost), true, 'ended by the upstream: it was still kept');
    assert.equal(pool.ended(lost), false, 'already forgotten');
    assert.notEqual(await pool.get('a', open('a')), lost);
    const hung = await pool.get('b', open('b'));
    await pool.discard(hung);
    assert.deepEqual(closed, ['b'], 'a discarded connection is closed');
    assert.equal(pool.ended(hung), false, 'its end came from Lookout');
    assert.notEqual(await pool.get('b', open('b')), hung);
    assert.equal(opened, 4);
    await pool.closeAll();
  });
});
