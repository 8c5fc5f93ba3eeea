// GET /functions/v1/health — database reachability, the latest applied migration, the RPC
// pre-flight probe and the functions' settings. 200 only when all four are good; 503 names what
// is missing or wrong. Also says who runs the sweeps (`sweeps.scheduler`: pg_cron, or the stack's
// scheduler, and why not pg_cron).
import { missingRpcs, REQUIRED_RPCS } from '../../../shared/rpc-contract.ts';
import { functionConfig } from '../_shared/config.ts';
import { db } from '../_shared/db.ts';
import { errorResponse, json, log, requestId } from '../_shared/http.ts';

Deno.serve(async (request) => {
  const rid = requestId(request);
  if (request.method !== 'GET') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', null, { allow: 'GET' });
  const started = performance.now();
  const settings = functionConfig();
  const config = settings.ok ? { ok: true, problems: [] } : { ok: false, problems: settings.problems };
  // With bad settings the pool cannot be sized: report them without touching the database.
  if (!settings.ok) {
    log('warn', 'health check failed', { request_id: rid, config: config.problems });
    return json({
      status: 'unavailable',
      database: { reachable: false, error: 'not checked: invalid function settings' },
      migration: null,
      preflight: { ok: false, checked: 0, missing: [] },
      config,
      request_id: rid,
    }, 503);
  }
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
      config,
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
      config,
      request_id: rid,
    }, 503);
  }
});
