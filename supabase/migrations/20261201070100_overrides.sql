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

alter table public.leo_sub_agents add column overridable boolean not null default false;
comment on column public.leo_sub_agents.overridable is
  'A failed (or missing) result of this required gate may be overridden by a member with the override permission (default false: a failed required gate blocks).';

create table public.override_permissions (
  role text primary key check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  created_at timestamptz not null default now()
);
comment on table public.override_permissions is
  'Team roles whose members may override a rejected handoff (fn_override_handoff). Default: LEAD.';
insert into public.override_permissions (role) values ('LEAD');
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
create function stagegate_private.fn_not_overridable(p_gates jsonb) returns text[]
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
create function stagegate_private.fn_override_for(p_attempt_id uuid, p_gates jsonb) returns jsonb
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
create function public.fn_override_handoff(p_attempt_id uuid, p_reason text) returns jsonb
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

create function stagegate_private.fn_override_answer(p_override public.handoff_overrides, p_recorded boolean) returns jsonb
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
-- fn_metrics_snapshot: attempts awaiting approval and overrides by SD type (the rest is the body
-- of 20261125090100)
-- ============================================================================================
create or replace function public.fn_metrics_snapshot() returns jsonb
language plpgsql stable security definer set search_path = '' set lock_timeout = '2s' as $$
declare
  c_handoff_bounds constant int[] := array[100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000];
  c_gate_bounds constant int[] := array[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
  c_window constant interval := interval '1 hour';
  v_mode_store jsonb;
  v_result jsonb;
begin
  -- The mode store is read on its own, so a failure there is reported (mode_store.ok = false,
  -- the ModeStoreFetchFailing alert) instead of costing every other metric.
  begin
    v_mode_store := jsonb_build_object('ok', true, 'error', null, 'modes',
      coalesce((select jsonb_agg(jsonb_build_object('scope', m.scope, 'mode', m.mode) order by m.scope)
                from public.validation_modes m), '[]'::jsonb),
      'global', public.fn_get_validation_mode(null));
  exception when others then
    v_mode_store := jsonb_build_object('ok', false, 'error', sqlerrm, 'modes', '[]'::jsonb, 'global', null);
  end;

  -- The big tables are read once each, into narrow row sets the parts below share, so the
  -- cost grows with one pass over them, not one per metric. Measured: ~0.2-0.35 s for 20 000
  -- handoffs and 100 000 gate results on a busy 2-core machine; scrape every 30 s or slower.
  with results as materialized (
    select r.sub_agent_code, r.verdict, r.skipped, r.duration_ms, r.hit_count,
           coalesce(r.error like 'invalid_result:%', false) as invalid,
           jsonb_array_length(r.fixes) > 0 as normalized,
           r.metadata ->> 'idempotent_hit' = 'true' as hit,
           r.created_at > now() - c_window as recent
    from public.sub_agent_execution_results r
  ), handoffs as materialized (
    select h.handoff_type, h.status, h.execution_time_ms, h.created_at > now() - c_window as recent
    from public.sd_phase_handoffs h
  ), attempts as (
    select count(*) as n, count(*) filter (where a.status = 'in_progress') as in_progress,
           min(a.started_at) filter (where a.status = 'in_progress') as oldest_in_progress
    from public.handoff_attempts a
  ), outbox as (
    select count(*) as pending, min(n.created_at) as oldest from public.transition_notifications n
  ), audits as materialized (
    select a.status,
           -- fn_promotion_gate's definition: ENFORCE would refuse it on the threshold.
           coalesce(a.would_reject or a.score < a.threshold, false) as would_reject,
           a.created_at > now() - c_window as recent
    from public.sd_transition_audit a
  )
  select jsonb_build_object(
    'generated_at', clock_timestamp(),
    'window_s', extract(epoch from c_window)::int,
    'handoff_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_handoff_bounds) b),
    'gate_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_gate_bounds) b),

    -- -------------------------------------------------------------- handoffs and transitions
    'handoffs', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type, 'verdict', x.status, 'count', x.n)
                       order by x.handoff_type, x.status)
      from (select h.handoff_type, h.status, count(*) as n from handoffs h group by 1, 2) x), '[]'::jsonb),
    'handoff_durations', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type) || x.histogram order by x.handoff_type)
      from (select h.handoff_type, public.metrics_histogram(array_agg(h.execution_time_ms), c_handoff_bounds) as histogram
            from handoffs h where h.execution_time_ms is not null group by 1) x), '[]'::jsonb),
    'transitions', coalesce((
      select jsonb_object_agg(x.status, x.n) from (select a.status, count(*) as n from audits a group by 1) x), '{}'::jsonb),
    'would_reject', (select count(*) from audits a where a.would_reject),
    'attempts', (select a.n from attempts a),
    'attempts_in_progress', (select a.in_progress from attempts a),
    'oldest_in_progress_s', (select extract(epoch from clock_timestamp() - a.oldest_in_progress) from attempts a),
    -- the NOTIFY outbox: rows wait here until the transition_notifications sweep relays them
    -- (every second); a growing backlog or an old row means the relay has stopped
    -- approvals: attempts waiting for people, and overrides by SD type (every SD type with a
    -- threshold profile, zero-filled, so rate() sees the first one)
    'attempts_awaiting_approval', (select count(*) from public.handoff_attempts a where a.status = 'awaiting_approval'),
    'overrides', (
      select coalesce(jsonb_object_agg(x.sd_type, x.n), '{}'::jsonb)
      from (select coalesce(t.sd_type, o.sd_type) as sd_type, coalesce(o.n, 0) as n
            from (select p.sd_type from public.threshold_profiles p where p.sd_type <> 'default') t
            full join (select h.sd_type, count(*) as n from public.handoff_overrides h group by 1) o on o.sd_type = t.sd_type) x),
    'notifications_pending', (select o.pending from outbox o),
    'oldest_notification_pending_s', (select extract(epoch from clock_timestamp() - o.oldest) from outbox o),

    -- -------------------------------------------------------------- gates
    'gate_results', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code, 'verdict', x.verdict, 'count', x.n,
                                          'invalid', x.invalid, 'normalized', x.normalized, 'hits', x.hits)
                       order by x.sub_agent_code, x.verdict)
      from (select r.sub_agent_code, r.verdict, count(*) as n, count(*) filter (where r.invalid) as invalid,
                   count(*) filter (where r.normalized) as normalized, coalesce(sum(r.hit_count), 0) as hits
            from results r group by 1, 2) x), '[]'::jsonb),
    'gate_durations', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code) || x.histogram order by x.sub_agent_code)
      from (select r.sub_agent_code, public.metrics_histogram(array_agg(r.duration_ms), c_gate_bounds) as histogram
            from results r where not r.skipped and r.duration_ms is not null group by 1) x), '[]'::jsonb),
    'http_idempotent_hits', (select coalesce(sum(k.hits), 0) from public.http_idempotency_keys k),
    'breakers', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', b.sub_agent_code, 'state', b.state) order by b.sub_agent_code)
      from public.sub_agent_breaker_status b where b.active), '[]'::jsonb),

    -- -------------------------------------------------------------- validation mode, unknown inputs
    'mode_store', v_mode_store,
    'unknown_inputs', coalesce((
      select jsonb_object_agg(x.kind, x.n)
      from (select u.kind, count(*) as n from public.unknown_inputs u group by 1) x), '{}'::jsonb),

    -- -------------------------------------------------------------- the runbook's rates, last hour
    -- null when nothing happened in the window (a rate of nothing is not zero).
    'ratios', (
      select jsonb_build_object(
        'transition_failure', (select count(*) filter (where a.status = 'failed')::numeric
                                      / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0)
                               from audits a where a.recent),
        'would_reject', (select count(*) filter (where a.would_reject)::numeric
                                / nullif(count(*) filter (where a.status in ('completed', 'rejected', 'failed')), 0)
                         from audits a where a.recent),
        'idempotent_hit', (select count(*) filter (where r.hit)::numeric / nullif(count(*), 0) from results r where r.recent),
        'gate_validation_failure', (select count(*) filter (where r.invalid)::numeric / nullif(count(*), 0)
                                    from results r where r.recent and not r.skipped),
        -- unknown inputs / requests, requests = judged handoffs + unknown inputs (fn_promotion_gate's
        -- definition): a request either reached a verdict or was refused as not normalisable.
        'unknown_input', (select u.n::numeric / nullif(u.n + j.n, 0)
                          from (select count(*) as n from public.unknown_inputs i where i.at > now() - c_window) u,
                               (select count(*) as n from audits a where a.recent and a.status in ('completed', 'rejected', 'failed')) j),
        'handoff_avg_duration_s', (select avg(h.execution_time_ms) / 1000.0 from handoffs h where h.recent)))
  ) into v_result;
  return v_result;
end;
$$;
comment on function public.fn_metrics_snapshot() is
  'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, attempts, unknown inputs; attempts_awaiting_approval, overrides per SD type; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';
