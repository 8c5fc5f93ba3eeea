-- Keep it clean: scheduled sweeps, each one SQL function, each returning what it did as jsonb.
-- public.sweep_schedule is the single source of the intervals: pg_cron reads it on hosted Supabase
-- (fn_schedule_sweeps), the local stack's scheduler (stack/scheduler.ts) reads it everywhere else.
-- Both run a sweep through fn_run_sweep(name), so either way the row records when it last ran.
-- The rows of sweep_schedule are data (20261125000100_seed_data.sql); enabling pg_cron / pg_net
-- and scheduling the jobs is the hand-written migration 20261125000200_sweeps_schedule.sql.

-- ============================================================================================
-- fn_sweep_expired_claims: a lapsed session claim is already free (fn_claim_sd takes it over);
-- deleting it keeps "who holds what" (select * from sd_claims) true at a glance.
-- ============================================================================================
create or replace function public.fn_sweep_expired_claims() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_count int;
begin
  delete from public.sd_claims c where c.expires_at <= now();
  get diagnostics v_count = row_count;
  return jsonb_build_object('expired_claims', v_count);
end;
$$;
comment on function public.fn_sweep_expired_claims() is
  'Delete session claims whose lease has expired. Returns {expired_claims}. Scheduled by sweep_schedule ''expired_claims''.';

-- ============================================================================================
-- fn_sweep_stuck_attempts: an attempt whose function died between begin and complete stays
-- in_progress for ever. The sweep closes it as abandoned with the one terminal audit row the core
-- promises per attempt, carrying the Spartan error log (error_code ABANDONED), nothing changed
-- (pre_state = post_state). Its audit status is 'abandoned', not 'failed': 'failed' means a state
-- change was attempted and rolled back (the transition-failure alert), which this was not.
-- SKIP LOCKED: an attempt fn_complete_handoff holds right now is finishing, not stuck; and an
-- attempt this sweep locks first makes that complete return the abandoned result as a replay.
-- ============================================================================================
create or replace function public.fn_sweep_stuck_attempts(p_older_than interval default '15 minutes') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_count int;
  v_dry int;
begin
  if p_older_than is null or p_older_than < interval '1 second' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_older_than must be at least 1 second (got %s)', p_older_than);
  end if;

  with stuck as (
    select a.*, gen_random_uuid() as new_audit_id, public.fn_sd_state(a.sd_id) as state,
           (select count(*) from jsonb_array_elements(a.gates) g where not (g->>'skip')::boolean) as planned,
           (select count(*) from public.sub_agent_execution_results r where r.attempt_id = a.id and not r.skipped) as recorded
    from public.handoff_attempts a
    where a.status = 'in_progress' and a.started_at < now() - p_older_than
      and not a.dry_run  -- sqlfix: a dry run left by a crash is deleted below, never audited
    order by a.started_at
    for update skip locked
  ),
  logged as (
    select s.*, jsonb_build_object(
      'error_code', 'ABANDONED',
      'error_message', format('handoff attempt %s (%s of %s) was in progress for %s without completing; closed by the stuck-attempt sweep',
                              s.id, s.handoff_type, s.sd_id, date_trunc('second', now() - s.started_at)),
      'failed_step', case when s.recorded < s.planned then '2. Run gates' else '3. Complete' end,
      'pre_state', s.state,
      'partial_state', jsonb_build_object('gate_results_recorded', s.recorded, 'gates_to_run', s.planned,
                                          'state_changed', false, 'rolled_back', false),
      'recovery_action', format('No state was changed: %s is still in %s. Run the handoff again with a new request id; if it hangs again, check the gates'' timeouts and breakers (public.sub_agent_breaker_status).',
                                s.sd_id, s.from_phase)) as error
    from stuck s
  ),
  audit as (
    insert into public.sd_transition_audit
      (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
       error_details, error_message, started_at, completed_at)
    select l.new_audit_id, l.sd_id, l.sd_uuid, l.handoff_type, l.session_id, l.request_id, l.id, l.state, l.state, 'abandoned',
           l.error, l.error->>'error_message', l.started_at, clock_timestamp()
    from logged l
    returning attempt_id
  )
  update public.handoff_attempts a
     set status = 'abandoned', finished_at = clock_timestamp(), audit_id = l.new_audit_id,
         -- the shape of fn_complete_handoff's answer: a replay of this request id returns it
         result = jsonb_build_object(
           'verdict', 'failed', 'attempt_id', l.id, 'request_id', l.request_id, 'audit_id', l.new_audit_id,
           'sd_id', l.sd_id, 'sd_uuid', l.sd_uuid, 'sd_type', l.sd_type, 'handoff_type', l.handoff_type,
           'from_phase', l.from_phase, 'to_phase', l.from_phase, 'transition_version', l.sd_version,
           'score', null, 'threshold', null, 'failed_gate', null, 'would_reject', false,
           'issues', jsonb_build_array(l.error->>'error_message'), 'warnings', '[]'::jsonb,
           'abandoned', true, 'replay', false, 'error', l.error)
    from logged l
   where a.id = l.id and a.id in (select attempt_id from audit);
  get diagnostics v_count = row_count;
  -- sqlfix: dry runs whose fn_finish_dry_run never came (the function crashed): nothing to audit
  delete from public.handoff_attempts a
  where a.dry_run and a.status = 'in_progress' and a.started_at < now() - p_older_than;
  get diagnostics v_dry = row_count;
  return jsonb_build_object('abandoned_attempts', v_count, 'deleted_dry_runs', v_dry, 'older_than', p_older_than::text);
