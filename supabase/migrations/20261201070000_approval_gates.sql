-- Approval gates: people as well as validators in the same atomic, audited handoff.
--
-- A registry row of kind 'approval' (leo_sub_agents, same applicability by handoff type and SD
-- type as any gate) asks for approvals_required approvals from members of the directive's team
-- whose role is in approver_roles, within approval_expiry (default 72 hours). Nothing runs it:
-- the orchestrator and fn_execute_handoff run only the automated gates, and the verdict rule
-- (fn_judge_attempt) counts the decisions recorded in approval_decisions.
--
-- The life of an attempt whose plan holds an approval gate:
--   in_progress --complete, automated gates fail--------------------> rejected (as before)
--   in_progress --complete, automated gates pass, approvals missing---> awaiting_approval
--       (no transition, no audit row yet; the deadline is set; the session's claim is held until
--        the deadline; begin of any other handoff of the directive answers SG040 AWAITING_APPROVAL)
--   awaiting_approval --fn_decide_approval completes the count---------> completed (the transition,
--       through the same complete: advisory lock, version checks, savepoint, audit row)
--   awaiting_approval --fn_decide_approval 'reject'--------------------> rejected (with the comment)
--   awaiting_approval --fn_sweep_expired_approvals after the deadline---> expired (audited)
-- A settled attempt releases its session's claim. Every request, decision and expiry is written
-- to approval_events (the history, and the outbox of NOTIFY stagegate_approval).
--
-- SQLSTATEs: SG040 AWAITING_APPROVAL, SG041 SELF_APPROVAL, SG042 NOT_AN_APPROVER,
-- SG043 APPROVAL_CLOSED (the attempt is not awaiting approval).

-- ============================================================================================
-- The registry: gate kind 'approval'
-- ============================================================================================
alter table public.leo_sub_agents drop constraint leo_sub_agents_kind_check;
alter table public.leo_sub_agents add constraint leo_sub_agents_kind_check
  check (kind in ('sql', 'http', 'builtin', 'approval'));
alter table public.leo_sub_agents
  add column approvals_required int not null default 1 check (approvals_required between 1 and 50),
  add column approver_roles text[] not null default '{LEAD}'
    check (cardinality(approver_roles) between 1 and 4 and approver_roles <@ array['LEAD', 'PLAN', 'EXEC', 'VIEWER']),
  add column approval_expiry interval not null default '72 hours'
    check (approval_expiry between interval '1 second' and interval '90 days'),
  -- an approval gate waits for people: nothing depends on it (it runs after every automated gate)
  add constraint leo_sub_agents_approval_no_dependencies check (kind <> 'approval' or depends_on = '{}');
comment on column public.leo_sub_agents.approvals_required is 'kind approval: distinct approvals needed (default 1).';
comment on column public.leo_sub_agents.approver_roles is 'kind approval: team roles whose members may approve (default {LEAD}); the requester never may.';
comment on column public.leo_sub_agents.approval_expiry is 'kind approval: how long an attempt waits for approvals before the sweep expires it (default 72 hours).';

-- ============================================================================================
-- Attempts that wait, and how they end
-- ============================================================================================
alter table public.handoff_attempts drop constraint handoff_attempts_status_check;
alter table public.handoff_attempts add constraint handoff_attempts_status_check
  check (status in ('in_progress', 'awaiting_approval', 'completed', 'rejected', 'failed', 'abandoned', 'expired'));
alter table public.handoff_attempts drop constraint handoff_attempts_check;
alter table public.handoff_attempts add constraint handoff_attempts_check
  check ((status in ('in_progress', 'awaiting_approval')) = (finished_at is null));
alter table public.handoff_attempts add column approval_deadline timestamptz;
comment on column public.handoff_attempts.approval_deadline is
  'Set when the attempt starts awaiting approval: the sweep expires it after this time.';
alter table public.handoff_attempts add constraint handoff_attempts_awaiting_has_deadline
  check (status <> 'awaiting_approval' or approval_deadline is not null);
-- at most one waiting attempt per directive; the expiry sweep reads it by deadline
create unique index handoff_attempts_awaiting_sd_idx on public.handoff_attempts (sd_uuid) where status = 'awaiting_approval';
create index handoff_attempts_awaiting_deadline_idx on public.handoff_attempts (approval_deadline) where status = 'awaiting_approval';

alter table public.sd_transition_audit drop constraint sd_transition_audit_status_check;
alter table public.sd_transition_audit add constraint sd_transition_audit_status_check
  check (status in ('in_progress', 'completed', 'rejected', 'failed', 'abandoned', 'expired'));

-- ============================================================================================
-- Decisions and events
-- ============================================================================================
create table public.approval_decisions (
  id uuid primary key default gen_random_uuid(),
  attempt_id uuid not null references public.handoff_attempts (id) on delete cascade,
  sd_id text not null,
  approver_id uuid not null,
  approver_role text not null check (approver_role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  decision text not null check (decision in ('approve', 'reject')),
  comment text check (length(comment) <= 2000),
  decided_at timestamptz not null default clock_timestamp(),
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  -- one decision per person and attempt: a repeat changes nothing
  unique (attempt_id, approver_id),
  check (decision = 'approve' or length(btrim(comment)) > 0)
);
comment on table public.approval_decisions is
  'One row per (attempt, approver): approve or reject, the approver''s team role at the time and comment. Written only by fn_decide_approval.';
create trigger _050_stamp_actor before insert on public.approval_decisions
  for each row execute function stagegate_private.tg__stamp_actor();

-- The history of approvals and overrides, and the outbox of NOTIFY stagegate_approval (the
-- approval_events sweep sends unsent rows and marks them; rows stay as the history).
create table public.approval_events (
  id bigint generated always as identity primary key,
  event text not null check (event in ('approval_requested', 'approval_decided', 'approval_expired', 'override')),
  attempt_id uuid not null references public.handoff_attempts (id) on delete cascade,
  sd_id text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  created_at timestamptz not null default clock_timestamp(),
  notified_at timestamptz
);
comment on table public.approval_events is
  'Every approval request, decision, expiry and override (payload: event, attempt_id, sd_id, handoff_type, who, what is still needed). NOTIFY stagegate_approval sends each once (notified_at); the rows stay as the directive''s approval history.';
create index approval_events_attempt_id_idx on public.approval_events (attempt_id);
create index approval_events_sd_id_idx on public.approval_events (sd_id, id);
create index approval_events_unsent_idx on public.approval_events (id) where notified_at is null;

alter table public.approval_decisions enable row level security;
alter table public.approval_events enable row level security;
revoke all on table public.approval_decisions, public.approval_events from public, anon, authenticated, service_role;
grant select on table public.approval_decisions, public.approval_events to authenticated, service_role;
create policy "members read their team's approval decisions" on public.approval_decisions
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));
create policy "members read their team's approval events" on public.approval_events
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));

