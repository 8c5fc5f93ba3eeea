-- Hand-written: stagegate_overrides_total is now a counter (metric 'overrides' in metric_counters,
-- kept by the triggers on handoff_overrides the previous migration created). Count the overrides a
-- database already has, exactly once: under a share lock (no override is written meanwhile), the
-- counters the triggers may have kept since are replaced by a count of the rows.
do $$
begin
  lock table public.handoff_overrides in share mode;
  delete from public.metric_counters where metric = 'overrides';
  perform public.metrics_count_relation('overrides', 'public.handoff_overrides', 1);
end;
$$;

-- The sweep's description says what it does now (it also merges closed days' counter shards).
update public.sweep_schedule
set description = 'compute v_handoff_duration and v_orchestration_speed once per closed UTC day of the last 31; merge closed days'' metric_counters shards'
where name = 'metric_days';
