import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, importSPKI, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { LookoutConfig } from '../config/schema.ts';
import type { Principal } from '../security/principal.ts';

export type AuthVerdict =
  | { readonly ok: true; readonly principal: Principal | undefined }
  | { readonly ok: false; readonly error: 'invalid_request' | 'invalid_token'; readonly reason: string };

type AuthConfig = LookoutConfig['auth'];

const sha256 = (text: string) => createHash('sha256').update(text).digest();

function scopesOf(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * The scopes a tool needs: from the `toolScopes` entry naming it exactly, else the longest matching
 * `prefix*`; `otherwise` when no entry matches it.
 */
export function requiredScopes(
  toolScopes: Readonly<Record<string, readonly string[]>>,
  tool: string,
  otherwise: readonly string[] = [],
): readonly string[] {
  const exact = toolScopes[tool];
  if (exact) return exact;
  let best = otherwise;
  let bestLength = -1;
  for (const [pattern, scopes] of Object.entries(toolScopes)) {
    if (pattern.endsWith('*') && tool.startsWith(pattern.slice(0, -1)) && pattern.length > bestLength) {
      best = scopes;
      bestLength = pattern.length;
    }
  }
  return best;
}

/**
 * Checks the bearer token of a request: a static token (compared by SHA-256, in constant time) or a
 * JWT (signature from a JWKS URL or a key, issuer, audience, expiry with clock skew). A pure verdict;
 * the HTTP layer maps it to 401.
 */
export class Authenticator {
  readonly #config: AuthConfig;
  readonly #tokens: { hash: Buffer; principal: Principal }[];
  #jwtKey: Promise<Awaited<ReturnType<typeof importSPKI>>> | JWTVerifyGetKey | undefined;

  constructor(config: AuthConfig) {
    this.#config = config;
    this.#tokens = config.tokens.map((t) => ({
      hash: Buffer.from(t.sha256, 'hex'),
      principal: { subject: t.subject, scopes: t.scopes },
    }));
    const jwt = config.jwt;
    if (jwt?.jwksUrl) this.#jwtKey = createRemoteJWKSet(new URL(jwt.jwksUrl));
    else if (jwt?.publicKey) this.#jwtKey = importSPKI(jwt.publicKey, jwt.algorithms[0] ?? 'RS256');
  }

  get enabled(): boolean {
    return this.#tokens.length > 0 || this.#jwtKey !== undefined;
  }

  async verify(authorization: string | undefined): Promise<AuthVerdict> {
    if (!this.enabled) return { ok: true, principal: undefined };
    if (authorization === undefined)
      return { ok: false, error: 'invalid_request', reason: 'no bearer token' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return { ok: false, error: 'invalid_request', reason: 'Authorization is not a bearer token' };
    const token = match[1] as string;
    const hash = sha256(token);
    for (const known of this.#tokens) {
      if (timingSafeEqual(known.hash, hash)) return { ok: true, principal: known.principal };
    }
    const jwt = this.#config.jwt;
    if (!jwt || this.#jwtKey === undefined || token.split('.').length !== 3) {
      return { ok: false, error: 'invalid_token', reason: 'unknown token' };
    }
    try {
      const key = this.#jwtKey;
      const options = {
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: jwt.clockSkewSeconds,
        algorithms: jwt.algorithms,
      };
      const { payload } =
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, await key, options);
      if (typeof payload.sub !== 'string' || payload.sub === '')
        return { ok: false, error: 'invalid_token', reason: 'token has no subject' };
      return { ok: true, principal: { subject: payload.sub, scopes: scopesOf(payload) } };
    } catch (error) {
      return {
        ok: false,
        error: 'invalid_token',
        reason: (error as { code?: string }).code ?? 'invalid token',
      };
    }
  }
}

/** RFC 9728 protected-resource metadata for the MCP endpoint, as the MCP authorization spec asks. */
export function protectedResourceMetadata(
  req: IncomingMessage,
  mcpPath: string,
  config: AuthConfig,
): Record<string, unknown> {
  const scopes = [...new Set(Object.values(config.toolScopes).flat())];
  return {
    resource: `${resourceOrigin(req)}${mcpPath}`,
    authorization_servers: config.authorizationServers,
    bearer_methods_supported: ['header'],
    ...(scopes.length > 0 && { scopes_supported: scopes }),
  };
}

export function resourceOrigin(req: IncomingMessage): string {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

/** On the request itself rather than in a WeakMap keyed by requests (see http/transport-context.ts). */
const principalKey = Symbol('lookout.principal');
type WithPrincipal = IncomingMessage & { [principalKey]?: Principal };

export function setPrincipal(req: IncomingMessage, principal: Principal): void {
  (req as WithPrincipal)[principalKey] = principal;
}

export function principalOf(req: IncomingMessage): Principal | undefined {
  return (req as WithPrincipal)[principalKey];
}