-- ============================================================================================
-- The plan: approval gates carry what they ask for (frozen at begin with the rest of the plan)
-- ============================================================================================
create or replace function public.fn_handoff_gates(p_handoff_type text, p_sd_type text) returns jsonb
language sql stable set search_path = '' as $$
  with plan as (
    select a.*
    from public.leo_sub_agents a
    where a.active
      and (a.handoff_types = '{}' or p_handoff_type = any (a.handoff_types))
      and (a.sd_types = '{}' or p_sd_type = any (a.sd_types))
  ),
  skips as (
    select * from public.fn_check_skip_conditions(p_sd_type, (select array_agg(p.code) from plan p))
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'code', p.code, 'kind', p.kind, 'target', p.target,
      -- approvals: nothing waits for an approval gate (people decide after the automated gates)
      'depends_on', to_jsonb(array(select d from unnest(p.depends_on) d where d in (select q.code from plan q where q.kind <> 'approval'))),
      'timeout_ms', p.timeout_ms, 'max_retries', p.max_retries, 'weight', p.weight,
      'required', p.required, 'skip', s.should_skip, 'skip_reason', s.reason_code
    ) || case when p.kind = 'approval' then jsonb_build_object(  -- approvals: what the gate asks for
      'approvals_required', p.approvals_required, 'approver_roles', to_jsonb(p.approver_roles),
      'approval_expiry_s', extract(epoch from p.approval_expiry)::int) else '{}'::jsonb end
    order by p.code), '[]')
  from plan p join skips s on s.validator = p.code
$$;

-- ============================================================================================
-- The verdict rule, with approvals (the rest is the body of 20261125011100)
-- ============================================================================================

-- Where an attempt's approval gates stand: per gate (not skipped by the plan) how many eligible
-- approvals it has and still needs, and the first rejection by an eligible member. Reads only.
create function stagegate_private.fn_approval_state(p_attempt public.handoff_attempts) returns jsonb
language sql stable set search_path = '' as $$
  with gates as (
    select g->>'code' as code, coalesce((g->>'approvals_required')::int, 1) as required,
           array(select jsonb_array_elements_text(coalesce(g->'approver_roles', '["LEAD"]'))) as roles,
           coalesce((g->>'approval_expiry_s')::int, 259200) as expiry_s, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
    where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
  ), counted as (
    select g.*,
           (select count(*) from public.approval_decisions d
             where d.attempt_id = p_attempt.id and d.decision = 'approve' and d.approver_role = any (g.roles))::int as approvals,
           (select coalesce(jsonb_agg(jsonb_build_object('user_id', d.approver_id, 'role', d.approver_role,
                                                         'comment', d.comment, 'decided_at', d.decided_at) order by d.decided_at), '[]')
              from public.approval_decisions d
             where d.attempt_id = p_attempt.id and d.decision = 'approve' and d.approver_role = any (g.roles)) as approved_by
    from gates g
  )
  select case when not exists (select 1 from gates) then null else jsonb_build_object(
    'gates', (select jsonb_agg(jsonb_build_object(
                'code', c.code, 'approvals_required', c.required, 'approver_roles', to_jsonb(c.roles),
                'approvals', c.approvals, 'approvals_needed', greatest(c.required - c.approvals, 0),
                'expiry_s', c.expiry_s, 'approved_by', c.approved_by) order by c.ord) from counted c),
    'approvals_needed', (select sum(greatest(c.required - c.approvals, 0)) from counted c),
    'approver_roles', (select to_jsonb(array_agg(distinct r order by r)) from counted c, unnest(c.roles) r where c.approvals < c.required),
    'expiry_s', (select min(c.expiry_s) from counted c where c.approvals < c.required),
    'deadline', p_attempt.approval_deadline,
    'rejected', (select jsonb_build_object('gate', c.code, 'user_id', d.approver_id, 'role', d.approver_role,
                                           'comment', d.comment, 'decided_at', d.decided_at)
                   from public.approval_decisions d join counted c on d.approver_role = any (c.roles)
                  where d.attempt_id = p_attempt.id and d.decision = 'reject'
                  order by d.decided_at, c.ord limit 1))
  end
$$;
comment on function stagegate_private.fn_approval_state(public.handoff_attempts) is
  'Approval gates of an attempt: {gates: [{code, approvals_required, approver_roles, approvals, approvals_needed, expiry_s, approved_by}], approvals_needed, approver_roles (of the gates still open), expiry_s, deadline, rejected: {gate, user_id, role, comment, decided_at} | null}; null when the plan has no approval gate.';

create or replace function public.fn_judge_attempt(p_attempt public.handoff_attempts) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_score numeric;
  v_missing text[];
  v_failed text[];
  v_gates jsonb;
  v_gate_issues text[];
  v_gate_warnings text[];
  v_threshold numeric := trim_scale(public.fn_sd_threshold(p_attempt.sd_type));
  v_mode text := public.fn_get_validation_mode(p_attempt.sd_type);
  v_issues text[] := '{}';
  v_warnings text[] := '{}';
  v_failed_gate text;
  v_would_reject boolean := false;
  v_message text;
  v_approvals jsonb;
  v_verdict text;
  v_override jsonb;
