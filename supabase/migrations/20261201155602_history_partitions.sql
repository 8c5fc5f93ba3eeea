-- Hand-written: sd_phase_handoffs and sd_transition_audit become tables partitioned by month
-- (#18; the definitions are those of supabase/schemas/03_handoff_records.sql). The CLI's diff
-- cannot turn a table into a partitioned one (it would drop the table and what depends on it), so
-- this renames the old tables, creates the partitioned ones, creates a partition for every month
-- the rows fall in, copies the rows and drops the old tables; the views that read them are created
-- again. The people work's (#16) actor columns, identity-stamp triggers, RLS policies and grants
-- are recreated on the new tables. metric_counters are recounted by a later migration.

alter table public.sd_phase_handoffs rename to sd_phase_handoffs_unpartitioned;
alter table public.sd_transition_audit rename to sd_transition_audit_unpartitioned;
-- free the index and constraint names for the new tables
alter table public.sd_phase_handoffs_unpartitioned drop constraint sd_phase_handoffs_pkey;
alter table public.sd_phase_handoffs_unpartitioned drop constraint sd_phase_handoffs_attempt_id_key;
alter table public.sd_phase_handoffs_unpartitioned drop constraint sd_phase_handoffs_status_check;
alter table public.sd_phase_handoffs_unpartitioned drop constraint sd_phase_handoffs_actor_via_check;
drop index public.sd_phase_handoffs_sd_id_idx;
drop index public.sd_phase_handoffs_created_idx;
alter table public.sd_transition_audit_unpartitioned drop constraint sd_transition_audit_pkey;
alter table public.sd_transition_audit_unpartitioned drop constraint sd_transition_audit_attempt_id_key;
alter table public.sd_transition_audit_unpartitioned drop constraint sd_transition_audit_status_check;
alter table public.sd_transition_audit_unpartitioned drop constraint sd_transition_audit_actor_via_check;
drop index public.sd_transition_audit_sd_id_idx;
drop index public.sd_transition_audit_created_idx;
drop index public.sd_transition_audit_failed_idx;

create table public.sd_phase_handoffs (
  id uuid not null default gen_random_uuid(),
  attempt_id uuid not null,
  sd_id text not null,
  sd_uuid uuid not null,
  handoff_type text not null,
  from_phase text not null,
  to_phase text not null,
  status text not null check (status in ('accepted', 'rejected', 'failed')),
  score numeric,
  threshold numeric,
  validation_mode text,
  failed_gate text,
  session_id text,
  execution_time_ms int,
  created_at timestamptz not null default now(),
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  primary key (id, created_at)
) partition by range (created_at);
create table public.sd_phase_handoffs_default partition of public.sd_phase_handoffs default;
create index sd_phase_handoffs_attempt_idx on public.sd_phase_handoffs (attempt_id);
create index sd_phase_handoffs_sd_id_idx on public.sd_phase_handoffs (sd_id);
create index sd_phase_handoffs_created_idx on public.sd_phase_handoffs (created_at);


create table public.sd_transition_audit (
  id uuid not null default gen_random_uuid(),
  sd_id text not null,
  sd_uuid uuid,
  transition_type text not null,
  session_id text,
  request_id text,
  attempt_id uuid,
  pre_state jsonb,
  post_state jsonb,
  -- abandoned: closed by fn_sweep_stuck_attempts (12_sweeps.sql); failed: a state change was
  -- attempted and rolled back.
  status text not null default 'in_progress' check (status in ('in_progress', 'completed', 'rejected', 'failed', 'abandoned')),
  error_details jsonb,
  error_message text,
  validation_mode text,
  score numeric,
  threshold numeric,
  failed_gate text,
  would_reject boolean not null default false,
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  primary key (id, created_at)
) partition by range (created_at);
create table public.sd_transition_audit_default partition of public.sd_transition_audit default;
create index sd_transition_audit_attempt_idx on public.sd_transition_audit (attempt_id);
create index sd_transition_audit_sd_id_idx on public.sd_transition_audit (sd_id, created_at desc);
create index sd_transition_audit_created_idx on public.sd_transition_audit (created_at desc);
-- v_latest_failed_transitions: the newest failed rows without reading the rest.
create index sd_transition_audit_failed_idx on public.sd_transition_audit (created_at desc) where status = 'failed';


create trigger tg_sd_transition_audit__updated_at before update on public.sd_transition_audit
  for each row execute function public.tg__set_updated_at();


create trigger tg_metrics_ins after insert on public.sd_phase_handoffs referencing new table as new_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_upd after update on public.sd_phase_handoffs referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_del after delete on public.sd_phase_handoffs referencing old table as old_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_trunc after truncate on public.sd_phase_handoffs
  for each statement execute function public.tg_metrics__truncate('handoffs', 'handoff_duration');
create trigger tg_metrics_ins after insert on public.sd_transition_audit referencing new table as new_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_upd after update on public.sd_transition_audit referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_del after delete on public.sd_transition_audit referencing old table as old_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_trunc after truncate on public.sd_transition_audit
  for each statement execute function public.tg_metrics__truncate('transitions', 'would_reject');

do $$
declare
  v_table text;
begin
  foreach v_table in array array['sd_phase_handoffs', 'sd_transition_audit', 'sd_phase_handoffs_default', 'sd_transition_audit_default'] loop
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on table public.%I from public, anon, authenticated', v_table);
    execute format('grant all on table public.%I to service_role', v_table);
  end loop;
end;
$$;


-- a partition for every month that has rows (none on a new database)
select public.fn_ensure_history_partitions(m.lo, m.hi)
from (select least((select min(created_at) from public.sd_phase_handoffs_unpartitioned),
                   (select min(created_at) from public.sd_transition_audit_unpartitioned))::date as lo,
             greatest((select max(created_at) from public.sd_phase_handoffs_unpartitioned),
                      (select max(created_at) from public.sd_transition_audit_unpartitioned))::date as hi) m
where m.lo is not null;

insert into public.sd_phase_handoffs select * from public.sd_phase_handoffs_unpartitioned;
insert into public.sd_transition_audit select * from public.sd_transition_audit_unpartitioned;

-- people (#16): who wrote each row, and who may read it (the stamp trigger after the copy, so the
-- copied rows keep their writers)
do $$
declare
  v_table text;
begin
  foreach v_table in array array['sd_phase_handoffs', 'sd_transition_audit'] loop
    execute format($f$comment on column public.%1$I.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)'$f$, v_table);
    execute format($f$comment on column public.%1$I.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)'$f$, v_table);
    execute format($f$comment on column public.%1$I.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)'$f$, v_table);
    execute format('create trigger _050_stamp_actor before insert on public.%I for each row execute function stagegate_private.tg__stamp_actor()', v_table);
    execute format('grant select on table public.%I to authenticated', v_table);
  end loop;
end;
$$;
create policy "members read their team's handoff records" on public.sd_phase_handoffs
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));
create policy "members read their team's audit" on public.sd_transition_audit
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));


