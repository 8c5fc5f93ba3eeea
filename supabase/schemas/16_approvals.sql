-- Approval gates and overrides: people as well as validators in the same atomic, audited handoff.
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
create index approval_events_created_at_idx on public.approval_events (created_at);

alter table public.approval_decisions enable row level security;
alter table public.approval_events enable row level security;
revoke all on table public.approval_decisions, public.approval_events from public, anon, authenticated, service_role;
grant select on table public.approval_decisions, public.approval_events to authenticated, service_role;
create policy "members read their team's approval decisions" on public.approval_decisions
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));
create policy "members read their team's approval events" on public.approval_events
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));

-- ============================================================================================
-- The verdict rule's view of the approvals (fn_judge_attempt, 04_rules_and_scoring.sql, calls it)
-- ============================================================================================
-- Where an attempt's approval gates stand: per gate (not skipped by the plan) how many eligible
-- approvals it has and still needs, and the first rejection by an eligible member. Reads only.
create or replace function stagegate_private.fn_approval_state(p_attempt public.handoff_attempts) returns jsonb
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

-- ============================================================================================
-- Helpers of complete
-- ============================================================================================

-- SG040 while an attempt of the directive (other than p_except) waits for approvals.
create or replace function stagegate_private.fn_refuse_while_awaiting(p_sd_uuid uuid, p_sd_id text, p_except uuid) returns void
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
create or replace function stagegate_private.fn_announce(p_event text, p_attempt public.handoff_attempts, p_detail jsonb) returns void
language sql security definer set search_path = '' as $$
  insert into public.approval_events (event, attempt_id, sd_id, payload)
  values (p_event, p_attempt.id, p_attempt.sd_id,
          jsonb_build_object('event', p_event, 'attempt_id', p_attempt.id, 'sd_id', p_attempt.sd_id,
                             'sd_type', p_attempt.sd_type, 'handoff_type', p_attempt.handoff_type,
                             'requested_by', p_attempt.actor_id, 'at', clock_timestamp()) || p_detail)
$$;

-- The attempt's session gives its claim on the directive back (found through the SD's uuid).
create or replace function stagegate_private.fn_release_attempt_claim(p_attempt public.handoff_attempts) returns void
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
create or replace function stagegate_private.fn_await_approval(p_attempt public.handoff_attempts, p_judgement jsonb) returns jsonb
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

-- Why a user may not decide an attempt's approval, or null when they may: one rule for
-- fn_decide_approval (which raises it) and fn_directive_history (which shows it as can_decide and
-- cannot_decide, so the console offers approve / reject only to those who may). p_role is the
-- user's role in the attempt's team (null: not a member), p_actor_role the caller's database role.
-- Whether the attempt still waits, and a person's earlier decision, are checked by the callers.
create or replace function stagegate_private.fn_approval_refusal(
  p_attempt public.handoff_attempts, p_user_id uuid, p_role text, p_actor_role text
) returns jsonb
language sql stable set search_path = '' as $$
  select case
    when p_user_id is null then jsonb_build_object('code', 'NOT_AN_APPROVER', 'sqlstate', 'SG042', 'message',
      format('NOT_AN_APPROVER: an approval is a person''s decision; %s has no user (sign in as a member of the directive''s team)', p_actor_role))
    when p_role is null then jsonb_build_object('code', 'ATTEMPT_NOT_FOUND', 'sqlstate', 'SG009', 'message',
      format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt.id))
    when p_attempt.actor_id is not distinct from p_user_id then jsonb_build_object('code', 'SELF_APPROVAL', 'sqlstate', 'SG041', 'message',
      format('SELF_APPROVAL: user %s requested %s of strategic directive %L and may not decide its approval', p_user_id, p_attempt.handoff_type, p_attempt.sd_id))
    when not exists (select 1 from jsonb_array_elements(p_attempt.gates) g
                     where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
                       and p_role in (select jsonb_array_elements_text(g->'approver_roles'))) then
      jsonb_build_object('code', 'NOT_AN_APPROVER', 'sqlstate', 'SG042', 'message',
        format('NOT_AN_APPROVER: user %s is %s in the team of strategic directive %L; %s of attempt %s is approved by %s',
               p_user_id, p_role, p_attempt.sd_id, p_attempt.handoff_type, p_attempt.id,
               coalesce((select string_agg(distinct r, ' or ') from jsonb_array_elements(p_attempt.gates) g,
                                jsonb_array_elements_text(g->'approver_roles') r where g->>'kind' = 'approval'),
                        'nobody (its plan has no approval gate)')))
  end