end;
$$;
comment on function public.fn_sweep_stuck_attempts(interval) is
  'Mark handoff attempts in_progress for longer than p_older_than (default 15 minutes) as abandoned, each with one audit row of status abandoned carrying the Spartan error log (error_code ABANDONED, failed_step, pre_state, partial_state, recovery_action); delete dry-run attempts as old (no audit: a dry run leaves nothing). Returns {abandoned_attempts, deleted_dry_runs, older_than}.';
-- ============================================================================================
-- fn_sweep_idempotency: HTTP Idempotency-Key records past their retention (24 h, as Stripe) and,
-- where the ops webhook is installed, delivered webhook ids past their replay window. Sub-agent
-- results need no retention: their identity is (attempt, gate), they are the audit history.
-- ============================================================================================
create or replace function public.fn_sweep_idempotency(p_http_older_than interval default '24 hours') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_http int;
  v_webhooks int;
  v_events int;
begin
  v_http := public.fn_idempotency_purge(p_http_older_than);
  -- sqlfix: the request counters age out with the HTTP keys
  delete from public.handoff_request_events e where e.at < now() - p_http_older_than;
  get diagnostics v_events = row_count;
  -- dynamic: the webhook-id store belongs to another migration and may be absent
  if to_regprocedure('public.fn_purge_webhook_ids()') is not null then
    execute 'select public.fn_purge_webhook_ids()' into v_webhooks;
  end if;
  return jsonb_build_object('http_idempotency_keys', v_http, 'webhook_ids', v_webhooks, 'handoff_request_events', v_events);
end;
$$;
comment on function public.fn_sweep_idempotency(interval) is
  'Purge HTTP Idempotency-Key records older than p_http_older_than (default 24 hours, live leases kept) and, if public.fn_purge_webhook_ids() exists, webhook ids past their window. Returns {http_idempotency_keys, webhook_ids (null when there is no webhook store)}.';

-- ============================================================================================
-- fn_sweep_breakers: open breakers whose reset time elapsed go half-open, so the status view and
-- the metrics show the truth even when no handoff has touched that sub-agent since.
-- ============================================================================================
create or replace function public.fn_sweep_breakers() returns jsonb
language sql security definer set search_path = '' as $$
  select jsonb_build_object('breakers_half_opened', public.fn_breaker_sweep())
$$;
comment on function public.fn_sweep_breakers() is
  'Move open breakers whose reset timeout elapsed to half_open (fn_breaker_sweep). Returns {breakers_half_opened}.';

