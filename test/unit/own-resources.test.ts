import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Resource } from '@modelcontextprotocol/sdk/types.js';
import type { HandlerContext } from '../../src/tools/api.ts';
import { OwnResources, ownerOf } from '../../src/upstreams/own-resources.ts';

const resource = (uri: string): Resource => ({ uri, name: uri });
const uris = (resources: Resource[]) => resources.map((r) => r.uri);

/** A list read that answers when the test says so. */
function pendingRead(resources: Resource[]) {
  let answer: () => void = () => undefined;
  const read = () => new Promise<Resource[]>((resolve) => (answer = () => resolve(resources)));
  return { read, answer: () => answer() };
}

describe('own resources of an isolated upstream connection', () => {
  it('gives what appears after opening to the owner of the change, and nothing listed at opening', async () => {
    const own = new OwnResources([resource('static://a')]);
    const told: boolean[] = [];
    own.changed(
      async () => [resource('static://a'), resource('session://1')],
      'alice',
      (c) => told.push(c),
    );
    assert.deepEqual(uris(await own.of('alice')), ['session://1']);
    assert.deepEqual(uris(await own.of('bob')), []);
    assert.deepEqual(told, [true]);
  });

  it('keeps a resource with its first owner when another owner’s change reads the list again', async () => {
    const own = new OwnResources([]);
    own.changed(
      async () => [resource('session://a')],
      'alice',
      () => undefined,
    );
    own.changed(
      async () => [resource('session://a'), resource('session://b')],
      'bob',
      () => undefined,
    );
    assert.deepEqual(uris(await own.of('alice')), ['session://a']);
    assert.deepEqual(uris(await own.of('bob')), ['session://b']);
  });

  it('forgets a resource the upstream no longer lists, and keeps all when a read fails', async () => {
    const own = new OwnResources([]);
    own.changed(
      async () => [resource('session://a'), resource('session://b')],
      'alice',
      () => undefined,
    );
    own.changed(
      async () => [resource('session://b')],
      'alice',
      () => undefined,
    );
    assert.deepEqual(uris(await own.of('alice')), ['session://b']);
    own.changed(
      () => Promise.reject(new Error('gone')),
      'alice',
      () => undefined,
    );
    assert.deepEqual(uris(await own.of('alice')), ['session://b']);
  });

  it('answers a reader after the read in progress, so a resource a call just made is found', async () => {
    const own = new OwnResources([]);
    const pending = pendingRead([resource('session://new')]);
    own.changed(pending.read, 'alice', () => undefined);
    const listed = own.of('alice');
    setTimeout(pending.answer, 20);
    assert.deepEqual(uris(await listed), ['session://new']);
  });

  it('serves no own resources to a caller with neither session nor subject', () => {
    const caller = (sessionId: string | undefined, subject: string | undefined) =>
      ({ sessionId, subject }) as HandlerContext;
    assert.equal(ownerOf(caller('s1', 'alice')), 's1');
    assert.equal(ownerOf(caller(undefined, 'alice')), 'alice');
    assert.equal(ownerOf(caller(undefined, undefined)), undefined);
  });
});
