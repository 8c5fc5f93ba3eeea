-- Hand-written: metric_counters starts empty; count the rows a database already has, so the
-- snapshot's totals go on from where the recount left them (a data change, not a schema one).
select public.fn_metrics_rebuild_counters();

-- Retention periods of fn_sweep_retention (#18) and its schedule.
insert into public.retention_settings (kind, keep, batch_size, max_batches) values
  ('attempt_context', '30 days', 1000, 20),
  ('gate_payload', '30 days', 1000, 20),
  ('http_idempotency', '24 hours', 1000, 20),
  ('webhook_ids', '1 hour', 1000, 20),
  ('handoff_requests', '7 days', 1000, 20),
  ('expired_claims', '1 day', 1000, 20)
on conflict (kind) do nothing;

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('retention', 'public.fn_sweep_retention', '1 minute',
   'purge or compact short-lived data past its retention_settings period, in batches (context snapshots, gate payloads, idempotency records, webhook ids, finished requests, expired claims)')
on conflict (name) do nothing;

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('partitions', 'public.fn_sweep_partitions', '1 day',
   'create this month''s and the next three months'' partitions of sd_transition_audit and sd_phase_handoffs')
on conflict (name) do nothing;

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('metric_days', 'public.fn_sweep_metric_days', '1 hour',
   'compute v_handoff_duration and v_orchestration_speed once per closed UTC day of the last 31')
on conflict (name) do nothing;
