// GET /functions/v1/health — database reachability, the latest applied migration and the RPC
// pre-flight probe. 200 only when all three are good; 503 names what is missing. Also says who runs
// the sweeps (`sweeps.scheduler`: pg_cron, or the stack's scheduler, and why not pg_cron).
import { missingRpcs, REQUIRED_RPCS } from '../../../shared/rpc-contract.ts';
import { db } from '../_shared/db.ts';
import { errorResponse, json, log, requestId } from '../_shared/http.ts';

Deno.serve(async (request) => {
  const rid = requestId(request);
  if (request.method !== 'GET') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', null, { allow: 'GET' });
  const started = performance.now();
  try {
    const sql = db();
    const [probe, migrations, sweeps] = await Promise.all([
      sql<{ name: string; args: string }[]>`
        select p.proname as name, pg_catalog.pg_get_function_identity_arguments(p.oid) as args
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.proname = any(${REQUIRED_RPCS.map((r) => r.name)})`,
      sql<{ version: string; name: string | null }[]>`
        select version, name from supabase_migrations.schema_migrations order by version desc limit 1`.catch(() => []),
      // Who runs the sweeps: pg_cron where usable (1.5+, scheduled), else the stack's scheduler.
      sql<{ s: Record<string, unknown> | null }[]>`
        select case when to_regprocedure('public.fn_sweep_scheduler()') is not null then public.fn_sweep_scheduler() end as s`
        .then((r) => r[0]?.s ?? null).catch(() => null),
    ]);
    const missing = missingRpcs(probe);
    const latest = migrations[0] ?? null;
    const body = {
      status: missing.length === 0 && latest ? 'ok' : 'unavailable',
      database: { reachable: true, latency_ms: Math.round(performance.now() - started) },
      migration: latest ? { version: latest.version, name: latest.name } : null,
      preflight: { ok: missing.length === 0, checked: REQUIRED_RPCS.length, missing },
      sweeps,
      request_id: rid,
    };
    if (body.status !== 'ok') log('warn', 'health check failed', { request_id: rid, missing, migration: body.migration });
    return json(body, body.status === 'ok' ? 200 : 503);
  } catch (err) {
    log('error', 'database unreachable', { request_id: rid, error: String(err) });
    return json({
      status: 'unavailable',
      database: { reachable: false, error: 'database unreachable' },
      migration: null,
      preflight: { ok: false, checked: REQUIRED_RPCS.length, missing: REQUIRED_RPCS.map((r) => `public.${r.name}`) },
      request_id: rid,
    }, 503);
  }
});