$$;
comment on function stagegate_private.fn_approval_refusal(public.handoff_attempts, uuid, text, text) is
  'Why p_user_id (team role p_role) may not decide the approval of p_attempt: {code, sqlstate, message} (NOT_AN_APPROVER, ATTEMPT_NOT_FOUND, SELF_APPROVAL), or null when they may. Used by fn_decide_approval and fn_directive_history.';

-- ============================================================================================
-- fn_decide_approval: a person approves or rejects a waiting attempt
-- ============================================================================================
create or replace function public.fn_decide_approval(p_attempt_id uuid, p_decision text, p_comment text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_actor record;
  v_attempt public.handoff_attempts;
  v_role text;
  v_prior public.approval_decisions;
  v_decision public.approval_decisions;
  v_refusal jsonb;
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
  perform public.fn_check_text('p_comment', p_comment, true);  -- prose: tab and newlines allowed
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
  -- the rule the directive's history shows as can_decide (fn_approval_refusal)
  v_refusal := stagegate_private.fn_approval_refusal(v_attempt, v_actor.user_id, v_role, v_actor.role);
  if v_refusal is not null then
    raise exception using errcode = v_refusal->>'sqlstate', message = v_refusal->>'message';
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

create or replace function stagegate_private.fn_decision_answer(p_decision public.approval_decisions, p_recorded boolean) returns jsonb
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
create or replace function public.fn_sweep_expired_approvals() returns jsonb
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

create or replace function public.fn_sweep_approval_events(p_limit int default 1000) returns jsonb
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
revoke all on function stagegate_private.fn_approval_refusal(public.handoff_attempts, uuid, text, text) from public, anon;
grant execute on function stagegate_private.fn_approval_refusal(public.handoff_attempts, uuid, text, text) to authenticated, service_role;
revoke all on function public.fn_decide_approval(uuid, text, text) from public, anon;
grant execute on function public.fn_decide_approval(uuid, text, text) to authenticated, service_role;
revoke all on function public.fn_sweep_expired_approvals(), public.fn_sweep_approval_events(int) from public, anon, authenticated;
grant execute on function public.fn_sweep_expired_approvals(), public.fn_sweep_approval_events(int) to service_role;

-- ============================================================================================
-- Overrides
-- ============================================================================================
-- Overrides: a member whose team role holds the override permission accepts a rejected handoff
-- that failed its threshold or a non-required gate, with a mandatory reason.
--
-- fn_override_handoff(p_attempt_id, p_reason) on a rejected attempt:
--  * who: a signed-in member of the directive's team whose role is in override_permissions (as
--    data; default LEAD) -> else SG044 OVERRIDE_NOT_ALLOWED (a non-member: SG009, as everywhere);
--  * what: only a rejection by the threshold, or by failed gates the registry marks overridable
--    (a failed required gate is not, unless leo_sub_agents.overridable); a rejection by an
--    approver is a person's decision and stands; the directive must still be where the rejected
--    attempt found it -> else SG045 NOT_OVERRIDABLE;
--  * how: a new attempt (request id override:<rejected attempt id>, the same plan, context and
--    gate results, owned by the overrider) is completed through the same complete path; the
--    verdict rule (fn_judge_attempt) lets it through because its handoff_overrides row says who
--    overrode what and why. So the override has its own attempt, audit row (completed, by the
--    overrider) and handoff record, and the rejected attempt keeps its own. Approval gates of the
--    plan still apply: the override lifts the threshold, not the sign-off.
--  * the same override again (by anyone) answers with the first one (recorded=false).
-- Every override is an 'override' approval event (NOTIFY stagegate_approval, the history) and is
-- counted by stagegate_overrides_total{sd_type}.

