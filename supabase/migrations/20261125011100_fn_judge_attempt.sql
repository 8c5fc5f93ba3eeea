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
create function public.fn_judge_attempt(p_attempt public.handoff_attempts) returns jsonb
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
begin
  with plan as (
    select g->>'code' as code, (g->>'weight')::numeric as weight, (g->>'required')::boolean as required,
           (g->>'skip')::boolean as plan_skip, g->>'skip_reason' as plan_skip_reason, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
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

  return jsonb_build_object(
    'verdict', case when v_failed_gate is null then 'accepted' else 'rejected' end,
    'score', v_score, 'threshold', v_threshold, 'validation_mode', v_mode, 'failed_gate', v_failed_gate,
    'issues', to_jsonb(v_issues || v_gate_issues), 'warnings', to_jsonb(v_warnings || v_gate_warnings),
    'would_reject', v_would_reject, 'gates', v_gates);
end;
$$;
