// The functions' settings, parsed once per instance (shared/function-config.ts). A bad value is
// logged once as one structured line, reported by `health`, and every request that depends on
// the settings is refused 503 CONFIG_INVALID naming the variables: nothing runs with NaN.
import { parseFunctionEnv, type FunctionConfigResult, type FunctionEnv } from '../../../shared/function-config.ts';
import { jwtVerifier, type JwtVerifier } from '../../../shared/jwt.ts';
import { errorResponse, log } from './http.ts';

let parsed: FunctionConfigResult | undefined;
let verifier: JwtVerifier | undefined;

export function functionConfig(): FunctionConfigResult {
  if (parsed) return parsed;
  parsed = parseFunctionEnv(Deno.env.toObject());
  if (!parsed.ok) log('error', 'invalid function settings', { code: 'CONFIG_INVALID', problems: parsed.problems });
  return parsed;
}

/** The parsed settings; only call after configRefusal() returned null. */
export function settings(): FunctionEnv {
  const c = functionConfig();
  if (!c.ok) throw new Error('function settings are invalid');
  return c.env;
}

/** 503 CONFIG_INVALID while any setting is bad, else null. */
export function configRefusal(): Response | null {
  const c = functionConfig();
  if (c.ok) return null;
  return errorResponse(503, 'CONFIG_INVALID', `invalid function settings: ${c.problems.map((p) => p.variable).join(', ')}; see the health function`, { problems: c.problems });
}

/** The token verifier for these settings (shared secret and/or the project's JWKS). */
export function tokenVerifier(): JwtVerifier {
  if (verifier) return verifier;
  const c = functionConfig();
  verifier = c.ok
    ? jwtVerifier({
      secret: c.env.STAGEGATE_JWT_SECRET ?? c.env.SUPABASE_JWT_SECRET,
      jwks: c.env.SUPABASE_JWKS,
      jwksUrl: c.jwksUrl,
      jwksCacheMs: c.env.STAGEGATE_JWKS_CACHE_MS,
      issuers: c.env.STAGEGATE_JWT_ISSUER,
      userAudience: c.env.STAGEGATE_JWT_AUDIENCE,
    })
    : () => Promise.resolve({ ok: false, reason: 'function settings are invalid' });
  return verifier;
}