create table public.override_permissions (
  role text primary key check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  created_at timestamptz not null default now()
);
comment on table public.override_permissions is
  'Team roles whose members may override a rejected handoff (fn_override_handoff). Default: LEAD.';
alter table public.override_permissions enable row level security;
revoke all on table public.override_permissions from public, anon, authenticated;
grant all on table public.override_permissions to service_role;
grant select on table public.override_permissions to authenticated;
create policy "signed-in users read override permissions" on public.override_permissions
  for select to authenticated using ((select auth.uid()) is not null);

create table public.handoff_overrides (
  id uuid primary key default gen_random_uuid(),
  attempt_id uuid not null unique references public.handoff_attempts (id) on delete cascade,
  overridden_attempt_id uuid not null unique references public.handoff_attempts (id) on delete cascade,
  sd_id text not null,
  sd_type text not null,
  handoff_type text not null,
  reason text not null check (length(btrim(reason)) between 1 and 2000),
  role text not null check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  score numeric,
  threshold numeric,
  failed_gate text,
  validation_mode text,
  audit_id uuid,
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  created_at timestamptz not null default clock_timestamp()
);
comment on table public.handoff_overrides is
  'One row per override: the rejected attempt, the attempt that applied the transition in its place, who (actor_id, role), why (reason), and the score, threshold and failed gate it overrode.';
create index handoff_overrides_sd_type_idx on public.handoff_overrides (sd_type);
-- #18: stagegate_overrides_total{sd_type} is a counter in metric_counters (kind 'overrides' of
-- metrics_delta_sql, 11_metrics.sql), kept by these triggers, so a scrape does not count the rows.
create trigger tg_metrics_ins after insert on public.handoff_overrides referencing new table as new_rows
  for each statement execute function public.tg_metrics('overrides');
create trigger tg_metrics_upd after update on public.handoff_overrides referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('overrides');
create trigger tg_metrics_del after delete on public.handoff_overrides referencing old table as old_rows
  for each statement execute function public.tg_metrics('overrides');
create trigger tg_metrics_trunc after truncate on public.handoff_overrides
  for each statement execute function public.tg_metrics__truncate('overrides');
create trigger _050_stamp_actor before insert on public.handoff_overrides
  for each row execute function stagegate_private.tg__stamp_actor();
alter table public.handoff_overrides enable row level security;
revoke all on table public.handoff_overrides from public, anon, authenticated, service_role;
grant select on table public.handoff_overrides to authenticated, service_role;
create policy "members read their team's overrides" on public.handoff_overrides
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));

-- ============================================================================================
-- The rule: what may be overridden
-- ============================================================================================
-- The required gates of a judgement's gate list that block it (no usable result, or failed) and
-- that the registry does not mark overridable.
create or replace function stagegate_private.fn_not_overridable(p_gates jsonb) returns text[]
language sql stable set search_path = '' as $$
  select coalesce(array_agg(g->>'code' order by t.ord), '{}')
  from jsonb_array_elements(coalesce(p_gates, '[]')) with ordinality as t(g, ord)
  where (g->>'required')::boolean
    and (
      -- no result (a gate the plan skipped has none and blocks nothing)
      (not (g->>'recorded')::boolean and not (g->>'skipped')::boolean)
      -- recorded as skipped, or failed
      or ((g->>'recorded')::boolean and ((g->>'skipped')::boolean or not coalesce((g->>'passed')::boolean, false))))
    and not exists (select 1 from public.leo_sub_agents s where s.code = g->>'code' and s.overridable)
$$;

