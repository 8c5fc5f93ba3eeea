-- Hand-written: enabling pg_net where the server offers it (hosted Supabase). A schema diff cannot
-- express an extension created only where available. pg_cron is created, and the sweeps
-- (supabase/schemas/12_sweeps.sql) scheduled with it, by 20261201070000_pg_cron_scheduling.sql,
-- and only where pg_cron is usable: creating it here failed the migrations on a server with
-- pg_cron installed but not preloaded, and scheduling here failed them with pg_cron older than 1.5
-- (issue 12). Where pg_cron is absent or unusable (the local stack, a self-hosted server),
-- stack/scheduler.ts runs the sweeps at the same intervals.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net')
     and exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    execute 'create extension if not exists pg_net';
  end if;
end;
$$;