begin
  with plan as (
    select g->>'code' as code, (g->>'weight')::numeric as weight, (g->>'required')::boolean as required,
           (g->>'skip')::boolean as plan_skip, g->>'skip_reason' as plan_skip_reason, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
    where g->>'kind' is distinct from 'approval'  -- approvals: people are counted below, not scored
  ), judged as (
    select p.*, r.id is not null as recorded, r.passed, r.score, r.max_score,
           p.plan_skip or coalesce(r.skipped, false) as skipped,
           coalesce(p.plan_skip_reason, r.skip_reason) as skip_reason,
           case when not (p.plan_skip or r.skipped) then r.score / r.max_score * 100 end as pct
    from plan p
    left join public.sub_agent_execution_results r on r.attempt_id = p_attempt.id and r.sub_agent_code = p.code
  )
  select
    round(sum(j.weight * j.pct) / nullif(sum(j.weight) filter (where j.pct is not null), 0), 2),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and not j.plan_skip and j.pct is null), '{}'),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and j.pct is not null and not j.passed), '{}'),
    coalesce(jsonb_agg(jsonb_build_object(
      'code', j.code, 'required', j.required, 'weight', j.weight, 'recorded', j.recorded, 'skipped', j.skipped,
      'skip_reason', j.skip_reason, 'passed', j.passed, 'score', j.score, 'maxScore', j.max_score,
      'normalised', trim_scale(round(j.pct, 2))) order by j.ord), '[]')
  into v_score, v_missing, v_failed, v_gates
  from judged j;
  v_score := trim_scale(coalesce(v_score, 100));

  select coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'issue'), '{}'),
         coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'warning'), '{}')
  into v_gate_issues, v_gate_warnings
  from public.sub_agent_execution_results r
  cross join lateral (
    select 'issue' as kind, x.value from jsonb_array_elements(r.issues) x
    union all
    select 'warning', x.value from jsonb_array_elements(r.warnings) x
  ) i
  where r.attempt_id = p_attempt.id and not r.skipped;

  if cardinality(v_missing) > 0 then
    v_failed_gate := v_missing[1];
    v_issues := v_issues || array(select format('required gate %s has no result', m) from unnest(v_missing) m);
  end if;
  if cardinality(v_failed) > 0 then
    v_failed_gate := coalesce(v_failed_gate, v_failed[1]);
    v_issues := v_issues || array(select format('required gate %s failed', f) from unnest(v_failed) f);
  end if;
  if v_mode <> 'OFF' and v_score < v_threshold then
    v_message := format('SD type ''%s'' requires %s%% gate score, got %s%%',
                        p_attempt.sd_type, v_threshold, v_score);
    if v_mode = 'ENFORCE' then
      v_failed_gate := coalesce(v_failed_gate, 'SD_TYPE_THRESHOLD');
      v_issues := v_issues || v_message;
    else
      v_would_reject := true;
      v_warnings := v_warnings || ('WARN mode, would reject: ' || v_message);
    end if;
  end if;
  -- ---------------------------------------------------------------- overrides
  -- A member with the override permission accepted this handoff below its threshold or with a
  -- failed overridable gate (fn_override_handoff, 20261201070100); approvals still apply.
  if v_failed_gate is not null then
    v_override := stagegate_private.fn_override_for(p_attempt.id, v_gates);
    if v_override is not null then
      v_warnings := v_warnings || format('%s overridden by %s (%s): %s', v_failed_gate, v_override->>'actor_id',
                                         v_override->>'role', v_override->>'reason');
      v_failed_gate := null;
    end if;
  end if;
  v_verdict := case when v_failed_gate is null then 'accepted' else 'rejected' end;

  -- ---------------------------------------------------------------- approvals
  -- Only once the automated gates let the handoff through: a rejection by an eligible member
  -- rejects it (with the comment), missing approvals keep it waiting.
  v_approvals := stagegate_private.fn_approval_state(p_attempt);
  if v_approvals is not null and v_verdict = 'accepted' then
    if v_approvals->'rejected' <> 'null'::jsonb then
      v_verdict := 'rejected';
      v_failed_gate := v_approvals->'rejected'->>'gate';
      v_issues := v_issues || format('approval gate %s: rejected by %s (%s): %s', v_failed_gate,
                                     v_approvals->'rejected'->>'user_id', v_approvals->'rejected'->>'role',
                                     v_approvals->'rejected'->>'comment');
    elsif (v_approvals->>'approvals_needed')::int > 0 then
      v_verdict := 'awaiting_approval';
    end if;
  end if;

  return jsonb_build_object(
    'verdict', v_verdict,
    'score', v_score, 'threshold', v_threshold, 'validation_mode', v_mode, 'failed_gate', v_failed_gate,
    'issues', to_jsonb(v_issues || v_gate_issues), 'warnings', to_jsonb(v_warnings || v_gate_warnings),
    'would_reject', v_would_reject, 'gates', v_gates)
    || case when v_approvals is null then '{}'::jsonb else jsonb_build_object('approvals', v_approvals) end
    || case when v_override is null then '{}'::jsonb else jsonb_build_object('override', v_override) end;
end;
$$;

-- ============================================================================================
-- Complete: the body of 20261201060100 (people), with the approvals hooks (marked "approvals:")
-- ============================================================================================
create function stagegate_private.fn_complete_attempt(p_attempt_id uuid, p_expected_version int) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_sd public.strategic_directives_v2;
  v_type public.handoff_types;
  v_holder text;
  v_judgement jsonb;
  v_verdict text;
  v_pre jsonb;
  v_post jsonb;
  v_error jsonb;
  v_step text := '4. Apply state changes';
  v_key text;
  v_stories_updated int := 0;
  v_prd_updated boolean := false;
  v_sd_updated boolean := false;
  v_err_state text;
  v_err_message text;
  v_version int;
  v_audit_id uuid := gen_random_uuid();
  v_result jsonb;
  v_notify_mode text;
  v_payload jsonb;