-- The override of an attempt, for the verdict rule: null when there is none, or when its gates
-- hold a block nobody may override.
create or replace function stagegate_private.fn_override_for(p_attempt_id uuid, p_gates jsonb) returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object('override_id', o.id, 'overridden_attempt_id', o.overridden_attempt_id,
                            'actor_id', o.actor_id, 'role', o.role, 'reason', o.reason, 'score', o.score,
                            'threshold', o.threshold, 'failed_gate', o.failed_gate, 'at', o.created_at)
  from public.handoff_overrides o
  where o.attempt_id = p_attempt_id and cardinality(stagegate_private.fn_not_overridable(p_gates)) = 0
$$;

-- ============================================================================================
-- fn_override_handoff
-- ============================================================================================
create or replace function public.fn_override_handoff(p_attempt_id uuid, p_reason text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_actor record;
  v_rejected public.handoff_attempts;
  v_attempt public.handoff_attempts;
  v_sd public.strategic_directives_v2;
  v_role text;
  v_blocked text[];
  v_override public.handoff_overrides;
  v_result jsonb;
begin
  -- ---------------------------------------------------------------- validation
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  perform public.fn_check_text('p_reason', p_reason, true);
  if p_reason is null or length(btrim(p_reason)) not between 1 and 2000 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: an override needs a reason (1-2000 characters)';
  end if;

  -- ---------------------------------------------------------------- who
  select * into v_actor from stagegate_private.current_actor();
  select * into v_rejected from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG044',
      message = format('OVERRIDE_NOT_ALLOWED: an override is a person''s decision; %s has no user (sign in as a member of the directive''s team)', v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = v_rejected.team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not exists (select 1 from public.override_permissions p where p.role = v_role) then
    raise exception using errcode = 'SG044',
      message = format('OVERRIDE_NOT_ALLOWED: user %s is %s in the team of strategic directive %L; overrides are for %s',
                       v_actor.user_id, v_role, v_rejected.sd_id,
                       coalesce((select string_agg(p.role, ' or ' order by p.role) from public.override_permissions p), 'nobody'));
  end if;

  -- ---------------------------------------------------------------- once
  select * into v_override from public.handoff_overrides o where o.overridden_attempt_id = p_attempt_id;
  if found then
    return stagegate_private.fn_override_answer(v_override, false);
  end if;
  -- the directive's advisory lock first (complete's, so it is ours when complete asks), then the row
  perform pg_advisory_xact_lock(public.fn_sd_lock_key(v_rejected.sd_uuid));
  select * into v_rejected from public.handoff_attempts a where a.id = p_attempt_id for update;
  select * into v_override from public.handoff_overrides o where o.overridden_attempt_id = p_attempt_id;
  if found then
    return stagegate_private.fn_override_answer(v_override, false);
  end if;

  -- ---------------------------------------------------------------- what
  if v_rejected.status <> 'rejected' then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: attempt %s is %s; only a rejected handoff can be overridden', p_attempt_id, v_rejected.status);
  end if;
  if v_rejected.result->'approvals'->'rejected' is not null and v_rejected.result->'approvals'->'rejected' <> 'null'::jsonb then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: attempt %s was rejected by an approver (%s); request the handoff again', p_attempt_id,
                       v_rejected.result->'approvals'->'rejected'->>'comment');
  end if;
  v_blocked := stagegate_private.fn_not_overridable(v_rejected.result->'gates');
  if cardinality(v_blocked) > 0 then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: required gate %s of attempt %s failed and is not marked overridable in leo_sub_agents',
                       array_to_string(v_blocked, ', '), p_attempt_id);
  end if;
  select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_rejected.sd_uuid;
  if not found or v_sd.transition_version <> v_rejected.sd_version then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: strategic directive %L moved on since attempt %s was rejected; request the handoff again',
                       v_rejected.sd_id, p_attempt_id);
  end if;
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, null);

  -- ---------------------------------------------------------------- apply, through complete
  -- The requester's session gives its claim to the override (someone else's claim refuses it).
  perform stagegate_private.fn_release_attempt_claim(v_rejected);
  perform public.fn_claim_sd(v_sd.id, v_rejected.session_id);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates)
  values
    ('override:' || v_rejected.id, v_sd.id, v_sd.uuid, v_rejected.sd_type, v_rejected.handoff_type, v_rejected.session_id,
     v_rejected.from_phase, v_rejected.to_phase, v_rejected.sd_version, v_rejected.context, v_rejected.gates)
  returning * into v_attempt;
  insert into public.sub_agent_execution_results
    (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score, issues, warnings, fixes, skipped, skip_reason,
     error, attempts, duration_ms, metadata)
  select v_attempt.id, v_sd.id, r.sub_agent_code, r.verdict, r.passed, r.score, r.max_score, r.issues, r.warnings, r.fixes,
         r.skipped, r.skip_reason, r.error, r.attempts, r.duration_ms,
         r.metadata || jsonb_build_object('copied_from_attempt', v_rejected.id)
  from public.sub_agent_execution_results r where r.attempt_id = v_rejected.id;
  insert into public.handoff_overrides
    (attempt_id, overridden_attempt_id, sd_id, sd_type, handoff_type, reason, role, score, threshold, failed_gate, validation_mode)
  values
    (v_attempt.id, v_rejected.id, v_sd.id, v_rejected.sd_type, v_rejected.handoff_type, btrim(p_reason), v_role,
     (v_rejected.result->>'score')::numeric, (v_rejected.result->>'threshold')::numeric, v_rejected.result->>'failed_gate',
     v_rejected.result->>'validation_mode')
  returning * into v_override;

  v_result := stagegate_private.fn_complete_attempt(v_attempt.id, null);
  update public.handoff_overrides o set audit_id = (v_result->>'audit_id')::uuid where o.id = v_override.id
  returning * into v_override;
  if v_result->>'verdict' <> 'awaiting_approval' then
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
  end if;
  perform stagegate_private.fn_announce('override', v_attempt, jsonb_build_object(
    'overridden_attempt_id', v_rejected.id, 'override_id', v_override.id, 'reason', v_override.reason,
    'overridden_by', v_actor.user_id, 'role', v_role, 'score', v_override.score, 'threshold', v_override.threshold,
    'failed_gate', v_override.failed_gate, 'verdict', v_result->>'verdict', 'audit_id', v_result->'audit_id'));
  return stagegate_private.fn_override_answer(v_override, true);