-- ============================================================================================
-- The schedule. pg_cron understands '1-59 seconds' and cron expressions, so an interval must be
-- whole seconds under a minute, whole minutes under an hour, whole hours under a day, or a day.
-- ============================================================================================
create or replace function public.fn_sweep_cron_schedule(p_every interval) returns text
language plpgsql immutable set search_path = '' as $$
declare
  v_epoch numeric;
  s bigint;
begin
  -- plpgsql, not sql: an inlined CASE may fold extract(epoch from 'infinity')::bigint at plan time
  if p_every is null or not isfinite(p_every) then
    return null;
  end if;
  v_epoch := extract(epoch from p_every);
  if v_epoch <> trunc(v_epoch) or abs(v_epoch) > 1e12 then
    return null;
  end if;
  s := v_epoch::bigint;
  return case
    when s between 1 and 59 then format('%s seconds', s)
    when s between 60 and 3599 and s % 60 = 0 then case s / 60 when 1 then '* * * * *' else format('*/%s * * * *', s / 60) end
    when s between 3600 and 86399 and s % 3600 = 0 then case s / 3600 when 1 then '0 * * * *' else format('0 */%s * * *', s / 3600) end
    when s = 86400 then '0 0 * * *'
  end;
end;
$$;
comment on function public.fn_sweep_cron_schedule(interval) is
  'The pg_cron schedule for a sweep interval (''30 seconds'', ''*/5 * * * *'', ''0 * * * *''), or null when pg_cron cannot express it.';

create table public.sweep_schedule (
  name text primary key check (name ~ '^[a-z][a-z0-9_]{0,40}$'),
  -- executed by fn_run_sweep with the definer's rights: only our own fn_sweep_* functions
  sql_function text not null check (sql_function ~ '^public\.fn_sweep_[a-z0-9_]+$'),
  interval interval not null check (public.fn_sweep_cron_schedule(interval) is not null),
  enabled boolean not null default true,
  description text not null default '',
  last_run_at timestamptz,
  last_duration_ms int,
  last_result jsonb,
  last_error text
);
comment on table public.sweep_schedule is
  'The single source of the sweeps'' intervals, for pg_cron (hosted) and stack/scheduler.ts (local). After changing a row on hosted Supabase run select public.fn_schedule_sweeps().';
-- ============================================================================================
-- Grants: service_role only (the scheduler and operators); the sweeps change data anon must not.
-- ============================================================================================
alter table public.sweep_schedule enable row level security;
revoke all on table public.sweep_schedule from public, anon, authenticated;
grant select, update on table public.sweep_schedule to service_role;

-- Run one sweep by name and record the outcome on its row. An error is recorded, not raised, so
-- pg_cron's history and the scheduler's log both show it and the next run still happens.
create or replace function public.fn_run_sweep(p_name text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sweep public.sweep_schedule;
  v_started timestamptz := clock_timestamp();
  v_result jsonb;
  v_error text;
begin
  perform public.fn_check_text('p_name', p_name);  -- sqlfix: no control characters (fn_check_text)
  select * into v_sweep from public.sweep_schedule s where s.name = p_name;
  if not found then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: no sweep %L (known: %s)', p_name,
                       (select string_agg(s.name, ', ' order by s.name) from public.sweep_schedule s));
  end if;
  begin
    execute format('select %s()', v_sweep.sql_function) into v_result;
  exception when others then
    v_error := format('%s: %s', sqlstate, sqlerrm);
  end;
  update public.sweep_schedule s
     set last_run_at = v_started, last_result = v_result, last_error = v_error,
         last_duration_ms = (extract(epoch from clock_timestamp() - v_started) * 1000)::int
   where s.name = p_name;
  return jsonb_build_object('name', p_name, 'ok', v_error is null, 'result', v_result, 'error', v_error);
end;
$$;
comment on function public.fn_run_sweep(text) is
  'Run the sweep p_name from sweep_schedule and record last_run_at, last_duration_ms, last_result and last_error on its row. Errors are caught and returned as {ok: false, error}. Returns {name, ok, result, error}.';

