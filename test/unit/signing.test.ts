import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  generateSigningKeys,
  keyId,
  type SigningKeys,
  signatureFileOf,
  signModule,
  verifyModule,
} from '../../src/security/signing.ts';

describe('signed tool modules', () => {
  let dir: string;
  let trusted: SigningKeys;
  let stranger: SigningKeys;
  let count = 0;

  /** A fresh module per test, so one test's tampering cannot leak into another. */
  function makeModule(source = 'export default { name: "echo" };\n'): string {
    count += 1;
    const path = join(dir, `tool-${count}.js`);
    writeFileSync(path, source);
    return path;
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lookout-signing-'));
    trusted = generateSigningKeys();
    stranger = generateSigningKeys();
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates PEM keys', () => {
    assert.match(trusted.publicKey, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(trusted.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(keyId(trusted.publicKey), /^[0-9a-f]{16}$/);
    assert.notEqual(keyId(trusted.publicKey), keyId(stranger.publicKey));
  });

  it('signs a module and verifies it with the trusted key', () => {
    const module = makeModule();
    const sigPath = signModule(module, trusted.privateKey);
    assert.equal(sigPath, `${module}.sig`);
    assert.equal(signatureFileOf(module), sigPath);

    const file = JSON.parse(readFileSync(sigPath, 'utf8'));
    assert.equal(file.algorithm, 'ed25519');
    assert.equal(file.keyId, keyId(trusted.publicKey));
    assert.equal(Buffer.from(file.signature, 'base64').length, 64);

    assert.deepEqual(verifyModule(module, [stranger.publicKey, trusted.publicKey]), {
      ok: true,
      keyId: keyId(trusted.publicKey),
    });
  });

  it('rejects an unsigned module', () => {
    const module = makeModule();
    const result = verifyModule(module, [trusted.publicKey]);
    assert.ok(!result.ok);
    assert.equal(result.reason, `no signature file ${module}.sig`);
  });

  it('rejects a tampered module', () => {
    const module = makeModule();
    signModule(module, trusted.privateKey);
    appendFileSync(module, ' ');
    const result = verifyModule(module, [trusted.publicKey]);
    assert.ok(!result.ok);
    assert.match(result.reason, /does not match/);
  });

  it('rejects a signature whose keyId was swapped to a trusted one', () => {
    const module = makeModule();
    const sigPath = signModule(module, stranger.privateKey);
    const file = JSON.parse(readFileSync(sigPath, 'utf8'));
    writeFileSync(sigPath, JSON.stringify({ ...file, keyId: keyId(trusted.publicKey) }));
    const result = verifyModule(module, [trusted.publicKey]);
    assert.ok(!result.ok);
    assert.match(result.reason, /does not match/);
  });

  it('rejects a signature by an untrusted key', () => {
    const module = makeModule();
    signModule(module, stranger.privateKey);
    const result = verifyModule(module, [trusted.publicKey]);
    assert.ok(!result.ok);
    assert.equal(result.reason, `signed by key ${keyId(stranger.publicKey)}, which is not trusted`);
    assert.ok(!verifyModule(module, []).ok, 'no trusted keys trusts nothing');
  });

  it('gives a clear reason for a garbage signature file', () => {
    const module = makeModule();
    const sigPath = signatureFileOf(module);
    const cases: [string, RegExp][] = [
      ['not json at all', /is not valid JSON/],
      ['[1, 2]', /is not a JSON object/],
      ['{"algorithm":"ed25519"}', /lacks fields: keyId, signature/],
      ['{"algorithm":"rsa","keyId":"abc","signature":"AAAA"}', /algorithm "rsa"/],
      ['{"algorithm":"ed25519","keyId":"abc","signature":"!!not base64!!"}', /malformed signature/],
    ];
    for (const [content, expected] of cases) {
      writeFileSync(sigPath, content);
      const result = verifyModule(module, [trusted.publicKey]);
      assert.ok(!result.ok, content);
      assert.ok(result.reason.startsWith(`signature file ${sigPath} `), result.reason);
      assert.match(result.reason, expected);
    }
  });

  it('reports an unreadable module instead of throwing', () => {
    const missing = join(dir, 'missing.js');
    const result = verifyModule(missing, [trusted.publicKey]);
    assert.ok(!result.ok);
    assert.match(result.reason, new RegExp(`^cannot read module ${missing.replaceAll('.', '\\.')}`));
  });

  it('fails closed on a trusted key that does not parse', () => {
    const module = makeModule();
    signModule(module, trusted.privateKey);
    const result = verifyModule(module, [trusted.publicKey, 'not a key']);
    assert.ok(!result.ok);
    assert.match(result.reason, /^trusted key #2 is not usable/);
  });

  it('keeps keyId stable across re-encodings of the same key', () => {
    const id = keyId(trusted.publicKey);
    const fromPrivate = createPublicKey(createPrivateKey(trusted.privateKey))
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const der = createPublicKey(trusted.publicKey).export({ type: 'spki', format: 'der' });
    const rewrapped = createPublicKey({ key: der, format: 'der', type: 'spki' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const crlf = trusted.publicKey.replaceAll('\n', '\r\n');
    assert.equal(keyId(fromPrivate), id);
    assert.equal(keyId(rewrapped), id);
    assert.equal(keyId(crlf), id);
    // A CRLF copy of the trusted key in config still verifies.
    const module = makeModule();
    signModule(module, trusted.privateKey);
    assert.deepEqual(verifyModule(module, [crlf]), { ok: true, keyId: id });
  });
});