end;
$$;
comment on function public.fn_override_handoff(uuid, text) is
  'Override a rejected handoff attempt, as the calling user (a member of the directive''s team whose role is in override_permissions, default LEAD), with a mandatory reason: a new attempt with the same plan and gate results (request id override:<attempt id>) is completed through the complete path and accepted (approval gates still apply). Only a rejection by the threshold or by gates marked overridable can be overridden. Raises SG044 OVERRIDE_NOT_ALLOWED, SG045 NOT_OVERRIDABLE, SG009 ATTEMPT_NOT_FOUND (also to non-members), SG001 without a reason. A second override of the same attempt returns the first (recorded=false). Returns {override: {id, attempt_id, overridden_attempt_id, actor_id, role, reason, score, threshold, failed_gate, validation_mode, audit_id, created_at}, recorded, status, verdict, result}.';

create or replace function stagegate_private.fn_override_answer(p_override public.handoff_overrides, p_recorded boolean) returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object(
    'override', jsonb_build_object('id', p_override.id, 'attempt_id', p_override.attempt_id,
                                   'overridden_attempt_id', p_override.overridden_attempt_id, 'actor_id', p_override.actor_id,
                                   'role', p_override.role, 'reason', p_override.reason, 'score', p_override.score,
                                   'threshold', p_override.threshold, 'failed_gate', p_override.failed_gate,
                                   'validation_mode', p_override.validation_mode, 'audit_id', p_override.audit_id,
                                   'created_at', p_override.created_at),
    'recorded', p_recorded, 'status', a.status, 'verdict', a.result->>'verdict', 'result', a.result)
  from public.handoff_attempts a where a.id = p_override.attempt_id
