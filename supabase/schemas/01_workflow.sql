-- The workflow and its rules as data: phases, handoff types, thresholds per SD type (with their
-- audit trail), SD type classes, skip rules and the sub-agent registry (kept a DAG by trigger).
-- The shared updated_at trigger function lives here because these are the first tables to use it.
--
-- Errors raised by the core use SQLSTATE class 'SG' and start their message with a stable code,
-- so psql users can read them and the edge functions can map them (see supabase/ERRORS.md):
--   SG001 INVALID_INPUT             an argument is missing, malformed or contradicts stored data
--   SG002 SD_NOT_FOUND              no strategic directive with that key or uuid
--   SG003 UNKNOWN_HANDOFF_TYPE      handoff type not in public.handoff_types
--   SG004 WRONG_PHASE               the SD is not in a from-phase of the handoff type
--   SG005 CLAIMED_BY_OTHER_SESSION  another session holds an unexpired claim on the SD
--   SG006 SD_BUSY                   another transaction is completing a handoff of this SD right now
--   SG007 VERSION_CONFLICT          the caller's expected transition_version is stale
--   SG008 ALREADY_TRANSITIONED      the SD moved on since this attempt began
--   SG009 ATTEMPT_NOT_FOUND         no handoff attempt with that id / request id
--   SG010 INVALID_GATE_RESULT       a gate result fails the gate-result contract
--   SG011 UNKNOWN_GATE              gate code not in public.leo_sub_agents
--   SG012 DIRECT_UPDATE_REFUSED     phase/status changed outside a handoff RPC
--   SG013 UNKNOWN_DEPENDENCY        a sub-agent depends on a code that is not registered
--   SG014 DEPENDENCY_CYCLE          sub-agent dependencies form a cycle
--   SG040 AWAITING_APPROVAL         another attempt of the SD waits for approval (16_approvals.sql)
--   SG041 SELF_APPROVAL             the requester may not decide their own handoff's approval
--   SG042 NOT_AN_APPROVER           the caller's team role may not approve this attempt (or no user)
--   SG043 APPROVAL_CLOSED           the attempt is not awaiting approval
--   SG044 OVERRIDE_NOT_ALLOWED      the caller's team role does not hold the override permission
--   SG045 NOT_OVERRIDABLE           not a rejection an override may lift
--   SG015 PROMOTION_BLOCKED         a move to ENFORCE refused by the canary gate (10_modes_and_promotion.sql)
--   SG030 DIRECTIVE_EXISTS          creating a directive (or PRD) whose key is taken (16_directives_api.sql)
--
-- The rows (default workflow, thresholds, skip rules, sql gates) are data, not schema: they are
-- inserted by the hand-written migration 20261125000100_seed_data.sql. Change them with ordinary
-- DML (threshold changes are audited by trigger).

-- Phases an SD can be in. EXEC_IMPLEMENTATION exists because the seed runbook's smoke test inserts
-- an SD in it and runs EXEC-TO-PLAN; VERIFICATION is the seed's PLAN verification step.
create table public.sd_phases (
  phase text primary key check (phase ~ '^[A-Z][A-Z_]*$'),
  ordinal int not null unique,
  description text not null default ''
);

create table public.threshold_profiles (
  sd_type text primary key check (sd_type ~ '^[a-z][a-z0-9_-]{0,39}$'),
  gate_threshold numeric(5, 2) not null check (gate_threshold between 0 and 100),
  description text not null default '',
  updated_at timestamptz not null default now()
);
comment on table public.threshold_profiles is
  'Minimum weighted gate score (0-100) per SD type; the row ''default'' applies to nothing by itself, it documents the fallback.';

-- Written only by the trigger on threshold_profiles: who changed a threshold, when, from what to what.
create table public.threshold_profile_audit (
  id bigint generated always as identity primary key,
  sd_type text not null,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  old_row jsonb,
  new_row jsonb,
  changed_by text not null default current_user,
  changed_by_uid uuid,
  changed_at timestamptz not null default now()
);

