-- Begin a handoff: answers that follow the data, dry runs that leave nothing, refusals that do not
-- wait (issue #12: "A fixed directive still gets its old rejection", "Dry runs leave debris",
-- "Refusals that wait", and the request-level replays of "Smaller gaps").
--
-- 1. Inputs fingerprint. A request id (the Idempotency-Key's, or the one the handoff function
--    derives from SD, type, session and hour) used to replay its first answer for as long as the
--    attempt existed, so a directive fixed after a rejection kept getting the old rejection. Now
--    every attempt stores handoff_attempts.inputs_hash: a sha256 over everything the verdict
--    depended on (the context snapshot the gates see — SD, PRD, stories —, the gate plan from the
--    registry and the skip rules, the SD type's threshold and validation mode). A retry of a
--    finished request id replays only while that still holds:
--      accepted            -> always replays (the transition happened; replay_reason 'accepted')
--      rejected, failed    -> replays while the inputs hash is unchanged ('unchanged_inputs');
--                             otherwise the old attempt is superseded and the handoff runs anew
--      abandoned           -> never answered (the stuck-attempt sweep closed it): runs anew
--      in progress         -> the same attempt, resumed ('in_progress')
--    A superseded attempt keeps its rows and audit; handoff_attempts.superseded_at says when, and
--    the request id stays unique among the attempts that are not superseded.
-- 2. Request-level replays are counted: every replay of a finished attempt (HTTP or SQL) inserts a
--    row into handoff_request_events (kind 'replay'), read by fn_metrics_snapshot as
--    stagegate_idempotent_hits_total{source="handoff_request"}.
-- 3. Dry runs (p_dry_run): no claim is taken (another session's live claim still refuses, as the
--    real run would be), the attempt is marked dry_run, and fn_finish_dry_run judges it with the
--    same SQL as fn_complete_handoff inside a subtransaction it rolls back, then deletes the
--    attempt and its results: no claim, no open attempt, no audit row — one 'dry_run' event row
--    (the metric). A dry attempt cannot be completed for real (trigger _100_dry_run_guard); one
--    left behind by a crash is deleted by the stuck-attempt sweep, never turned into an audit row.
-- 4. Fail fast: a second attempt of an SD while one is live is refused at begin with SG006
--    SD_BUSY (it could only run its gates to lose at complete). Concurrent begins of one SD used to queue on the sd_claims row lock (64 at once:
--    the last waited ~0.4 s just to be refused). Begin now takes a transaction-scoped try-lock
--    of its own (two-key advisory lock space, so it never collides with fn_complete_handoff's
--    pg_try_advisory_xact_lock on the SD) and answers SG006 SD_BUSY at once when another begin
--    of the same SD holds it.

-- ------------------------------------------------------------------ columns and tables
alter table public.handoff_attempts
  add column inputs_hash text check (inputs_hash ~ '^[0-9a-f]{64}$'),
  add column dry_run boolean not null default false,
  add column superseded_at timestamptz,
  add constraint handoff_attempts_superseded_finished check (superseded_at is null or status <> 'in_progress');
comment on column public.handoff_attempts.inputs_hash is
  'sha256 (hex) of what the verdict depends on, taken at begin: fn_handoff_inputs_hash. A retry of a rejected request id replays only while it is unchanged.';
comment on column public.handoff_attempts.dry_run is
  'A dry run: no claim, deleted by fn_finish_dry_run (or the stuck-attempt sweep); never completed for real.';
comment on column public.handoff_attempts.superseded_at is
  'Set when a retry of this request id ran anew because the inputs changed (or the attempt ended without a verdict); the request id then belongs to the newer attempt.';

alter table public.handoff_attempts drop constraint handoff_attempts_request_id_key;
create unique index handoff_attempts_request_id_key on public.handoff_attempts (request_id) where superseded_at is null;

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

-- ------------------------------------------------------------------ fn_handoff_inputs_hash
create function public.fn_handoff_inputs_hash(p_sd public.strategic_directives_v2, p_handoff_type text) returns text
language sql stable set search_path = '' as $$
  select encode(sha256(convert_to(jsonb_build_array(
    public.fn_sd_context(p_sd),
    public.fn_handoff_gates(p_handoff_type, p_sd.sd_type),
    public.fn_sd_threshold(p_sd.sd_type),
    public.fn_get_validation_mode(p_sd.sd_type))::text, 'UTF8')), 'hex')
$$;
comment on function public.fn_handoff_inputs_hash(public.strategic_directives_v2, text) is
  'sha256 (hex) of the inputs a verdict depends on: the context snapshot (SD, PRD, stories), the gate plan (registry and skip rules), the threshold and the validation mode of the SD type. jsonb prints keys in a fixed order, so equal inputs give equal hashes.';
revoke all on function public.fn_handoff_inputs_hash(public.strategic_directives_v2, text) from public, anon, authenticated, service_role;

-- ------------------------------------------------------------------ fn_attempt_live_for
create function public.fn_attempt_live_for(p_gates jsonb) returns interval
language sql immutable set search_path = '' as $$
  select make_interval(secs => 10 + coalesce(sum(
           coalesce((g->>'timeout_ms')::numeric, 60000) * (1 + greatest(coalesce((g->>'max_retries')::numeric, 0), 0))), 0) / 1000.0)
  from jsonb_array_elements(case when jsonb_typeof(p_gates) = 'array' then p_gates else '[]'::jsonb end) g
  where not coalesce((g->>'skip')::boolean, false)
$$;
comment on function public.fn_attempt_live_for(jsonb) is
  'How long an attempt with this gate plan may still be running its gates: every gate''s timeout times its tries, one after another, plus 10 s. fn_begin_handoff refuses a second attempt of the SD (SD_BUSY) while one is this young.';
revoke all on function public.fn_attempt_live_for(jsonb) from public, anon, authenticated, service_role;

-- ------------------------------------------------------------------ fn_begin_handoff
drop function public.fn_begin_handoff(text, text, text, text, int);

create function public.fn_begin_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text,
  p_expected_version int default null, p_dry_run boolean default false) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_type_code text := public.fn_normalise_handoff_type(p_handoff_type);
  v_type public.handoff_types;
  v_sd public.strategic_directives_v2;
  v_attempt public.handoff_attempts;
  v_holder public.sd_claims;
  v_open public.handoff_attempts;
  v_hash text;
  v_reason text;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_handoff_type', p_handoff_type),
          public.fn_check_text('p_request_id', p_request_id), public.fn_check_text('p_session_id', p_session_id);
  if p_expected_version is not null and p_expected_version < 0 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_expected_version must be a transition_version (0 or more), got %s', p_expected_version);
  end if;
  if p_dry_run is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_dry_run must be true or false';
  end if;

  -- ---------------------------------------------------------------- replay (sqlfix: by inputs)
  select * into v_attempt from public.handoff_attempts a
  where a.request_id = p_request_id and a.superseded_at is null;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    if v_attempt.status = 'in_progress' then
      return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
    end if;
    v_reason := case v_attempt.status when 'completed' then 'accepted' end;
    if v_attempt.status in ('rejected', 'failed') then
      select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
      if not found or public.fn_handoff_inputs_hash(v_sd, v_attempt.handoff_type) = v_attempt.inputs_hash then
        v_reason := 'unchanged_inputs';
      end if;
    end if;
    if v_reason is not null then
      insert into public.handoff_request_events (kind, reason, handoff_type) values ('replay', v_reason, v_attempt.handoff_type);
      return public.fn_attempt_answer(v_attempt, true) || jsonb_build_object('replay_reason', v_reason);
    end if;
    -- The answer no longer holds for these inputs: the request id passes to a new attempt.
    update public.handoff_attempts a set superseded_at = clock_timestamp()
    where a.id = v_attempt.id and a.superseded_at is null;
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  -- sqlfix: fail fast. Another begin of this SD holds it for a few ms; refusing at once instead of
  -- queueing on the claim row keeps a burst's refusals as fast as one handoff. The two-key lock
  -- space cannot collide with fn_complete_handoff's one-key lock on the SD.
  if not p_dry_run and not pg_try_advisory_xact_lock(1397178949, hashtext(v_sd.uuid::text)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another request is beginning a handoff of strategic directive %L; retry shortly', v_sd.id);
  end if;
  -- sqlfix: one live attempt per SD. A second one could only run its gates to lose at complete
  -- (SD_BUSY or ALREADY_TRANSITIONED); refusing it here answers in milliseconds. An attempt
  -- counts as live for as long as its gates could still be running (fn_attempt_live_for); after
  -- that a crashed one no longer blocks (the same request id resumes it at any time).
  if not p_dry_run then
    select * into v_open from public.handoff_attempts a
    where a.sd_uuid = v_sd.uuid and a.status = 'in_progress' and not a.dry_run
      and a.started_at > now() - public.fn_attempt_live_for(a.gates)
    order by a.started_at limit 1;
    if found then
      raise exception using errcode = 'SG006',
        message = format('SD_BUSY: strategic directive %L has a handoff in progress (attempt %s, %s, request id %L, session %L, since %s); retry when it has finished, or retry that request id to resume it',
                         v_sd.id, v_open.id, v_open.handoff_type, v_open.request_id, v_open.session_id, v_open.started_at);
    end if;
  end if;
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
  if p_dry_run then
    -- sqlfix: a dry run takes no claim, but is refused where the real run would be.
    select * into v_holder from public.sd_claims c
    where c.sd_id = v_sd.id and c.expires_at > now() and c.session_id <> p_session_id;
    if found then
      raise exception using errcode = 'SG005',
        message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by session %L until %s',
                         v_sd.id, v_holder.session_id, v_holder.expires_at);
    end if;
  else
    perform public.fn_claim_sd(v_sd.id, p_session_id);
  end if;

  -- ---------------------------------------------------------------- open the attempt
  v_hash := public.fn_handoff_inputs_hash(v_sd, v_type.code);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates,
     inputs_hash, dry_run)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type),
     v_hash, p_dry_run)
  on conflict (request_id) where superseded_at is null do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
    return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
  end if;
  return public.fn_attempt_answer(v_attempt, false) || jsonb_build_object('replay_reason', null, 'dry_run', p_dry_run);
