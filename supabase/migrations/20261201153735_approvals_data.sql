-- Hand-written: the rows approval gates and overrides start with (a schema diff carries no rows).
--  * the sweeps of 16_approvals.sql, in the single source of their intervals: approval_expiry
--    (attempts awaiting approval past their deadline) and approval_events (the NOTIFY relay of
--    stagegate_approval); pg_cron (hosted) or the local scheduler picks them up by name
--  * the override permission's default: LEAD members may override (change it as data)

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('approval_expiry', 'public.fn_sweep_expired_approvals', '1 minute',
   'expire handoff attempts awaiting approval past their deadline'),
  ('approval_events', 'public.fn_sweep_approval_events', '1 second',
   'send NOTIFY stagegate_approval for approval requests, decisions, expiries and overrides')
on conflict (name) do nothing;

insert into public.override_permissions (role) values ('LEAD') on conflict (role) do nothing;

-- pg_cron (hosted): schedule the two new sweeps as the others are (fn_schedule_sweeps is idempotent)
do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform public.fn_schedule_sweeps();
  end if;
end
$$;
