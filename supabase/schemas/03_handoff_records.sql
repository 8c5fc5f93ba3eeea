-- What a handoff leaves behind: attempts, recorded gate results, the handoff log, the transition
-- audit and the NOTIFY outbox. None of these tables has a foreign key to the SD: they are history,
-- and the seed runbook deletes a test SD and still reads its audit.

-- One row per handoff request (idempotent by request_id). gates and context are frozen at begin,
-- so every later step of the attempt judges the same plan and the same snapshot.
create table public.handoff_attempts (
  id uuid primary key default gen_random_uuid(),
  request_id text not null check (length(request_id) between 1 and 200),
  sd_id text not null,
  sd_uuid uuid not null,
  sd_type text not null,
  handoff_type text not null references public.handoff_types (code),
  session_id text not null,
  status text not null default 'in_progress'
    check (status in ('in_progress', 'awaiting_approval', 'completed', 'rejected', 'failed', 'abandoned', 'expired')),
  from_phase text not null,
  to_phase text not null,
  sd_version int not null,
  context jsonb not null,
  gates jsonb not null,
  result jsonb,
  audit_id uuid,
  started_at timestamptz not null default clock_timestamp(),
  finished_at timestamptz,
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  team_id uuid,
  -- sqlfix (#12): what the verdict depended on, dry runs, and a request id passed to a newer attempt
  inputs_hash text check (inputs_hash ~ '^[0-9a-f]{64}$'),
  dry_run boolean not null default false,
  superseded_at timestamptz,
  -- awaiting_approval: the automated gates passed, people decide next (16_approvals.sql)
  approval_deadline timestamptz,
  check ((status in ('in_progress', 'awaiting_approval')) = (finished_at is null)),
  constraint handoff_attempts_awaiting_has_deadline check (status <> 'awaiting_approval' or approval_deadline is not null),
  constraint handoff_attempts_superseded_finished check (superseded_at is null or status <> 'in_progress')
);
comment on column public.handoff_attempts.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.handoff_attempts.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.handoff_attempts.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
comment on column public.handoff_attempts.team_id is
  'The team of the directive when the attempt began: its members read the attempt and everything tied to it by attempt_id (gate results, handoff record, audit row).';
create index handoff_attempts_team_id_idx on public.handoff_attempts (team_id);
create trigger _040_stamp_team before insert on public.handoff_attempts
  for each row execute function stagegate_private.tg_handoff_attempts__stamp_team();
create trigger _050_stamp_actor before insert on public.handoff_attempts
  for each row execute function stagegate_private.tg__stamp_actor();
-- The request id is unique among the attempts not superseded (fn_begin_handoff).
create unique index handoff_attempts_request_id_key on public.handoff_attempts (request_id) where superseded_at is null;
comment on column public.handoff_attempts.inputs_hash is
  'sha256 (hex) of what the verdict depends on, taken at begin: fn_handoff_inputs_hash. A retry of a rejected request id replays only while it is unchanged.';
comment on column public.handoff_attempts.dry_run is
  'A dry run: no claim, deleted by fn_finish_dry_run (or the stuck-attempt sweep); never completed for real.';
comment on column public.handoff_attempts.superseded_at is
  'Set when a retry of this request id ran anew because the inputs changed (or the attempt ended without a verdict); the request id then belongs to the newer attempt.';
create index handoff_attempts_sd_uuid_idx on public.handoff_attempts (sd_uuid);
-- fn_sweep_retention walks finished attempts by start time.
create index handoff_attempts_started_idx on public.handoff_attempts (started_at);
create index handoff_attempts_in_progress_idx on public.handoff_attempts (started_at) where status = 'in_progress';
comment on column public.handoff_attempts.approval_deadline is
  'Set when the attempt starts awaiting approval: the sweep expires it after this time.';
-- at most one waiting attempt per directive; the expiry sweep reads them by deadline
create unique index handoff_attempts_awaiting_sd_idx on public.handoff_attempts (sd_uuid) where status = 'awaiting_approval';
create index handoff_attempts_awaiting_deadline_idx on public.handoff_attempts (approval_deadline) where status = 'awaiting_approval';

-- One row per (attempt, gate). A repeated record is not a new row: it bumps hit_count and sets
-- metadata.idempotent_hit, so the runbook's count of idempotent_hit rows counts results that were
-- recorded more than once, and sum(hit_count) counts the duplicate calls themselves.
create table public.sub_agent_execution_results (
  id uuid primary key default gen_random_uuid(),
  attempt_id uuid not null references public.handoff_attempts (id) on delete cascade,
  sd_id text not null,
  sub_agent_code text not null,
  verdict text not null check (verdict in ('PASS', 'FAIL', 'SKIPPED', 'ERROR')),
  passed boolean not null,
  score numeric not null check (score >= 0),
  max_score numeric not null check (max_score > 0),
  issues jsonb not null default '[]' check (jsonb_typeof(issues) = 'array'),
  warnings jsonb not null default '[]' check (jsonb_typeof(warnings) = 'array'),
  fixes jsonb not null default '[]' check (jsonb_typeof(fixes) = 'array'),
  skipped boolean not null default false,
  skip_reason text,
  error text,
  -- calls actually made: 0 for a gate skipped or refused by an open circuit breaker
  attempts int not null default 1 check (attempts >= 0),
  duration_ms int check (duration_ms >= 0),
  execution_time numeric generated always as (duration_ms / 1000.0) stored,
  idempotency_key text check (length(idempotency_key) <= 200),
  hit_count int not null default 0,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  unique (attempt_id, sub_agent_code),
  check (score <= max_score)
);
comment on column public.sub_agent_execution_results.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.sub_agent_execution_results.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.sub_agent_execution_results.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
create trigger _050_stamp_actor before insert on public.sub_agent_execution_results
  for each row execute function stagegate_private.tg__stamp_actor();
-- For the last hour's rates of fn_metrics_snapshot and the retention sweep.
create index sub_agent_execution_results_created_idx on public.sub_agent_execution_results (created_at);
create index sub_agent_execution_results_key_idx on public.sub_agent_execution_results (idempotency_key)
  where idempotency_key is not null;

-- The audit trail (sd_phase_handoffs and sd_transition_audit) is kept for ever, partitioned by
-- month of created_at (#18): <table>_yYYYYmMM, created ahead by fn_sweep_partitions (12_sweeps.sql),
-- so an operator can detach and archive an old month and bring it back (docs/runbook.md,
-- "History: partitions and archives"). A <table>_default partition takes a row whose month has no
-- partition yet, so an insert never fails for want of one. The primary key of a partitioned table
-- must hold the partition key, (id, created_at), and attempt_id is no longer unique on its own:
-- one row per attempt is kept by the writers, which hold the attempt's row lock (fn_complete_handoff,
-- fn_sweep_stuck_attempts), and checked by fn_check_invariants.
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
comment on column public.sd_phase_handoffs.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.sd_phase_handoffs.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.sd_phase_handoffs.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
create trigger _050_stamp_actor before insert on public.sd_phase_handoffs
  for each row execute function stagegate_private.tg__stamp_actor();
create index sd_phase_handoffs_sd_id_idx on public.sd_phase_handoffs (sd_id);
create index sd_phase_handoffs_created_idx on public.sd_phase_handoffs (created_at);

-- Exactly one terminal row per attempt (see above: kept by the writers, checked by
-- fn_check_invariants).
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
  -- attempted and rolled back; expired: waited for approvals past its deadline (16_approvals.sql).
  status text not null default 'in_progress' check (status in ('in_progress', 'completed', 'rejected', 'failed', 'abandoned', 'expired')),
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
comment on column public.sd_transition_audit.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.sd_transition_audit.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.sd_transition_audit.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
create trigger _050_stamp_actor before insert on public.sd_transition_audit
  for each row execute function stagegate_private.tg__stamp_actor();
create index sd_transition_audit_sd_id_idx on public.sd_transition_audit (sd_id, created_at desc);
create index sd_transition_audit_created_idx on public.sd_transition_audit (created_at desc);
-- v_latest_failed_transitions: the newest failed rows without reading the rest.
create index sd_transition_audit_failed_idx on public.sd_transition_audit (created_at desc) where status = 'failed';

create trigger tg_sub_agent_execution_results__updated_at before update on public.sub_agent_execution_results
  for each row execute function public.tg__set_updated_at();

create trigger tg_sd_transition_audit__updated_at before update on public.sd_transition_audit
  for each row execute function public.tg__set_updated_at();

create table public.transition_notifications (
  id bigint generated always as identity primary key,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  created_at timestamptz not null default now()
);
comment on table public.transition_notifications is
  'Outbox of NOTIFY stagegate_transition payloads, one per accepted transition, written by fn_complete_handoff and sent and deleted by fn_sweep_transition_notifications.';
alter table public.transition_notifications enable row level security;
revoke all on table public.transition_notifications from public, anon, authenticated;
grant select on table public.transition_notifications to service_role;

-- sqlfix (#12): requests that leave no attempt behind, counted for the metrics.
create table public.handoff_request_events (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('replay', 'dry_run')),
  reason text not null check (length(reason) between 1 and 40),
  handoff_type text,
  at timestamptz not null default clock_timestamp()
);
create index handoff_request_events_at on public.handoff_request_events (at);
comment on table public.handoff_request_events is
  'Counters of requests that leave no attempt behind: replays of a finished request id (kind replay, reason accepted|unchanged_inputs) and dry runs (kind dry_run, reason = verdict). Insert-only, so concurrent retries never wait on each other; purged after 24 h by the idempotency sweep.';
alter table public.handoff_request_events enable row level security;
revoke all on table public.handoff_request_events from public, anon, authenticated;
grant select on table public.handoff_request_events to service_role;