end;
$$;
comment on function public.fn_begin_handoff(text, text, text, text, int, boolean) is
  'Begin a handoff: resolve the SD (key or uuid), refuse at once while another begin of the SD runs or another attempt of it is live (SG006 SD_BUSY; live = younger than fn_attempt_live_for of its plan), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free; a dry run only checks it), freeze the gate plan (after skip rules), a context snapshot and the inputs hash. Same p_request_id: the same attempt while it runs (replay_reason in_progress), its answer when it was accepted (accepted) or rejected or failed on the same inputs (unchanged_inputs); otherwise (inputs changed, or abandoned) the old attempt is superseded and a new one begins. p_dry_run: no claim; finish it with fn_finish_dry_run. Returns {attempt_id, request_id, status, replay, replay_reason, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';
revoke all on function public.fn_begin_handoff(text, text, text, text, int, boolean) from public, anon, authenticated;
grant execute on function public.fn_begin_handoff(text, text, text, text, int, boolean) to service_role;

-- ------------------------------------------------------------------ fn_execute_handoff
create or replace function public.fn_execute_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_gate_results jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_begin jsonb;
  v_attempt_id uuid;
  v_item jsonb;
  v_code text;
  v_gate jsonb;
begin
  if p_gate_results is not null and jsonb_typeof(p_gate_results) <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_gate_results must be a JSON array of gate results';
  end if;
  v_begin := public.fn_begin_handoff(p_sd_id, p_handoff_type, p_session_id, p_request_id);
  if v_begin->>'status' <> 'in_progress' then
    -- sqlfix: says why it replayed (accepted | unchanged_inputs)
    return (v_begin->'result') || jsonb_build_object('replay', true, 'replay_reason', v_begin->'replay_reason');
  end if;
  v_attempt_id := (v_begin->>'attempt_id')::uuid;

  for v_item in select * from jsonb_array_elements(coalesce(p_gate_results, '[]')) loop
    v_code := upper(v_item->>'code');
    if v_code is null then
      raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate result without a code: %s', v_item);
    end if;
    perform public.fn_check_text('p_gate_results[].code', v_code);
    perform public.fn_store_gate_result(v_attempt_id, v_code, public.fn_normalise_gate_result(v_item), null, null, 1, false);
  end loop;

  for v_gate in
    select g from jsonb_array_elements(v_begin->'gates') g
    where g->>'kind' = 'sql' and not (g->>'skip')::boolean
      and not exists (select 1 from public.sub_agent_execution_results r
                      where r.attempt_id = v_attempt_id and r.sub_agent_code = g->>'code')
  loop
    perform public.fn_store_gate_result(v_attempt_id, v_gate->>'code',
      public.fn_normalise_gate_result(public.fn_evaluate_sql_gate(v_attempt_id, v_gate->>'code')), null, null, 1, false);
  end loop;

  return public.fn_complete_handoff(v_attempt_id);
