import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** Ed25519 signatures for user tool modules, so config can insist a module comes from a trusted key. */

export interface SigningKeys {
  /** SPKI, PEM-encoded. Goes in config as a trusted key. */
  readonly publicKey: string;
  /** PKCS#8, PEM-encoded. Stays with whoever signs modules. */
  readonly privateKey: string;
}

export type VerifyResult = { ok: true; keyId: string } | { ok: false; reason: string };

interface SignatureFile {
  readonly algorithm: 'ed25519';
  readonly keyId: string;
  readonly signature: string;
}

const ED25519_SIGNATURE_BYTES = 64;

export function generateSigningKeys(): SigningKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Hashing the DER rather than the PEM text keeps the id stable across line endings and re-wrapping. */
export function keyId(publicKeyPem: string): string {
  return idOf(ed25519PublicKey(publicKeyPem));
}

export function signatureFileOf(modulePath: string): string {
  return `${modulePath}.sig`;
}

/** Signs the module's bytes as they are on disk and writes `<module>.sig`; returns that path. */
export function signModule(modulePath: string, privateKeyPem: string): string {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`signing key is ${privateKey.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  }
  const bytes = readFileSync(modulePath);
  // Ed25519 hashes internally (SHA-512), so the raw bytes are signed; the algorithm argument must be null.
  const signature = sign(null, bytes, privateKey);
  const file: SignatureFile = {
    algorithm: 'ed25519',
    keyId: idOf(createPublicKey(privateKey)),
    signature: signature.toString('base64'),
  };
  const path = signatureFileOf(modulePath);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  return path;
}

/**
 * Checks `<module>.sig` against the trusted keys. Never throws: every failure is a reason a loader
 * can show as is. A trusted key that does not parse fails closed, so a typo in config cannot
 * quietly admit nothing and look like an untrusted signer.
 */
export function verifyModule(modulePath: string, trustedPublicKeysPem: readonly string[]): VerifyResult {
  const trusted = new Map<string, KeyObject>();
  for (const [index, pem] of trustedPublicKeysPem.entries()) {
    try {
      const key = ed25519PublicKey(pem);
      trusted.set(idOf(key), key);
    } catch (error) {
      return { ok: false, reason: `trusted key #${index + 1} is not usable: ${messageOf(error)}` };
    }
  }

  let bytes: Buffer;
  try {
    bytes = readFileSync(modulePath);
  } catch (error) {
    return { ok: false, reason: `cannot read module ${modulePath}: ${messageOf(error)}` };
  }

  const sigPath = signatureFileOf(modulePath);
  let text: string;
  try {
    text = readFileSync(sigPath, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return { ok: false, reason: `no signature file ${sigPath}` };
    return { ok: false, reason: `cannot read signature file ${sigPath}: ${messageOf(error)}` };
  }

  const parsed = parseSignatureFile(text);
  if (typeof parsed === 'string') {
    return { ok: false, reason: `signature file ${sigPath} ${parsed}` };
  }

  const key = trusted.get(parsed.keyId);
  if (key === undefined) {
    return { ok: false, reason: `signed by key ${parsed.keyId}, which is not trusted` };
  }

  const signature = Buffer.from(parsed.signature, 'base64');
  if (!verify(null, bytes, key, signature)) {
    return { ok: false, reason: 'signature does not match the module (tampered or re-signed)' };
  }
  return { ok: true, keyId: parsed.keyId };
}

function ed25519PublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  }
  return key;
}

function idOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Returns the file, or the tail of a sentence saying what is wrong with it. */
function parseSignatureFile(text: string): SignatureFile | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'is not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'is not a JSON object';
  }
  const { algorithm, keyId: id, signature } = value as Record<string, unknown>;
  const missing = [
    typeof algorithm === 'string' ? undefined : 'algorithm',
    typeof id === 'string' && id !== '' ? undefined : 'keyId',
    typeof signature === 'string' && signature !== '' ? undefined : 'signature',
  ].filter((field) => field !== undefined);
  if (missing.length > 0) return `lacks fields: ${missing.join(', ')}`;
  if (algorithm !== 'ed25519') return `uses algorithm ${JSON.stringify(algorithm)}, expected "ed25519"`;
  // Buffer's base64 decoder skips junk silently, so check the shape before trusting the length.
  const sig = signature as string;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sig) || Buffer.from(sig, 'base64').length !== ED25519_SIGNATURE_BYTES) {
    return `has a malformed signature (expected ${ED25519_SIGNATURE_BYTES} bytes of base64)`;
  }
  return { algorithm: 'ed25519', keyId: id as string, signature: sig };
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