begin
  -- ---------------------------------------------------------------- replay, lock, preconditions
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select a.sd_id, a.sd_uuid, a.status, a.result into v_attempt.sd_id, v_attempt.sd_uuid, v_attempt.status, v_attempt.result
  from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  -- approvals: a waiting attempt is completed again by the decision (or call) that settles it
  if v_attempt.status not in ('in_progress', 'awaiting_approval') then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- fail fast rather than queue: the loser retries or reports SD_BUSY to its caller
  if not pg_try_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another transaction is completing a handoff of strategic directive %L; retry shortly', v_attempt.sd_id);
  end if;
  -- re-read under the lock: a concurrent complete of this very attempt may have just committed
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  -- approvals: a waiting attempt is completed again by the decision (or call) that settles it
  if v_attempt.status not in ('in_progress', 'awaiting_approval') then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- No row lock here: step 4 takes it, inside its savepoint (see the top of this file).
  select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L was deleted since the attempt began', v_attempt.sd_id);
  end if;
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if v_sd.transition_version <> v_attempt.sd_version then
    raise exception using errcode = 'SG008',
      message = format('ALREADY_TRANSITIONED: strategic directive %L moved to %s (transition_version %s) after attempt %s began at version %s; begin a new handoff',
                       v_sd.id, v_sd.current_phase, v_sd.transition_version, v_attempt.id, v_attempt.sd_version);
  end if;
  -- by uuid, not by the key read above: a rename committed since then has moved the claim with it
  -- people: a claim is (session, user); the holder's session is named only to who may see it
  select stagegate_private.fn_claim_holder(c.session_id, c.actor_id) into v_holder
  from public.sd_claims c join public.strategic_directives_v2 s on s.id = c.sd_id
  where s.uuid = v_sd.uuid and c.expires_at > now()
    and (c.session_id, c.actor_id) is distinct from (v_attempt.session_id, v_attempt.actor_id);
  if found then
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is now held by %s', v_sd.id, v_holder);
  end if;
  select * into v_type from public.handoff_types t where t.code = v_attempt.handoff_type;
  -- approvals: while another attempt of the directive waits for approvals, this one cannot complete
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, v_attempt.id);

  -- ---------------------------------------------------------------- judge
  v_judgement := public.fn_judge_attempt(v_attempt);
  v_verdict := v_judgement->>'verdict';
  v_pre := public.fn_sd_state(v_sd.id);
  v_version := v_sd.transition_version;
  -- approvals: the automated gates let it through, approvals are still missing: it waits (no
  -- transition, no audit row until it is settled)
  if v_verdict = 'awaiting_approval' then
    return stagegate_private.fn_await_approval(v_attempt, v_judgement);
  end if;

  -- ---------------------------------------------------------------- apply (all or nothing)
  -- The sub-block is a savepoint: any error undoes every change inside it, and the function goes
  -- on to write the failed audit row with the Spartan error log.
  if v_verdict = 'accepted' then
    begin
      v_step := '4. Lock SD';
      select s.id into v_key from public.strategic_directives_v2 s
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
         and s.current_phase = v_sd.current_phase and s.status = v_sd.status
         for no key update;
      if not found then
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      if v_key <> v_sd.id then
        -- renamed since it was read: the rename cascaded to the PRD and stories; follow it
        v_sd.id := v_key;
        v_pre := public.fn_sd_state(v_key);
      end if;
      perform set_config('stagegate.in_transition', 'on', true);
      if v_type.story_status is not null then
        v_step := '4a. Transition user stories';
        update public.user_stories u set status = v_type.story_status
        where u.sd_id = v_sd.id and u.status <> v_type.story_status;
        get diagnostics v_stories_updated = row_count;
      end if;
      if v_type.prd_status is not null then
        v_step := '4b. Transition PRD';
        update public.product_requirements_v2 p set status = v_type.prd_status where p.sd_id = v_sd.id;
        v_prd_updated := found;
      end if;
      v_step := '4c. Transition SD';
      update public.strategic_directives_v2 s
         set current_phase = v_type.to_phase, status = coalesce(v_type.sd_status, s.status),
             transition_version = s.transition_version + 1
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
      returning s.transition_version into v_version;
      if not found then
        -- only a trigger fired by the steps above (in this transaction, under our lock) gets here
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      v_sd_updated := true;
      v_step := '4d. Record handoff';
      insert into public.sd_phase_handoffs
        (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
         validation_mode, failed_gate, session_id, execution_time_ms)
      values
        (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, 'accepted',
         (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
         null, v_attempt.session_id, (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
      perform set_config('stagegate.in_transition', '', true);
    exception when others then
      get stacked diagnostics v_err_state = returned_sqlstate, v_err_message = message_text;
      -- waiting for the SD's row lock failed (lock_timeout, deadlock, serialization): nothing was
      -- tried yet, so let the caller retry this attempt, as when the lock was taken before step 4
      if v_step = '4. Lock SD' and v_err_state in ('55P03', '40P01', '40001') then
        raise;
      end if;
      v_verdict := 'failed';
      v_version := v_sd.transition_version;
      v_error := jsonb_build_object(
        'error_code', v_err_state, 'error_message', v_err_message, 'failed_step', v_step, 'pre_state', v_pre,
        'partial_state', jsonb_build_object('user_stories_updated', v_stories_updated, 'prd_updated', v_prd_updated,
                                            'sd_updated', v_sd_updated, 'rolled_back', true),
        'recovery_action', format('No state was changed (all of step 4 rolled back). Fix the cause of %s at "%s", then run the handoff again with a new request id.',
                                  v_err_state, v_step));
    end;
  end if;

  -- ---------------------------------------------------------------- record the outcome
  -- rejected: nothing was tried, the state read under the advisory lock stands; accepted or
  -- failed: read it again (a failure may have been someone else changing or deleting the SD)
  v_post := case when v_verdict = 'rejected' then v_pre else public.fn_sd_state(v_sd.id) end;
  if v_verdict <> 'accepted' then
    insert into public.sd_phase_handoffs
      (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
       validation_mode, failed_gate, session_id, execution_time_ms)
    values
      (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, v_verdict,
       (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
       v_judgement->>'failed_gate', v_attempt.session_id,
       (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
  end if;

  v_result := v_judgement || jsonb_build_object(
    'verdict', v_verdict, 'attempt_id', v_attempt.id, 'request_id', v_attempt.request_id, 'audit_id', v_audit_id,
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'sd_type', v_attempt.sd_type, 'handoff_type', v_type.code,
    'from_phase', v_attempt.from_phase,
    'to_phase', case when v_verdict = 'accepted' then v_type.to_phase else v_attempt.from_phase end,
    'transition_version', v_version, 'replay', false, 'error', v_error);
  if v_verdict = 'failed' then
    v_result := v_result || jsonb_build_object(
      'issues', (v_judgement->'issues') || to_jsonb(format('%s failed: %s', v_step, v_err_message)));
  end if;

  insert into public.sd_transition_audit
    (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
     error_details, error_message, validation_mode, score, threshold, failed_gate, would_reject, started_at, completed_at,
     updated_at)
  values
    (v_audit_id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.session_id, v_attempt.request_id, v_attempt.id, v_pre, v_post,
     case v_verdict when 'accepted' then 'completed' else v_verdict end,
     case v_verdict when 'failed' then v_error
                    when 'rejected' then jsonb_build_object('failed_gate', v_judgement->'failed_gate', 'issues', v_judgement->'issues') end,
     v_err_message, v_judgement->>'validation_mode', (v_judgement->>'score')::numeric,
     (v_judgement->>'threshold')::numeric, v_judgement->>'failed_gate', (v_judgement->>'would_reject')::boolean,
     -- updated_at - created_at is the completing transaction's own time (the runbook's duration query)
     v_attempt.started_at, clock_timestamp(), clock_timestamp());

  update public.handoff_attempts a
     set status = case v_verdict when 'accepted' then 'completed' else v_verdict end,
         finished_at = clock_timestamp(), result = v_result, audit_id = v_audit_id
   where a.id = v_attempt.id;

  -- NOTIFY stagegate_transition: through the outbox by default (fn_sweep_transition_notifications
  -- sends it within a second of the commit), or from this transaction when the setting
  -- stagegate.notify_transitions is 'commit' (sent at commit, but NOTIFY holds a database-wide lock
  -- until the commit is flushed, so notifying transactions commit one at a time), or never ('off').
  if v_verdict = 'accepted' then
    v_notify_mode := coalesce(nullif(current_setting('stagegate.notify_transitions', true), ''), 'outbox');
    if v_notify_mode <> 'off' then
      v_payload := jsonb_build_object(
        'sd_id', v_sd.id, 'handoff_type', v_type.code, 'from_phase', v_attempt.from_phase, 'to_phase', v_type.to_phase,
        'transition_version', v_version, 'attempt_id', v_attempt.id, 'audit_id', v_audit_id);
      if v_notify_mode = 'commit' then
        perform pg_notify('stagegate_transition', v_payload::text);
      else
        insert into public.transition_notifications (payload) values (v_payload);
      end if;
    end if;
  end if;
  -- approvals: a waiting attempt that is settled now gives its claim back
  if v_attempt.status = 'awaiting_approval' then
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
  end if;
  return v_result;
end;
$$;

-- ============================================================================================
-- Begin: the body of 20261201060100 (people) and one approvals line
-- ============================================================================================
create or replace function public.fn_begin_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_expected_version int default null
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_type_code text := public.fn_normalise_handoff_type(p_handoff_type);
  v_type public.handoff_types;
  v_sd public.strategic_directives_v2;
  v_attempt public.handoff_attempts;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;

  -- ---------------------------------------------------------------- replay
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    perform stagegate_private.fn_authorize_attempt(v_attempt.id, true);  -- people: a replay is the attempt owner's (or the service role's)
    return public.fn_attempt_answer(v_attempt, true);
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  perform stagegate_private.fn_authorize_handoff(v_sd.team_id, v_type.code, v_sd.id);  -- people: member with a permitted role, or the service role
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if not v_sd.current_phase = any (v_type.from_phases) then
    raise exception using errcode = 'SG004',
      message = format('WRONG_PHASE: %s needs strategic directive %L in %s, it is in %s',
                       v_type.code, v_sd.id, array_to_string(v_type.from_phases, ' or '), v_sd.current_phase);
  end if;
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, null);  -- approvals: one waiting handoff at a time
  perform public.fn_claim_sd(v_sd.id, p_session_id);

  -- ---------------------------------------------------------------- open the attempt
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type))
  on conflict (request_id) do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
    return public.fn_attempt_answer(v_attempt, true);
  end if;
  return public.fn_attempt_answer(v_attempt, false);
end;
$$;

-- ============================================================================================
-- Helpers of complete
-- ============================================================================================

-- SG040 while an attempt of the directive (other than p_except) waits for approvals.
create function stagegate_private.fn_refuse_while_awaiting(p_sd_uuid uuid, p_sd_id text, p_except uuid) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_waiting record;
begin
  select a.id, a.handoff_type, a.approval_deadline into v_waiting
  from public.handoff_attempts a
  where a.sd_uuid = p_sd_uuid and a.status = 'awaiting_approval' and a.id is distinct from p_except;
  if found then
    raise exception using errcode = 'SG040',
      message = format('AWAITING_APPROVAL: %s of strategic directive %L (attempt %s) is waiting for approval until %s; decide it (POST /functions/v1/handoff/attempts/%s/approvals) or let it expire',
                       v_waiting.handoff_type, p_sd_id, v_waiting.id, v_waiting.approval_deadline, v_waiting.id);
  end if;
end;
$$;

-- One row of approval_events (the history and the NOTIFY outbox).
create function stagegate_private.fn_announce(p_event text, p_attempt public.handoff_attempts, p_detail jsonb) returns void
language sql security definer set search_path = '' as $$
  insert into public.approval_events (event, attempt_id, sd_id, payload)
  values (p_event, p_attempt.id, p_attempt.sd_id,
          jsonb_build_object('event', p_event, 'attempt_id', p_attempt.id, 'sd_id', p_attempt.sd_id,
                             'sd_type', p_attempt.sd_type, 'handoff_type', p_attempt.handoff_type,
                             'requested_by', p_attempt.actor_id, 'at', clock_timestamp()) || p_detail)
$$;

-- The attempt's session gives its claim on the directive back (found through the SD's uuid).
create function stagegate_private.fn_release_attempt_claim(p_attempt public.handoff_attempts) returns void
language sql security definer set search_path = '' as $$
  delete from public.sd_claims c
  using public.strategic_directives_v2 s
  where s.uuid = p_attempt.sd_uuid and c.sd_id = s.id
    and c.session_id = p_attempt.session_id and c.actor_id is not distinct from p_attempt.actor_id
