-- Hand-written: metric_counters starts empty; count the rows a database already has, so the
-- snapshot's totals go on from where the recount left them (a data change, not a schema one).
select public.fn_metrics_rebuild_counters();
