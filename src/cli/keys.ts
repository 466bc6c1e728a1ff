import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKeys, keyId, signModule } from '../security/signing.ts';

const usageExit = 2;

/** `lookout keygen [--out <dir>]`: an Ed25519 key pair for signing tool modules. */
export function keygen(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string', default: '.' } },
    strict: true,
  });
  const keys = generateSigningKeys();
  mkdirSync(values.out, { recursive: true, mode: 0o700 });
  const privatePath = join(values.out, 'lookout-signing.key');
  const publicPath = join(values.out, 'lookout-signing.pub');
  writeFileSync(privatePath, keys.privateKey, { mode: 0o600, flag: 'wx' });
  writeFileSync(publicPath, keys.publicKey, { flag: 'wx' });
  process.stdout.write(
    `key ${keyId(keys.publicKey)}\nprivate key: ${privatePath} (keep it secret)\npublic key: ${publicPath} (list it under security.signedModules.trustedKeys)\n`,
  );
  return 0;
}

/** `lookout sign <module> --key <private key>`: writes `<module>.sig`. */
export function sign(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { key: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || values.key === undefined) {
    process.stderr.write('usage: lookout sign <module> --key <private key file>\n');
    return usageExit;
  }
  const signature = signModule(positionals[0] as string, readFileSync(values.key, 'utf8'));
  process.stdout.write(`${signature}\n`);
  return 0;
}
