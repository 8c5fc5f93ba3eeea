// CORS for the functions a browser calls (the console, from any static host). Bearer tokens, no
// cookies: any origin may call, the token decides what it may do. As on hosted Supabase, the
// preflight (OPTIONS, which carries no token) reaches the function and is answered here.
export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PATCH, OPTIONS',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type, x-retry-count, accept, idempotency-key, prefer, x-request-id',
  'access-control-expose-headers': 'idempotent-replayed, location, retry-after, x-request-id',
  'access-control-max-age': '600',
};

type Handler = (request: Request) => Response | Promise<Response>;

/** Answers preflights and adds the CORS headers to every answer of `handler`. */
export function withCors(handler: Handler): Handler {
  return async (request) => {
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS });
    const response = await handler(request);
    for (const [k, v] of Object.entries(CORS_HEADERS)) response.headers.set(k, v);
    return response;
  };
}
