-- Hand-written: enabling pg_cron and pg_net where the server offers them (hosted Supabase) and
-- scheduling the sweeps (supabase/schemas/12_sweeps.sql) with pg_cron, one job per enabled row of
-- sweep_schedule. A schema diff cannot express either: extensions created only where available,
-- and jobs that are rows of cron.job. Where pg_cron is absent (the local stack) nothing is
-- scheduled here; stack/scheduler.ts runs the sweeps at the same intervals.

do $$
begin
  -- Hosted Supabase ships pg_cron; enable it when it is available but not yet created.
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron')
     and exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
    execute 'create extension if not exists pg_cron';
  end if;
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform public.fn_schedule_sweeps();
  end if;
end;
$$;

do $$
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net')
     and exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    execute 'create extension if not exists pg_net';
  end if;
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform public.fn_schedule_sweeps();
  end if;
end;
$$;
