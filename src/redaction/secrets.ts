/** Key names whose values are secrets wherever they appear: config, log metadata, headers. */
const secretKeyPattern =
  /(secret|token|password|passwd|authorization|api[-_]?key|cookie|private[-_]?key|credential)/i;

export const mask = '***';

export function isSecretKeyName(name: string): boolean {
  return secretKeyPattern.test(name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with the value of every secret-named key masked, at any depth. `isSecret` can
 * widen what counts as secret (it gets the dotted path). Non-plain objects are kept as they are.
 */
export function redactSecrets(
  value: unknown,
  isSecret: (path: string) => boolean = () => false,
  prefix = '',
): unknown {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, isSecret, prefix));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    out[k] =
      (isSecretKeyName(k) || isSecret(path)) && v !== undefined && v !== ''
        ? mask
        : redactSecrets(v, isSecret, path);
  }
  return out;
}
