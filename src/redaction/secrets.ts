/** Key names whose values are secrets wherever they appear: config, log metadata, headers. */
const secretKeyPattern =
  /(secret|token|password|passwd|authorization|api[-_]?key|cookie|private[-_]?key|credential)/i;

export const mask = '***';

export function isSecretKeyName(name: string): boolean {
  return secretKeyPattern.test(name);
}

/** Query parameters that carry signatures or keys under names that do not say "secret". */
const signatureParameter = /^(sig|signature|awsaccesskeyid|x-goog-signature|x-amz-signature)$/i;

/** A URL's query string (without `?`) with the values of secret and signature parameters masked. */
export function redactQuery(query: string): string {
  const parameters = new URLSearchParams(query);
  for (const name of new Set(parameters.keys()))
    if (isSecretKeyName(name) || signatureParameter.test(name)) parameters.set(name, mask);
  return parameters.toString();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A redactor for recorded tool arguments and results: secret-named keys and the configured keys are
 * masked at any depth, and every match of the configured patterns is masked inside strings.
 */
export function createRedactor(options: {
  keys: readonly string[];
  patterns: readonly string[];
}): (value: unknown) => unknown {
  const keys = new Set(options.keys.map((k) => k.toLowerCase()));
  const patterns = options.patterns.map((p) => new RegExp(p, 'g'));
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string')
      return patterns.reduce((text, pattern) => text.replace(pattern, mask), value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = isSecretKeyName(k) || keys.has(k.toLowerCase()) ? mask : walk(v);
    return out;
  };
  return walk;
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