create or replace function public.fn_run_sweeps() returns jsonb
language sql security definer set search_path = '' as $$
  select coalesce(jsonb_object_agg(s.name, public.fn_run_sweep(s.name) - 'name'), '{}')
  from (select name from public.sweep_schedule where enabled order by name) s
$$;
comment on function public.fn_run_sweeps() is
  'Run every enabled sweep once, now. Returns {<name>: {ok, result, error}} (for example result.expired_claims, result.abandoned_attempts).';

-- ============================================================================================
-- pg_cron: jobs named stagegate_<sweep>, one per enabled row; disabled rows are unscheduled. Only
-- where pg_cron is usable (created, so preloaded, and 1.5 or newer: the sweeps need second
-- schedules); elsewhere stack/scheduler.ts runs the sweeps, and fn_sweep_scheduler says which.
-- Dynamic SQL, so this parses and runs where the cron schema does not exist. The extension is
-- created, and the jobs scheduled, by the hand-written migration …_pg_cron_scheduling.sql.
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

revoke execute on function
  public.fn_sweep_expired_claims(),
  public.fn_sweep_stuck_attempts(interval),
  public.fn_sweep_idempotency(interval),
  public.fn_sweep_breakers(),
  public.fn_sweep_cron_schedule(interval),
  public.fn_run_sweep(text),
  public.fn_run_sweeps(),
  public.fn_schedule_sweeps()
from public, anon, authenticated;

grant execute on function
  public.fn_sweep_expired_claims(),
  public.fn_sweep_stuck_attempts(interval),
  public.fn_sweep_idempotency(interval),
  public.fn_sweep_breakers(),
  public.fn_sweep_cron_schedule(interval),
  public.fn_run_sweep(text),
  public.fn_run_sweeps(),
  public.fn_schedule_sweeps()
to service_role;

revoke execute on function public.fn_pg_cron_status(), public.fn_schedule_sweeps(), public.fn_sweep_scheduler()
  from public, anon, authenticated;
grant execute on function public.fn_pg_cron_status(), public.fn_schedule_sweeps(), public.fn_sweep_scheduler()
  to service_role;
-- internal: only fn_schedule_sweeps (the owner's rights) calls it, after checking pg_cron
revoke execute on function public.fn_pg_cron_schedule_jobs() from public, anon, authenticated, service_role;

-- Sends and deletes the oldest pending notifications in one transaction. One relay at a time (a
-- transaction advisory lock; a second caller, say pg_cron beside a local scheduler, returns 0), so
-- per SD the order is kept: the next transition of an SD begins after the previous one committed,
-- so its row has a larger id and is never visible without the earlier one.
create or replace function public.fn_sweep_transition_notifications(p_limit int default 5000) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_count int := 0;
  v_payload jsonb;
begin
  if p_limit is null or p_limit < 1 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_limit must be a positive number, got %s', coalesce(p_limit::text, 'null'));
  end if;
  if not pg_try_advisory_xact_lock(hashtext('stagegate.transition_notifications')::bigint) then
    return jsonb_build_object('transition_notifications', 0, 'busy', true);
  end if;
  for v_payload in
    with batch as (
      delete from public.transition_notifications n
      where n.id in (select o.id from public.transition_notifications o order by o.id limit p_limit)
      returning n.id, n.payload
    )
    select b.payload from batch b order by b.id
  loop
    perform pg_notify('stagegate_transition', v_payload::text);
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('transition_notifications', v_count);
end;
$$;
comment on function public.fn_sweep_transition_notifications(int) is
  'Send NOTIFY stagegate_transition for up to p_limit pending rows of transition_notifications, oldest first, and delete them, in one transaction. Returns {transition_notifications: count sent}. Scheduled by sweep_schedule ''transition_notifications'' (every second).';
revoke execute on function public.fn_sweep_transition_notifications(int) from public, anon, authenticated;
grant execute on function public.fn_sweep_transition_notifications(int) to service_role;
