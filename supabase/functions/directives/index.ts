// /functions/v1/directives — the directives API behind the console (README "Directives API").
//   GET   /directives              list (phase, sd_type, team, q; keyset pagination; counts per phase)
//   POST  /directives              create a directive with its PRD and stories (one transaction)
//   GET   /directives/workflow     phases, handoff types and thresholds
//   GET   /directives/<key|uuid>   one directive with its whole history
//   PATCH /directives/<key|uuid>   edit content (never phase, status or version)
// Thin: authenticate, parse (zod), call one RPC under the caller's identity, shape. What a caller
// may see or change is decided in SQL by grants and row-level security.
import {
  decodeCursor, DirectiveCreateSchema, DirectiveListQuerySchema, DirectivePatchSchema, encodeCursor, issuesOf,
} from '../../../shared/directives-schema.ts';
import { asCaller, type Caller } from '../../../shared/rpc.ts';
import { withCors } from '../_shared/cors.ts';
import { db } from '../_shared/db.ts';
import { errorResponse, json, failure, readJson, requestId as newRequestId, authorisedCaller } from '../_shared/http.ts';

// a directive with its PRD and up to 200 stories is larger than a handoff request
const MAX_BODY_BYTES = 256 * 1024;
type Rid = string;


function invalid(what: string, issues: { path: string; message: string }[]): Response {
  return errorResponse(400, 'INVALID_INPUT', `Invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
}

async function rpcAs<T>(caller: Caller, call: (tx: import('postgres').TransactionSql) => Promise<{ r: T }[]>): Promise<T> {
  const rows = await asCaller(db(), caller, call);
  return rows[0]!.r;
}

async function list(url: URL, caller: Caller): Promise<Response> {
  const parsed = DirectiveListQuerySchema.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) return invalid('query', issuesOf(parsed.error));
  const q = parsed.data;
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (after === null) return errorResponse(400, 'INVALID_INPUT', 'cursor is not a next_cursor of this API', { issues: [{ path: 'cursor', message: 'unknown cursor' }] });
  const filter = { phase: q.phase, sd_type: q.sd_type, team: q.team, text: q.q || undefined, after };
  const page = await rpcAs<{ items: unknown[]; counts: Record<string, number>; next_cursor: { created_at: string; id: string } | null }>(
    caller, (tx) => tx`select public.fn_list_directives(${tx.json(JSON.parse(JSON.stringify(filter)))}, ${q.limit}) as r`);
  return json({ ...page, next_cursor: page.next_cursor ? encodeCursor(page.next_cursor) : null });
}

async function create(request: Request, caller: Caller, rid: Rid): Promise<Response> {
  const read = await readJson(request, rid, MAX_BODY_BYTES);
  if (!read.ok) return read.response;
  const parsed = DirectiveCreateSchema.safeParse(read.body);
  if (!parsed.success) return invalid('directive', issuesOf(parsed.error));
  const detail = await rpcAs<{ directive: { id: string } }>(caller, (tx) => tx`select public.fn_create_directive(${tx.json(parsed.data as never)}) as r`);
  return json(detail, 201, { location: `/functions/v1/directives/${detail.directive.id}` });
}

async function edit(request: Request, key: string, caller: Caller, rid: Rid): Promise<Response> {
  const read = await readJson(request, rid, MAX_BODY_BYTES);
  if (!read.ok) return read.response;
  const parsed = DirectivePatchSchema.safeParse(read.body);
  if (!parsed.success) return invalid('edit', issuesOf(parsed.error));
  return json(await rpcAs(caller, (tx) => tx`select public.fn_update_directive(${key}, ${tx.json(parsed.data as never)}) as r`));
}

Deno.serve(withCors(async (request) => {
  const rid = newRequestId(request);
  try {
    const auth = await authorisedCaller(request, 'may not use the directives API: sign in, or use the service role');
    if ('response' in auth) return auth.response;
    const { caller } = auth;
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/functions\/v1/, '').replace(/^\/directives/, '').replace(/\/$/, '');
    if (path === '') {
      if (request.method === 'GET') return await list(url, caller);
      if (request.method === 'POST') return await create(request, caller, rid);
      return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET or POST', null, { allow: 'GET, POST' });
    }
    if (path === '/workflow') {
      if (request.method !== 'GET') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', null, { allow: 'GET' });
      return json(await rpcAs(caller, (tx) => tx`select public.fn_workflow() as r`));
    }
    const one = /^\/([^/]{1,200})$/.exec(path);
    if (!one) return errorResponse(404, 'NOT_FOUND', `no route ${path}`);
    let key: string;
    try {
      key = decodeURIComponent(one[1]!);
    } catch {
      return errorResponse(400, 'INVALID_INPUT', 'the directive key is not a valid URL path segment');
    }
    if (request.method === 'GET') return json(await rpcAs(caller, (tx) => tx`select public.fn_directive_history(${key}) as r`));
    if (request.method === 'PATCH') return await edit(request, key, caller, rid);
    return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET or PATCH', null, { allow: 'GET, PATCH' });
  } catch (err) {
    return failure(err, rid, 'directives');
  }
}));
