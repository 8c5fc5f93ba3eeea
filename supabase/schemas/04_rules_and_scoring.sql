-- The rules a handoff is judged by, each readable on its own: skip decisions, threshold lookup,
-- validation-mode lookup, handoff-type normalisation, and the verdict rule (fn_judge_attempt).
-- Pure reads of the rule tables (the validation modes themselves are in 10_modes_and_promotion.sql).
--
-- The helpers a handoff calls on its hot path are PL/pgSQL, not LANGUAGE sql: a LANGUAGE sql
-- function that cannot be inlined (here: every one of them, because of `set search_path`) is
-- parsed, analysed and planned again on every call from PL/pgSQL in PostgreSQL 17 — its plans
-- live only as long as the calling expression's state, which PL/pgSQL keeps per transaction. A
-- PL/pgSQL function keeps its plans for the session. With fn_sd_state, fn_sd_threshold,
-- fn_get_validation_mode, fn_normalise_handoff_type, fn_sd_lock_key and fn_in_transition as SQL
-- functions, re-planning was the largest single cost of a complete (bench/REPORT.md).

-- Seed pattern 8 as one set-based call: one row per validator asked about, in the order given.
-- Validator names compare upper-cased (the seed upper-cases them). NON_APPLICABLE_SD_TYPE wins
-- over LIGHTWEIGHT_SD_TYPE when both match, as the seed checks non-applicability first.
create or replace function public.fn_check_skip_conditions(p_sd_type text, p_validators text[])
returns table (validator text, should_skip boolean, reason_code text)
language sql stable security definer set search_path = '' as $$
  select v.name, r.reason_code is not null, r.reason_code
  from unnest(p_validators) with ordinality as v(name, ord)
  left join lateral (
    select g.reason_code
    from public.gate_skip_rules g
    where g.validator_code = upper(v.name)
      and (g.applies_to = p_sd_type
           or g.applies_to in (select c.class_name from public.sd_type_classes c where c.sd_type = p_sd_type))
    order by g.reason_code = 'NON_APPLICABLE_SD_TYPE' desc, g.id
    limit 1
  ) r on true
  order by v.ord
$$;
comment on function public.fn_check_skip_conditions(text, text[]) is
  'Skip decisions for a list of validators and an SD type, from public.gate_skip_rules (the single source of truth). One row per validator: should_skip and reason_code (NON_APPLICABLE_SD_TYPE or LIGHTWEIGHT_SD_TYPE).';

create or replace function public.fn_sd_threshold(p_sd_type text) returns numeric
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = p_sd_type),
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = 'default'),
    85);
end;
$$;

-- One normaliser for handoff types: the core's entry points (fn_begin_handoff, fn_execute_handoff,
-- the fn_atomic_* functions) understand every variant the HTTP API does (ExecToPlan,
-- exec_to_plan, "exec → plan", synonyms) because both use public.normalize_handoff_type, which the
-- parity test proves equal to shared/stages.ts. An input it cannot place is returned as typed
-- (upper-cased), so the caller's lookup still fails with UNKNOWN_HANDOFF_TYPE naming it.
-- Minimal on purpose: the TypeScript side owns the forgiving normaliser; SQL users get
-- 'exec_to_plan' / 'exec to plan' -> 'EXEC-TO-PLAN' and nothing cleverer.
create or replace function public.fn_normalise_handoff_type(p_handoff_type text) returns text
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(public.normalize_handoff_type(p_handoff_type) ->> 'normalized', upper(btrim(p_handoff_type)));
end;
$$;

-- The validation mode in force for an SD type. The modes themselves (table validation_modes, its
-- audit, the promotion gate) are in 10_modes_and_promotion.sql; this lookup is here, beside the
-- verdict rule that reads it, so the SQL functions of 06_begin_record_complete.sql find it.
create or replace function public.fn_get_validation_mode(p_sd_type text default null) returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce(
    (select m.mode from public.validation_modes m where m.scope = p_sd_type),
    (select m.mode from public.validation_modes m where m.scope = '*'),
    'ENFORCE');
end;
$$;
comment on function public.fn_get_validation_mode(text) is
  'Validation mode (OFF, WARN, ENFORCE) for an SD type: its override if any, else the global mode (scope *), else ENFORCE.';

-- The verdict rule, in one place: weighted score from the attempt's recorded results, required
-- gates, SD-type threshold, validation mode. Reads only; fn_complete_handoff acts on the answer.
--
-- Score: sum(weight * score/maxScore*100) / sum(weight) over the plan's gates that have a recorded,
-- non-skipped result, rounded to 2 decimals; the rounded number is both compared and shown, so the
-- message never says "got 90%" for a blocked 89.996. No scored gate at all -> 100.
-- Blocks, in this order (failed_gate = the first): a required gate without a usable result (none
-- recorded, or recorded as skipped) -> its code; a required gate that failed -> its code; score
-- under the SD type's threshold -> SD_TYPE_THRESHOLD, unless the mode is WARN (passes with
-- would_reject) or OFF (not checked).
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
  -- failed overridable gate (fn_override_handoff, 16_approvals.sql); approvals still apply.
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
