-- Hand-written: sweeps under pg_cron where it is usable and new enough, under the stack's
-- scheduler everywhere else (issue 12). The functions are those of supabase/schemas/12_sweeps.sql
-- (copied as they are there; the schema-drift test compares); the DO block at the end, which creates
-- the extension and schedules the jobs, is what a schema diff cannot express.
--
-- On an existing PostgreSQL with Debian's postgresql-15-cron installed but not preloaded,
-- `create extension pg_cron` fails ("unrecognized configuration parameter cron.database_name");
-- preloaded, Debian's pg_cron 1.4.2 refuses '30 seconds' (second schedules came with 1.5). Both
-- stopped the migrations. Now: the extension is created only where it can be (preloaded, in
-- cron.database_name), the sweeps are scheduled with it only where it is 1.5 or newer, and any
-- failure leaves no half schedule. Otherwise stack/scheduler.ts runs them, as on the embedded
-- server. public.fn_sweep_scheduler() says which, for `health` and the scheduler.
-- (Self-contained: fn_pg_cron_status, fn_pg_cron_schedule_jobs, fn_schedule_sweeps, fn_sweep_scheduler, the DO block.)
-- ============================================================================================

-- What pg_cron can do here, and why not when it cannot.
create or replace function public.fn_pg_cron_status() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  v_version text := (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pg_cron');
  v_available boolean := exists (select 1 from pg_catalog.pg_available_extensions a where a.name = 'pg_cron');
  v_preloaded boolean := coalesce(current_setting('shared_preload_libraries', true), '') ~ '(^|[\s,])"?pg_cron"?($|[\s,])';
  v_database text := current_setting('cron.database_name', true);
  v_major int;
  v_minor int;
  v_reason text;
begin
  v_major := nullif(substring(v_version from '^(\d+)\.'), '')::int;
  v_minor := nullif(substring(v_version from '^\d+\.(\d+)'), '')::int;
  v_reason := case
    when v_version is null and not v_available then 'pg_cron is not installed on this server'
    when v_version is null and not v_preloaded then 'pg_cron is installed but not in shared_preload_libraries'
    when v_version is null and v_database is distinct from current_database()
      then format('pg_cron runs in database %s (cron.database_name), not in %s', coalesce(v_database, 'postgres'), current_database())
    when v_version is null then 'the pg_cron extension is not created in this database'
    when v_major is null or (v_major, v_minor) < (1, 5)
      then format('pg_cron %s is older than 1.5 and cannot schedule in seconds', v_version)
  end;
  return jsonb_build_object('installed', v_version is not null, 'version', v_version, 'available', v_available,
                            'preloaded', v_preloaded, 'usable', v_reason is null, 'reason', v_reason);
end;
$$;
comment on function public.fn_pg_cron_status() is
  'What pg_cron can do for the sweeps here: {installed, version, available, preloaded, usable, reason}. usable needs the extension created and version 1.5 or newer (second schedules); reason says why not.';

-- The pg_cron jobs themselves: stagegate_<name> for every enabled sweep, disabled ones removed.
-- Raises what pg_cron raises; fn_schedule_sweeps decides whether to call it at all.
create or replace function public.fn_pg_cron_schedule_jobs() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sweep public.sweep_schedule;
  v_jobs jsonb := '{}';
begin
  for v_sweep in select * from public.sweep_schedule order by name loop
    if v_sweep.enabled then
      execute 'select cron.schedule($1, $2, $3)'
        using 'stagegate_' || v_sweep.name, public.fn_sweep_cron_schedule(v_sweep.interval),
              format('select public.fn_run_sweep(%L)', v_sweep.name);
      v_jobs := v_jobs || jsonb_build_object(v_sweep.name, public.fn_sweep_cron_schedule(v_sweep.interval));
    else
      execute 'select cron.unschedule(jobid) from cron.job where jobname = $1' using 'stagegate_' || v_sweep.name;
    end if;
  end loop;
  return v_jobs;
end;
$$;
comment on function public.fn_pg_cron_schedule_jobs() is
  'Schedule every enabled sweep as pg_cron job stagegate_<name>, unschedule disabled ones; returns {<name>: schedule}. Raises what cron.schedule raises. Call fn_schedule_sweeps instead: it checks pg_cron first.';

-- Schedule (or reschedule) the sweeps with pg_cron where it is usable, or else remove any
-- stagegate_ job and leave the sweeps to the stack's scheduler. All or nothing: a schedule
-- pg_cron refuses undoes the others.
create or replace function public.fn_schedule_sweeps() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_status jsonb := public.fn_pg_cron_status();
  v_reason text := v_status->>'reason';
begin
  if (v_status->>'usable')::boolean then
    begin
      return jsonb_build_object('pg_cron', true, 'scheduler', 'pg_cron', 'jobs', public.fn_pg_cron_schedule_jobs(), 'reason', null);
    exception when others then
      v_reason := format('pg_cron refused a schedule: %s', sqlerrm);
    end;
  end if;
  if to_regclass('cron.job') is not null then
    execute $q$select count(cron.unschedule(jobid)) from cron.job where jobname like 'stagegate\_%'$q$;
  end if;
  return jsonb_build_object('pg_cron', false, 'scheduler', 'stack', 'jobs', '{}'::jsonb, 'reason', v_reason);
end;
$$;
comment on function public.fn_schedule_sweeps() is
  'Schedule (or reschedule) every enabled sweep with pg_cron as job stagegate_<name> and unschedule disabled ones, where pg_cron is usable (fn_pg_cron_status). Elsewhere removes any stagegate_ job: the local stack''s scheduler runs the sweeps. Returns {pg_cron, scheduler: pg_cron|stack, jobs, reason}.';

-- Who runs the sweeps now: pg_cron when it has active stagegate_ jobs and is usable, else the
-- stack's scheduler (stack/scheduler.ts, which asks this at start). For `health`.
create or replace function public.fn_sweep_scheduler() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  v_status jsonb := public.fn_pg_cron_status();
  v_jobs int := 0;
begin
  if (v_status->>'usable')::boolean and to_regclass('cron.job') is not null then
    execute $q$select count(*) from cron.job where jobname like 'stagegate\_%' and active$q$ into v_jobs;
  end if;
  return jsonb_build_object(
    'scheduler', case when v_jobs > 0 then 'pg_cron' else 'stack' end,
    'pg_cron_jobs', v_jobs,
    'reason', case when v_jobs > 0 then null
                   when (v_status->>'usable')::boolean then 'pg_cron has no stagegate_ jobs: run select public.fn_schedule_sweeps()'
                   else v_status->>'reason' end,
    'pg_cron', v_status,
    'last_run_at', (select max(s.last_run_at) from public.sweep_schedule s));
end;
$$;
comment on function public.fn_sweep_scheduler() is
  'Who runs the sweeps: {scheduler: pg_cron|stack, pg_cron_jobs, reason (why not pg_cron), pg_cron: fn_pg_cron_status(), last_run_at}. pg_cron when it is usable and has active stagegate_ jobs; otherwise the local stack''s scheduler.';

do $$
begin
  -- Hosted Supabase ships pg_cron: create it where that can work (preloaded, in its database).
  -- Anything else (not preloaded, another database, no rights) leaves it alone.
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron')
     and exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
     and (public.fn_pg_cron_status()->>'preloaded')::boolean
     and current_setting('cron.database_name', true) is not distinct from current_database() then
    begin
      execute 'create extension if not exists pg_cron';
    exception when others then
      raise notice 'pg_cron not created (%): the stack''s scheduler runs the sweeps', sqlerrm;
    end;
  end if;
  perform public.fn_schedule_sweeps();
end;
$$;

revoke execute on function public.fn_pg_cron_status(), public.fn_schedule_sweeps(), public.fn_sweep_scheduler()
  from public, anon, authenticated;
grant execute on function public.fn_pg_cron_status(), public.fn_schedule_sweeps(), public.fn_sweep_scheduler()
  to service_role;
-- internal: only fn_schedule_sweeps (the owner's rights) calls it, after checking pg_cron
revoke execute on function public.fn_pg_cron_schedule_jobs() from public, anon, authenticated, service_role;