$$;

revoke all on function
  stagegate_private.fn_not_overridable(jsonb),
  stagegate_private.fn_override_for(uuid, jsonb),
  stagegate_private.fn_override_answer(public.handoff_overrides, boolean)
from public, anon, authenticated, service_role;
revoke all on function public.fn_override_handoff(uuid, text) from public, anon;
grant execute on function public.fn_override_handoff(uuid, text) to authenticated, service_role;


-- ============================================================================================
-- Webhook deliveries of approval events (Standard Webhooks, signed and sent by a relay outside
-- the database: stack/approval-webhook.ts locally). One row per event once the relay has seen
-- it: pending -> delivered, or after p_max_attempts failures dead (the dead-letter record, with
-- the last status and error). Retries back off exponentially (2^attempts seconds, at most 10 min).
-- ============================================================================================
create table public.approval_webhook_deliveries (
  event_id bigint primary key references public.approval_events (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts int not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default clock_timestamp(),
  last_status int,
  last_error text check (length(last_error) <= 2000),
  delivered_at timestamptz,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp()
);
comment on table public.approval_webhook_deliveries is
  'Delivery of each approval event to the configured webhook: pending (with next_attempt_at), delivered, or dead after the last retry (the dead-letter record: attempts, last_status, last_error).';
create index approval_webhook_deliveries_due_idx on public.approval_webhook_deliveries (next_attempt_at) where status = 'pending';
alter table public.approval_webhook_deliveries enable row level security;
revoke all on table public.approval_webhook_deliveries from public, anon, authenticated;
grant select on table public.approval_webhook_deliveries to service_role;

-- Up to p_limit events due for delivery: events the relay has not seen yet get a row, then the
-- due pending rows are leased for p_lease_seconds (a relay that dies mid-send leaves them to the
-- next). Returns [{event_id, attempt (1-based), payload}].
create or replace function public.fn_claim_approval_webhooks(p_limit int default 50, p_lease_seconds int default 30) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_claimed jsonb;
begin
  if p_limit is null or p_limit not between 1 and 1000 or p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_limit must be 1-1000 and p_lease_seconds 1-3600 (got %s, %s)', p_limit, p_lease_seconds);
  end if;
  -- only events of the last day: switched on (or back on) after a while, the relay does not ask
  -- people about handoffs settled long ago, and the scan stays on the created_at index
  insert into public.approval_webhook_deliveries (event_id)
  select e.id from public.approval_events e
  where e.created_at > clock_timestamp() - interval '1 day'
    and not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)
  order by e.id
  on conflict (event_id) do nothing;
  with due as (
    select d.event_id from public.approval_webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= clock_timestamp()
    order by d.event_id limit p_limit
    for update skip locked
  ), leased as (
    update public.approval_webhook_deliveries d
       set next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
      from due where d.event_id = due.event_id
    returning d.event_id, d.attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('event_id', l.event_id, 'attempt', l.attempts + 1,
                                               'payload', e.payload || jsonb_build_object('event_id', e.id)) order by l.event_id), '[]')
  into v_claimed
  from leased l join public.approval_events e on e.id = l.event_id;
  return v_claimed;
end;
$$;
comment on function public.fn_claim_approval_webhooks(int, int) is
  'For the approval webhook relay: registers approval events of the last day not seen yet for delivery (older ones are not sent: switched on after a while, the relay does not announce long-settled handoffs) and leases up to p_limit due ones for p_lease_seconds. Returns [{event_id, attempt, payload}].';

