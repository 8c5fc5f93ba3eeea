// /functions/v1/operations — what the console's Operations page shows and the one action it offers.
//   GET  /operations         validation mode per scope with the promotion gate's numbers, the
//                            circuit breakers, the runbook's recent failed transitions
//   POST /operations/modes   set a validation mode (fn_set_validation_mode: the promotion gate
//                            decides a move to ENFORCE; every change is audited)
// Under the caller's identity: the grants decide (today the service role; a signed-in user is
// refused with 403 FORBIDDEN by the database).
import { issuesOf, ModeChangeRequestSchema } from '../../../shared/directives-schema.ts';
import { asCaller } from '../../../shared/rpc.ts';
import { withCors } from '../_shared/cors.ts';
import { db } from '../_shared/db.ts';
import { errorResponse, json, failure, readJson, requestId as newRequestId, authorisedCaller } from '../_shared/http.ts';

Deno.serve(withCors(async (request) => {
  const rid = newRequestId(request);
  try {
    const auth = await authorisedCaller(request, 'may not use the operations API');
    if ('response' in auth) return auth.response;
    const { caller } = auth;
    const path = new URL(request.url).pathname.replace(/^\/functions\/v1/, '').replace(/^\/operations/, '').replace(/\/$/, '');
    if (path === '') {
      if (request.method !== 'GET') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', null, { allow: 'GET' });
      const [row] = await asCaller(db(), caller, (tx) => tx<{ r: unknown }[]>`
        select jsonb_build_object(
          'modes', (select coalesce(jsonb_agg(to_jsonb(m) || jsonb_build_object('promotion_gate', public.fn_promotion_gate(m.scope))
                                             order by m.scope = '*' desc, m.scope), '[]') from public.validation_modes m),
          'breakers', (select coalesce(jsonb_agg(to_jsonb(b) order by b.sub_agent_code), '[]') from public.sub_agent_breaker_status b),
          'recent_failures', (select coalesce(jsonb_agg(to_jsonb(f) order by f.created_at desc), '[]')
                              from (select * from public.v_latest_failed_transitions limit 20) f)) as r`);
      return json(row!.r);
    }
    if (path === '/modes') {
      if (request.method !== 'POST') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use POST', null, { allow: 'POST' });
      const read = await readJson(request, rid);
      if (!read.ok) return read.response;
      const body = read.body;
      const parsed = ModeChangeRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issues = issuesOf(parsed.error);
        return errorResponse(400, 'INVALID_INPUT', `Invalid mode change: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
      }
      const c = parsed.data;
      const [row] = await asCaller(db(), caller, (tx) => tx<{ r: unknown }[]>`
        select public.fn_set_validation_mode(${c.scope}, ${c.mode}, ${c.reason}, ${c.force}) as r`);
      return json(row!.r);
    }
    return errorResponse(404, 'NOT_FOUND', `no route ${path}`);
  } catch (err) {
    return failure(err, rid, 'operations');
  }
}));