-- The workflow: which phases a handoff leaves from, where it lands, and what it does to the SD
-- status, the PRD and the stories (null = leave unchanged).
create table public.handoff_types (
  code text primary key check (code ~ '^[A-Z]+(-[A-Z]+)+$'),
  from_phases text[] not null check (cardinality(from_phases) > 0),
  to_phase text not null references public.sd_phases (phase),
  sd_status text,
  prd_status text,
  story_status text,
  description text not null default ''
);

-- Named groups of SD types, so one skip rule covers a class ("lightweight", "doc_only").
create table public.sd_type_classes (
  class_name text not null check (class_name ~ '^[a-z][a-z0-9_]*$'),
  sd_type text not null,
  primary key (class_name, sd_type)
);

-- Seed pattern 8's single source of truth: applies_to is an SD type or a class name.
create table public.gate_skip_rules (
  id bigint generated always as identity primary key,
  applies_to text not null,
  validator_code text not null check (validator_code ~ '^[A-Z][A-Z0-9_]*$'),
  reason_code text not null check (reason_code in ('NON_APPLICABLE_SD_TYPE', 'LIGHTWEIGHT_SD_TYPE')),
  note text not null default '',
  unique (applies_to, validator_code)
);

-- The sub-agent (gate) registry. kind 'sql' gates run inside the database through
-- fn_evaluate_sql_gate, which executes target as the function owner; the target pattern below
-- keeps that to our own fn_gate_* functions so a registry row cannot name an arbitrary function.
create table public.leo_sub_agents (
  code text primary key check (code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  name text not null default '',
  -- approval: people decide (16_approvals.sql); nothing runs it, the verdict rule counts decisions
  kind text not null check (kind in ('sql', 'http', 'builtin', 'approval')),
  target text not null check (length(target) between 1 and 500),
  depends_on text[] not null default '{}',
  timeout_ms int not null default 60000 check (timeout_ms between 1 and 3600000),
  max_retries int not null default 2 check (max_retries between 0 and 10),
  weight numeric not null default 1 check (weight > 0),
  required boolean not null default true,
  handoff_types text[] not null default '{}',
  sd_types text[] not null default '{}',
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  approvals_required int not null default 1 check (approvals_required between 1 and 50),
  approver_roles text[] not null default '{LEAD}'
    constraint leo_sub_agents_approver_roles_check check (cardinality(approver_roles) between 1 and 4)
    constraint leo_sub_agents_approver_roles_known check (approver_roles <@ '{LEAD,PLAN,EXEC,VIEWER}'::text[]),
  approval_expiry interval not null default '72 hours'
    check (approval_expiry between interval '1 second' and interval '90 days'),
  overridable boolean not null default false,
  check (kind <> 'sql' or target ~ '^public\.fn_gate_[a-z0-9_]+$'),
  check (kind <> 'http' or target ~ '^https?://'),
  check (not code = any (depends_on)),
  -- an approval gate waits for people: nothing depends on it (it runs after every automated gate)
  constraint leo_sub_agents_approval_no_dependencies check (kind <> 'approval' or depends_on = '{}')
);
comment on column public.leo_sub_agents.handoff_types is 'Handoff types this gate runs for; empty = all.';
comment on column public.leo_sub_agents.sd_types is 'SD types this gate runs for; empty = all.';
comment on column public.leo_sub_agents.approvals_required is 'kind approval: distinct approvals needed (default 1).';
comment on column public.leo_sub_agents.approver_roles is 'kind approval: team roles whose members may approve (default {LEAD}); the requester never may.';
comment on column public.leo_sub_agents.approval_expiry is 'kind approval: how long an attempt waits for approvals before the sweep expires it (default 72 hours).';
comment on column public.leo_sub_agents.overridable is
  'A failed (or missing) result of this required gate may be overridden by a member with the override permission (default false: a failed required gate blocks).';

-- Timestamps, and (below) the audit trail of threshold changes (who, when, old, new).
create or replace function public.tg__set_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger tg_threshold_profiles__updated_at before update on public.threshold_profiles
  for each row execute function public.tg__set_updated_at();

create trigger tg_leo_sub_agents__updated_at before update on public.leo_sub_agents
  for each row execute function public.tg__set_updated_at();

-- current_user is the role that made the change (service_role, postgres, ...), which is why this is
-- not security definer; auth.uid() names the end user when the change came with a JWT.
create or replace function public.tg_threshold_profiles__audit() returns trigger
language plpgsql set search_path = '' as $$
begin
  insert into public.threshold_profile_audit (sd_type, operation, old_row, new_row, changed_by, changed_by_uid)
  values (
    coalesce(new.sd_type, old.sd_type), tg_op,
    case when tg_op <> 'INSERT' then to_jsonb(old) end,
    case when tg_op <> 'DELETE' then to_jsonb(new) end,
    current_user,
    auth.uid()
  );
  return null;
end;
$$;

create trigger tg_threshold_profiles__audit after insert or update or delete on public.threshold_profiles
  for each row execute function public.tg_threshold_profiles__audit();

-- The registry must stay a DAG of known codes, or the orchestrator's critical-path runner would
-- wait forever. Checked once per statement, so a batch insert may list gates in any order.
create or replace function public.tg_leo_sub_agents__check_dag() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_code text;
  v_dep text;
begin
  select a.code, d.dep into v_code, v_dep
  from public.leo_sub_agents a
  cross join lateral unnest(a.depends_on) as d(dep)
  where not exists (select 1 from public.leo_sub_agents b where b.code = d.dep)
  limit 1;
  if found then
    raise exception using errcode = 'SG013',
      message = format('UNKNOWN_DEPENDENCY: sub-agent %L depends on %L, which is not registered', v_code, v_dep);
  end if;

  with recursive reach (start, node) as (
    select a.code, d.dep from public.leo_sub_agents a cross join lateral unnest(a.depends_on) as d(dep)
    union
    select r.start, d.dep
    from reach r
    join public.leo_sub_agents a on a.code = r.node
    cross join lateral unnest(a.depends_on) as d(dep)
  )
  select start into v_code from reach where start = node order by start limit 1;
  if found then
    raise exception using errcode = 'SG014',
      message = format('DEPENDENCY_CYCLE: sub-agent %L depends on itself through depends_on', v_code);
  end if;
  return null;
end;
$$;

create trigger tg_leo_sub_agents__check_dag after insert or update of depends_on, code or delete
  on public.leo_sub_agents for each statement execute function public.tg_leo_sub_agents__check_dag();

-- One rule for text that reaches the SQL API (issue #15, "Bad input that still answers 500"):
-- no control characters. The RPCs are called directly too (psql, PostgREST, another service), so
-- the rule lives here and not only in the zod schemas at the edge. NUL itself cannot reach a
-- function (PostgreSQL text cannot hold it: the client gets 22021 or 22P05), so this catches the
-- rest: C0 controls, DEL and C1 controls. Identifiers (ids, keys, codes, sessions, scopes) allow
-- none; free text (reasons, error messages) keeps tab, line feed and carriage return.

create or replace function public.fn_check_text(p_arg text, p_value text, p_free_text boolean default false) returns void
language plpgsql immutable set search_path = '' as $$
declare
  v_at int;
begin
  if p_value is null then
    return;
  end if;
  v_at := case when p_free_text then regexp_instr(p_value, '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]')
               else regexp_instr(p_value, '[\x01-\x1F\x7F-\x9F]') end;
  if v_at > 0 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: %s contains a control character (U+%s at position %s)',
                       p_arg, lpad(to_hex(ascii(substr(p_value, v_at, 1))), 4, '0'), v_at);
  end if;
end;
$$;
comment on function public.fn_check_text(text, text, boolean) is
  'Raises SG001 INVALID_INPUT naming p_arg when p_value holds a control character (C0, DEL, C1; with p_free_text, tab, LF and CR are allowed). Called first by every RPC that stores or looks up caller text.';
revoke all on function public.fn_check_text(text, text, boolean) from public, anon, authenticated, service_role;