drop view public.v_handoff_duration, public.v_latest_failed_transitions;
drop table public.sd_phase_handoffs_unpartitioned, public.sd_transition_audit_unpartitioned;

create or replace view public.v_handoff_duration with (security_invoker = true) as
select
  (h.created_at at time zone 'UTC')::date as day,
  h.handoff_type,
  h.from_phase,
  h.to_phase,
  count(*) as handoffs,
  round(avg(h.execution_time_ms), 1) as avg_ms,
  percentile_cont(0.5) within group (order by h.execution_time_ms) as p50_ms,
  percentile_cont(0.95) within group (order by h.execution_time_ms) as p95_ms,
  max(h.execution_time_ms) as max_ms
from public.sd_phase_handoffs h
where h.execution_time_ms is not null
  and h.created_at >= (((now() at time zone 'UTC')::date - 30)::timestamp at time zone 'UTC')
group by 1, 2, 3, 4;
comment on view public.v_handoff_duration is
  'Per UTC day of the last 31 and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max.';

create or replace view public.v_latest_failed_transitions with (security_invoker = true) as
select
  a.created_at,
  a.sd_id,
  a.transition_type,
  a.error_message,
  a.error_details ->> 'error_code' as error_code,
  a.error_details ->> 'failed_step' as failed_step,
  a.error_details ->> 'recovery_action' as recovery_action,
  a.session_id,
  a.request_id,
  a.attempt_id
from public.sd_transition_audit a
where a.status = 'failed'
order by a.created_at desc
limit 50;
comment on view public.v_latest_failed_transitions is
  'The 50 most recent failed transitions with the Spartan error log (error_code, failed_step, recovery_action), newest first.';

revoke all on table public.v_handoff_duration, public.v_latest_failed_transitions from public, anon, authenticated;
grant select on table public.v_handoff_duration, public.v_latest_failed_transitions to service_role;
