-- Hand-written: the 'approval_webhooks' sweep in the single source of the sweeps' intervals (a
-- schema diff carries no rows). It does nothing until handoff_request_dispatch.approval_webhooks
-- is set on a server with pg_net (hosted Supabase); see docs/runbook.md, "Deploy".
insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('approval_webhooks', 'public.fn_sweep_approval_webhooks', '5 seconds',
   'hosted: kick the approval-webhooks function with pg_net while approval webhook deliveries are due (nothing to do without pg_net)')
on conflict (name) do nothing;

-- pg_cron (hosted): schedule it as the others are (fn_schedule_sweeps is idempotent)
do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform public.fn_schedule_sweeps();
  end if;
end
$$;