-- The outcome of one delivery attempt: delivered, or a retry after 2^attempts seconds (at most
-- 10 minutes), or dead once p_max_attempts attempts failed.
create or replace function public.fn_record_approval_webhook(
  p_event_id bigint, p_ok boolean, p_status int default null, p_error text default null, p_max_attempts int default 8
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.approval_webhook_deliveries;
begin
  if p_event_id is null or p_ok is null or p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_event_id and p_ok are required, p_max_attempts 1-100';
  end if;
  update public.approval_webhook_deliveries d
     set attempts = d.attempts + 1,
         status = case when p_ok then 'delivered' when d.attempts + 1 >= p_max_attempts then 'dead' else 'pending' end,
         delivered_at = case when p_ok then clock_timestamp() end,
         next_attempt_at = clock_timestamp() + make_interval(secs => least(power(2, d.attempts + 1), 600)),
         last_status = p_status, last_error = left(p_error, 2000), updated_at = clock_timestamp()
   where d.event_id = p_event_id and d.status = 'pending'
  returning * into v_row;
  if not found then
    select * into v_row from public.approval_webhook_deliveries d where d.event_id = p_event_id;
  end if;
  return to_jsonb(v_row);
end;
$$;
comment on function public.fn_record_approval_webhook(bigint, boolean, int, text, int) is
  'For the approval webhook relay: record one delivery attempt of an event. Returns the delivery row (status pending|delivered|dead, attempts, next_attempt_at, last_status, last_error).';

revoke all on function public.fn_claim_approval_webhooks(int, int), public.fn_record_approval_webhook(bigint, boolean, int, text, int)
from public, anon, authenticated;
grant execute on function public.fn_claim_approval_webhooks(int, int), public.fn_record_approval_webhook(bigint, boolean, int, text, int)
to service_role;

-- Hosted: kick the approval-webhooks edge function with pg_net while deliveries are due (the
-- function runs one pass; a pass leases what it sends, so a kick while one runs sends nothing
-- twice). Off until handoff_request_dispatch.approval_webhooks is set (the function also needs
-- its secrets STAGEGATE_APPROVAL_WEBHOOK_URL and _SECRET); locally the stack's relay runs the
-- pass itself and this returns {pg_net: false}. Dynamic SQL: parses without the net and vault schemas.
create or replace function public.fn_sweep_approval_webhooks() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_cfg public.handoff_request_dispatch;
  v_key text;
  v_net_id bigint;
begin
  if to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    return jsonb_build_object('pg_net', false);
  end if;
  select * into v_cfg from public.handoff_request_dispatch where enabled and approval_webhooks;
  if not found then
    return jsonb_build_object('pg_net', true, 'enabled', false, 'posted', false);
  end if;
  if not exists (select 1 from public.approval_webhook_deliveries d where d.status = 'pending' and d.next_attempt_at <= clock_timestamp())
     and not exists (select 1 from public.approval_events e
                     where e.created_at > clock_timestamp() - interval '1 day'
                       and not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)) then
    return jsonb_build_object('pg_net', true, 'enabled', true, 'posted', false);
  end if;
  v_key := stagegate_private.fn_dispatch_service_key(v_cfg);
  execute 'select net.http_post(url := $1, body := $2, params := ''{}''::jsonb, headers := $3, timeout_milliseconds := $4)'
    into v_net_id
    using v_cfg.functions_url || '/approval-webhooks', '{}'::jsonb,
          jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key),
          -- a pass sends at most 50 events in parallel, each within 10 s
          30000;
  return jsonb_build_object('pg_net', true, 'enabled', true, 'posted', true, 'net_request_id', v_net_id);
end;
$$;
comment on function public.fn_sweep_approval_webhooks() is
  'Hosted (pg_net): while approval webhook deliveries are due, POST <functions_url>/approval-webhooks with the service-role key from Vault (one delivery pass). Only with handoff_request_dispatch.approval_webhooks = true. Returns {pg_net: false} where pg_net is absent, else {pg_net, enabled, posted, net_request_id}. Raises SG016 DISPATCH_NOT_CONFIGURED when the Vault secret is missing. Scheduled by sweep_schedule ''approval_webhooks''.';
revoke all on function public.fn_sweep_approval_webhooks() from public, anon, authenticated;
grant execute on function public.fn_sweep_approval_webhooks() to service_role;