end;
$$;
comment on function public.fn_execute_handoff(text, text, text, text, jsonb) is
  'Run a whole handoff in one call: begin, record p_gate_results (JSON array of {code, passed, score, maxScore, issues, warnings}, normalised as seed pattern 7: pass/max_score aliases, coerced passed, defaults; a result for a gate outside the plan is stored as skipped and ignored), evaluate the plan''s sql gates not supplied, complete. Same p_request_id returns the first result (replay=true, replay_reason accepted|unchanged_inputs) while it still holds: a rejection is judged again once the SD, its PRD or stories, the gate plan, threshold or mode changed. Returns the fn_complete_handoff answer.';

-- ------------------------------------------------------------------ fn_complete_by_request
-- Only change: the attempt of a request id is the one not superseded.
create or replace function public.fn_complete_by_request(
  p_handoff_type text, p_sd_id text, p_prd_id text, p_session_id text, p_request_id text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_prd_id text;
begin
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
  if not found then
    raise exception using errcode = 'SG009',
      message = format('ATTEMPT_NOT_FOUND: no handoff attempt with request id %L; begin one with fn_begin_handoff or use fn_execute_handoff', p_request_id);
  end if;
  if v_attempt.handoff_type <> p_handoff_type then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L is a %s attempt, not %s', p_request_id, v_attempt.handoff_type, p_handoff_type);
  end if;
  if p_sd_id is distinct from v_attempt.sd_id and p_sd_id is distinct from v_attempt.sd_uuid::text then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L belongs to strategic directive %L, not %L', p_request_id, v_attempt.sd_id, p_sd_id);
  end if;
  if p_session_id is distinct from v_attempt.session_id then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L was begun by session %L, not %L', p_request_id, v_attempt.session_id, p_session_id);
  end if;
  if p_prd_id is not null then
    select p.id into v_prd_id from public.product_requirements_v2 p where p.sd_id = v_attempt.sd_id;
    if v_prd_id is distinct from p_prd_id then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: PRD %L is not the PRD of strategic directive %L (%s)', p_prd_id, v_attempt.sd_id, coalesce(v_prd_id, 'none'));
    end if;
  end if;
  return public.fn_complete_handoff(v_attempt.id);
end;
$$;

-- ------------------------------------------------------------------ dry runs
create function public.tg_handoff_attempts__dry_run_guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'SG001',
    message = format('INVALID_INPUT: attempt %s is a dry run; it cannot be completed, only judged by fn_finish_dry_run', old.id);
end;
$$;
create trigger _100_dry_run_guard before update on public.handoff_attempts
  for each row when (old.dry_run and new.dry_run and new.status <> 'in_progress')
  execute function public.tg_handoff_attempts__dry_run_guard();
revoke all on function public.tg_handoff_attempts__dry_run_guard() from public, anon, authenticated, service_role;

create function public.fn_finish_dry_run(p_attempt_id uuid, p_expected_version int default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_answer jsonb;
  v_state text;
  v_message text;
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not v_attempt.dry_run then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: attempt %s is not a dry run; complete it with fn_complete_handoff', p_attempt_id);
  end if;
  -- The verdict of the very SQL a real completion runs, in a subtransaction rolled back by the
  -- raise: no transition, no audit row, no handoff record survive it.
  begin
    update public.handoff_attempts a set dry_run = false where a.id = p_attempt_id;
    v_answer := public.fn_complete_handoff(p_attempt_id, p_expected_version);
    raise exception using errcode = 'SGDRY', message = 'dry run: roll back';
  exception
    when sqlstate 'SGDRY' then
      null;
    when others then
      -- a refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …): answered, not raised, so the
      -- attempt is still deleted below (a raise would roll the delete back too)
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
  end;
  delete from public.handoff_attempts a where a.id = p_attempt_id;  -- its results go with it (cascade)
  insert into public.handoff_request_events (kind, reason, handoff_type)
  values ('dry_run', coalesce(v_answer->>'verdict', 'refused'), v_attempt.handoff_type);
  if v_state is not null then
    return jsonb_build_object('dry_run', true, 'error', jsonb_build_object('sqlstate', v_state, 'message', v_message));
  end if;
  return v_answer || jsonb_build_object('dry_run', true, 'audit_id', null);
end;
$$;
comment on function public.fn_finish_dry_run(uuid, int) is
  'Judge a dry-run attempt (fn_begin_handoff with p_dry_run) with fn_complete_handoff''s own SQL inside a subtransaction that is rolled back, then delete the attempt and its gate results and count it (handoff_request_events kind dry_run). A refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …) is answered as {dry_run: true, error: {sqlstate, message}} (the attempt is deleted all the same). Returns the verdict with dry_run=true and audit_id null.';
revoke all on function public.fn_finish_dry_run(uuid, int) from public, anon, authenticated;
grant execute on function public.fn_finish_dry_run(uuid, int) to service_role;