$$;

-- An attempt whose automated gates passed starts (or keeps) waiting for approvals. The first
-- time: the deadline (now + the shortest expiry of its open approval gates), the session's claim
-- held until then, and an approval_requested event. Afterwards (a decision that does not yet
-- complete the count, or the owner completing it again): the stored answer, with the counts now.
create function stagegate_private.fn_await_approval(p_attempt public.handoff_attempts, p_judgement jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_deadline timestamptz := coalesce(p_attempt.approval_deadline,
                                     clock_timestamp() + make_interval(secs => (p_judgement->'approvals'->>'expiry_s')::int));
  v_result jsonb;
begin
  v_result := p_judgement || jsonb_build_object(
    'verdict', 'awaiting_approval', 'status', 'awaiting_approval',
    'attempt_id', p_attempt.id, 'request_id', p_attempt.request_id, 'audit_id', null,
    'sd_id', p_attempt.sd_id, 'sd_uuid', p_attempt.sd_uuid, 'sd_type', p_attempt.sd_type,
    'handoff_type', p_attempt.handoff_type, 'from_phase', p_attempt.from_phase, 'to_phase', p_attempt.from_phase,
    'transition_version', p_attempt.sd_version, 'replay', p_attempt.status = 'awaiting_approval', 'error', null,
    'approvals', (p_judgement->'approvals') || jsonb_build_object('deadline', v_deadline));
  update public.handoff_attempts a
     set status = 'awaiting_approval', approval_deadline = v_deadline, result = v_result
   where a.id = p_attempt.id;
  if p_attempt.status = 'in_progress' then
    update public.sd_claims c set expires_at = greatest(c.expires_at, v_deadline)
      from public.strategic_directives_v2 s
     where s.uuid = p_attempt.sd_uuid and c.sd_id = s.id
       and c.session_id = p_attempt.session_id and c.actor_id is not distinct from p_attempt.actor_id;
    perform stagegate_private.fn_announce('approval_requested', p_attempt, jsonb_build_object(
      'score', p_judgement->'score', 'threshold', p_judgement->'threshold',
      'approvals_needed', p_judgement->'approvals'->'approvals_needed',
      'approver_roles', p_judgement->'approvals'->'approver_roles',
      'gates', p_judgement->'approvals'->'gates', 'deadline', v_deadline));
  end if;
  return v_result;
end;
$$;

-- ============================================================================================
-- fn_complete_handoff: the attempt's owner (or the service role), then the complete path, which
-- fn_decide_approval also runs for the approver whose decision settles a waiting attempt
-- ============================================================================================
create or replace function public.fn_complete_handoff(p_attempt_id uuid, p_expected_version int default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  return stagegate_private.fn_complete_attempt(p_attempt_id, p_expected_version);
end;
$$;
comment on function public.fn_complete_handoff(uuid, int) is
  'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. When the plan holds approval gates and the automated gates pass, the attempt becomes awaiting_approval (verdict awaiting_approval, approvals: what is still needed and until when) and fn_decide_approval completes it. An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed|awaiting_approval), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, approvals, transition_version, replay, error}.';

-- ============================================================================================
-- fn_decide_approval: a person approves or rejects a waiting attempt
-- ============================================================================================
create function public.fn_decide_approval(p_attempt_id uuid, p_decision text, p_comment text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_actor record;
  v_attempt public.handoff_attempts;
  v_role text;
  v_prior public.approval_decisions;
  v_decision public.approval_decisions;
  v_eligible text[];
  v_result jsonb;
begin
  -- ---------------------------------------------------------------- validation
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  if p_decision is null or p_decision not in ('approve', 'reject') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_decision must be approve or reject (got %L)', p_decision);
  end if;
  if length(p_comment) > 2000 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_comment is at most 2000 characters (got %s)', length(p_comment));
  end if;
  if p_decision = 'reject' and (p_comment is null or btrim(p_comment) = '') then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a rejection needs a comment (the requester reads it)';
  end if;

  -- ---------------------------------------------------------------- who
  select * into v_actor from stagegate_private.current_actor();
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG042',
      message = format('NOT_AN_APPROVER: an approval is a person''s decision; %s has no user (sign in as a member of the directive''s team)', v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = v_attempt.team_id and m.user_id = v_actor.user_id;
  if not found then
    -- as for GET /handoff/attempts/<id>: to anyone outside the team the attempt does not exist
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;

  -- ---------------------------------------------------------------- a repeat changes nothing
  select * into v_prior from public.approval_decisions d where d.attempt_id = p_attempt_id and d.approver_id = v_actor.user_id;
  if found then
    return stagegate_private.fn_decision_answer(v_prior, false);
  end if;
  if v_attempt.actor_id is not distinct from v_actor.user_id then
    raise exception using errcode = 'SG041',
      message = format('SELF_APPROVAL: user %s requested %s of strategic directive %L and may not decide its approval', v_actor.user_id, v_attempt.handoff_type, v_attempt.sd_id);
  end if;
  select array_agg(g->>'code' order by g->>'code') into v_eligible
  from jsonb_array_elements(v_attempt.gates) g
  where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
    and v_role in (select jsonb_array_elements_text(g->'approver_roles'));
  if v_eligible is null then
    raise exception using errcode = 'SG042',
      message = format('NOT_AN_APPROVER: user %s is %s in the team of strategic directive %L; %s of attempt %s is approved by %s',
                       v_actor.user_id, v_role, v_attempt.sd_id, v_attempt.handoff_type, p_attempt_id,
                       coalesce((select string_agg(distinct r, ' or ') from jsonb_array_elements(v_attempt.gates) g,
                                        jsonb_array_elements_text(g->'approver_roles') r where g->>'kind' = 'approval'),
                                'nobody (its plan has no approval gate)'));
  end if;

  -- ---------------------------------------------------------------- decide, one at a time
  -- Concurrent deciders queue on the directive's advisory lock (the one complete takes, so it is
  -- ours when complete asks for it), then on the attempt's row: each sees the decisions committed
  -- before it. Queuing on the row alone is not enough: a committing decider wakes the next one
  -- before its advisory lock is gone, and complete would answer SD_BUSY.
  perform pg_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid));
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if v_attempt.status <> 'awaiting_approval' then
    raise exception using errcode = 'SG043',
      message = format('APPROVAL_CLOSED: attempt %s is %s, not awaiting approval', p_attempt_id, v_attempt.status);
  end if;
  insert into public.approval_decisions (attempt_id, sd_id, approver_id, approver_role, decision, comment)
  values (p_attempt_id, v_attempt.sd_id, v_actor.user_id, v_role, p_decision, nullif(btrim(p_comment), ''))
  returning * into v_decision;

  -- the complete path (lock, version checks, audit) judges again with this decision counted
  v_result := stagegate_private.fn_complete_attempt(p_attempt_id, null);
  perform stagegate_private.fn_announce('approval_decided', v_attempt, jsonb_build_object(
    'decision', p_decision, 'comment', v_decision.comment, 'approver_id', v_actor.user_id, 'approver_role', v_role,
    'verdict', v_result->>'verdict', 'approvals_needed', v_result->'approvals'->'approvals_needed',
    'audit_id', v_result->'audit_id'));
  return stagegate_private.fn_decision_answer(v_decision, true);
end;
$$;
comment on function public.fn_decide_approval(uuid, text, text) is
  'Approve or reject a handoff attempt awaiting approval, as the calling user (a member of the directive''s team whose role is in an approval gate''s approver_roles; never the requester). The decision that completes the count applies the transition through the complete path in the same transaction; a rejection (comment required) rejects the attempt. A repeat by the same user changes nothing and returns the first decision (recorded=false). Raises SG041 SELF_APPROVAL, SG042 NOT_AN_APPROVER, SG043 APPROVAL_CLOSED, SG009 ATTEMPT_NOT_FOUND (also to non-members). Returns {attempt_id, decision: {approver_id, role, decision, comment, decided_at}, recorded, status, verdict, result}.';

create function stagegate_private.fn_decision_answer(p_decision public.approval_decisions, p_recorded boolean) returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object(
    'attempt_id', a.id, 'recorded', p_recorded, 'status', a.status,
    'verdict', a.result->>'verdict',
    'decision', jsonb_build_object('approver_id', p_decision.approver_id, 'role', p_decision.approver_role,
                                   'decision', p_decision.decision, 'comment', p_decision.comment,
                                   'decided_at', p_decision.decided_at),
    'result', a.result)
  from public.handoff_attempts a where a.id = p_decision.attempt_id
$$;

-- ============================================================================================
-- Sweeps: expiry, and the NOTIFY relay of approval_events
-- ============================================================================================
create function public.fn_sweep_expired_approvals() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_state jsonb;
  v_audit_id uuid;
  v_error jsonb;
  v_count int := 0;
begin
  -- SKIP LOCKED: an attempt a decider holds right now is being settled, not left behind
  for v_attempt in
    select * from public.handoff_attempts a
    where a.status = 'awaiting_approval' and a.approval_deadline <= clock_timestamp()
    order by a.approval_deadline
    for update skip locked
  loop
    v_audit_id := gen_random_uuid();
    v_state := public.fn_sd_state((select s.id from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid));
    v_error := jsonb_build_object(
      'error_code', 'APPROVAL_EXPIRED',
      'error_message', format('%s of strategic directive %L waited for approval until %s without enough approvals (%s still needed); expired by the approval sweep',
                              v_attempt.handoff_type, v_attempt.sd_id, v_attempt.approval_deadline,
                              coalesce(v_attempt.result->'approvals'->>'approvals_needed', '?')),
      'failed_step', '3. Approvals', 'pre_state', v_state,
      'partial_state', jsonb_build_object('state_changed', false, 'rolled_back', false,
                                          'approvals', v_attempt.result->'approvals'),
      'recovery_action', format('No state was changed: %s is still in %s. Request the handoff again and ask the approvers in time.',
                                v_attempt.sd_id, v_attempt.from_phase));
    insert into public.sd_transition_audit
      (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
       error_details, error_message, validation_mode, score, threshold, started_at, completed_at)
    values
      (v_audit_id, v_attempt.sd_id, v_attempt.sd_uuid, v_attempt.handoff_type, v_attempt.session_id, v_attempt.request_id,
       v_attempt.id, v_state, v_state, 'expired', v_error, v_error->>'error_message',
       v_attempt.result->>'validation_mode', (v_attempt.result->>'score')::numeric, (v_attempt.result->>'threshold')::numeric,
       v_attempt.started_at, clock_timestamp());
    update public.handoff_attempts a
       set status = 'expired', finished_at = clock_timestamp(), audit_id = v_audit_id,
           result = a.result || jsonb_build_object('verdict', 'expired', 'status', 'expired', 'audit_id', v_audit_id,
                                                   'issues', coalesce(a.result->'issues', '[]') || to_jsonb(v_error->>'error_message'),
                                                   'replay', false, 'error', v_error)
     where a.id = v_attempt.id;
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
    perform stagegate_private.fn_announce('approval_expired', v_attempt, jsonb_build_object(
      'deadline', v_attempt.approval_deadline, 'approvals', v_attempt.result->'approvals', 'audit_id', v_audit_id));
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('expired_approvals', v_count);
end;
$$;
comment on function public.fn_sweep_expired_approvals() is
  'Expire handoff attempts awaiting approval past their approval_deadline: status expired, one audit row of status expired (error_code APPROVAL_EXPIRED), the session''s claim released, an approval_expired event. Returns {expired_approvals}. Scheduled by sweep_schedule ''approval_expiry''.';

create function public.fn_sweep_approval_events(p_limit int default 1000) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_count int := 0;
  v_payload jsonb;
begin
  if p_limit is null or p_limit < 1 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_limit must be a positive number, got %s', coalesce(p_limit::text, 'null'));
  end if;
  if not pg_try_advisory_xact_lock(hashtext('stagegate.approval_events')::bigint) then
    return jsonb_build_object('approval_events', 0, 'busy', true);
  end if;
  for v_payload in
    with batch as (
      update public.approval_events e set notified_at = clock_timestamp()
      where e.id in (select o.id from public.approval_events o where o.notified_at is null order by o.id limit p_limit)
      returning e.id, e.payload || jsonb_build_object('event_id', e.id) as payload
    )
    select b.payload from batch b order by b.id
  loop
    perform pg_notify('stagegate_approval', v_payload::text);
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('approval_events', v_count);
end;
$$;
comment on function public.fn_sweep_approval_events(int) is
  'Send NOTIFY stagegate_approval for up to p_limit unsent approval_events, oldest first, and mark them sent. Returns {approval_events: count sent}. Scheduled by sweep_schedule ''approval_events'' (every second).';

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('approval_expiry', 'public.fn_sweep_expired_approvals', '1 minute',
   'expire handoff attempts awaiting approval past their deadline'),
  ('approval_events', 'public.fn_sweep_approval_events', '1 second',
   'send NOTIFY stagegate_approval for approval requests, decisions, expiries and overrides');

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function
  stagegate_private.fn_approval_state(public.handoff_attempts),
  stagegate_private.fn_complete_attempt(uuid, int),
  stagegate_private.fn_refuse_while_awaiting(uuid, text, uuid),
  stagegate_private.fn_announce(text, public.handoff_attempts, jsonb),
  stagegate_private.fn_release_attempt_claim(public.handoff_attempts),
  stagegate_private.fn_await_approval(public.handoff_attempts, jsonb),
  stagegate_private.fn_decision_answer(public.approval_decisions, boolean)
from public, anon, authenticated, service_role;
revoke all on function public.fn_decide_approval(uuid, text, text) from public, anon;
grant execute on function public.fn_decide_approval(uuid, text, text) to authenticated, service_role;
revoke all on function public.fn_sweep_expired_approvals(), public.fn_sweep_approval_events(int) from public, anon, authenticated;
grant execute on function public.fn_sweep_expired_approvals(), public.fn_sweep_approval_events(int) to service_role;

-- fn_check_invariants: an expired attempt has its one terminal audit row too
create or replace function public.fn_check_invariants()
returns table (invariant text, subject text, detail jsonb)
language sql stable security definer set search_path = '' as $$
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  with last_done as (
    select distinct on (a.sd_uuid) a.sd_uuid, a.post_state, a.transition_type
    from public.sd_transition_audit a
    where a.status = 'completed'
    order by a.sd_uuid, a.completed_at desc, a.created_at desc
  )
  select 'sd_matches_last_transition', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'transition_version', s.transition_version,
                            'audit_phase', l.post_state->>'sd_phase', 'audit_version', l.post_state->'transition_version')
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  where s.current_phase is distinct from l.post_state->>'sd_phase'
     or s.transition_version is distinct from (l.post_state->>'transition_version')::int

  union all
  -- 2. transition_version counts the completed transitions of the SD.
  select 'version_counts_transitions', s.id,
         jsonb_build_object('transition_version', s.transition_version, 'completed_audits', count(a.id))
  from public.strategic_directives_v2 s
  left join public.sd_transition_audit a on a.sd_uuid = s.uuid and a.status = 'completed'
  group by s.id, s.transition_version
  having s.transition_version <> count(a.id)

  union all
  -- 3. The PRD and stories are in the statuses the workflow says for the SD's phase: a status only
  --    a handoff can set is held exactly when the last transition set it.
  select 'prd_status_matches_phase', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'prd_status', p.status, 'expected', t.prd_status)
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  join public.handoff_types t on t.code = l.transition_type
  join public.product_requirements_v2 p on p.sd_id = s.id
  where t.prd_status is not null and p.status is distinct from t.prd_status

  union all
  select 'story_status_needs_handoff', u.sd_id || '/' || u.story_key,
         jsonb_build_object('status', u.status, 'sd_phase', s.current_phase)
  from public.user_stories u
  join public.strategic_directives_v2 s on s.id = u.sd_id
  where u.status in (select t.story_status from public.handoff_types t where t.story_status is not null)
    and not exists (
      select 1 from public.sd_transition_audit a join public.handoff_types t on t.code = a.transition_type
      where a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

  union all
  -- 4. The audit chain: each completed transition starts where the previous one ended, for the
  --    directive's phase, status and version (only handoffs change them; PRD and story statuses
  --    also change by everyday work between handoffs).
  select 'audit_chain', c.sd_id,
         jsonb_build_object('audit_id', c.id, 'pre_state', c.pre_state, 'previous_post_state', c.prev_post)
  from (
    select a.id, a.sd_id, a.pre_state,
           lag(a.post_state) over (partition by a.sd_uuid order by a.completed_at, a.created_at) as prev_post
    from public.sd_transition_audit a where a.status = 'completed'
  ) c
  where c.prev_post is not null
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned', 'expired') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse.
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select * from public.sd_phase_handoffs where status = 'accepted') r
  full join (select * from public.sd_transition_audit where status = 'completed') a on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  left join public.handoff_attempts h on h.id = r.attempt_id
  where h.id is null or h.sd_id <> r.sd_id
     or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code)
$$;
