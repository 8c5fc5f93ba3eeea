-- The promotion gate and the only writers of validation_modes.
--
-- Definitions (over the canary window, validation_mode_settings.canary_window, 30 min default):
--   judged handoffs   terminal rows of sd_transition_audit created in the window (one per
--                     completed attempt; dry runs roll back and leave none), for the scope: all of
--                     them for '*', those whose attempt's sd_type is the scope otherwise.
--   would-reject      judged handoffs that ENFORCE would refuse on the threshold: would_reject
--                     (WARN) or score below the threshold recorded with them (so OFF and ENFORCE
--                     periods count too).
--   unknown inputs    rows of unknown_inputs in the window (the handoff function records every
--                     request it answers UNKNOWN_HANDOFF_TYPE); for a scope other than '*', those
--                     of that sd_type or of no known sd_type.
--   requests          judged handoffs + unknown inputs: every request that either reached a
--                     verdict or was refused because its input could not be normalised.
--   would-reject rate = would-reject / judged handoffs; unknown-input rate = unknown / requests.
-- A move to ENFORCE from WARN or OFF is refused (SG015 PROMOTION_BLOCKED) while either rate is
-- above its maximum (0.5%) or fewer than min_handoffs (20) were judged. p_force overrides it; the
-- change is then audited forced = true with the numbers that would have refused it.

create function public.fn_check_mode_scope(p_scope text) returns void
language plpgsql immutable set search_path = '' as $$
begin
  if p_scope is null or not (p_scope = '*' or p_scope ~ '^[a-z][a-z0-9_-]{0,39}$') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: scope must be ''*'' (global) or an sd_type such as ''feature'' (got %L)', left(p_scope, 100));
  end if;
end;
$$;

create function public.fn_promotion_gate(p_scope text default '*') returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
  v_set public.validation_mode_settings;
  v_since timestamptz;
  v_handoffs int;
  v_below int;
  v_unknown int;
  v_wr numeric;
  v_ur numeric;
  v_reasons text[] := '{}';
  v_window text;
begin
  perform public.fn_check_mode_scope(p_scope);
  select * into strict v_set from public.validation_mode_settings;
  v_since := now() - v_set.canary_window;
  v_window := trim_scale(round(extract(epoch from v_set.canary_window) / 60, 2)) || ' minutes';

  select count(*)::int, (count(*) filter (where a.would_reject or a.score < a.threshold))::int
  into v_handoffs, v_below
  from public.sd_transition_audit a
  where a.created_at >= v_since and a.status in ('completed', 'rejected', 'failed')  -- judged; abandoned attempts never were
    and (p_scope = '*' or exists (select 1 from public.handoff_attempts h where h.id = a.attempt_id and h.sd_type = p_scope));
  select count(*)::int into v_unknown
  from public.unknown_inputs u
  where u.at >= v_since and (p_scope = '*' or u.sd_type is null or u.sd_type = p_scope);

  v_wr := round(v_below::numeric / nullif(v_handoffs, 0), 6);
  v_ur := round(v_unknown::numeric / nullif(v_handoffs + v_unknown, 0), 6);
  if v_handoffs < v_set.min_handoffs then
    v_reasons := v_reasons || format('only %s handoffs judged in the last %s (at least %s needed to judge)',
                                     v_handoffs, v_window, v_set.min_handoffs);
  end if;
  if coalesce(v_wr, 0) > v_set.max_would_reject_rate then
    v_reasons := v_reasons || format('would-reject rate %s%% (%s of %s handoffs) is above %s%% over the last %s',
                                     trim_scale(round(v_wr * 100, 2)), v_below, v_handoffs,
                                     trim_scale(v_set.max_would_reject_rate * 100), v_window);
  end if;
  if coalesce(v_ur, 0) > v_set.max_unknown_rate then
    v_reasons := v_reasons || format('unknown-input rate %s%% (%s of %s requests) is above %s%% over the last %s',
                                     trim_scale(round(v_ur * 100, 2)), v_unknown, v_handoffs + v_unknown,
                                     trim_scale(v_set.max_unknown_rate * 100), v_window);
  end if;
  return jsonb_build_object(
    'scope', p_scope, 'ok', cardinality(v_reasons) = 0, 'reasons', to_jsonb(v_reasons),
    'window', v_window, 'window_seconds', extract(epoch from v_set.canary_window)::int, 'since', v_since,
    'handoffs', v_handoffs, 'would_reject', v_below, 'would_reject_rate', v_wr,
    'unknown_inputs', v_unknown, 'requests', v_handoffs + v_unknown, 'unknown_rate', v_ur,
    'min_handoffs', v_set.min_handoffs, 'max_would_reject_rate', v_set.max_would_reject_rate,
    'max_unknown_rate', v_set.max_unknown_rate);
end;
$$;
comment on function public.fn_promotion_gate(text) is
  'Canary numbers for promoting a scope (''*'' or an sd_type) to ENFORCE over validation_mode_settings.canary_window: {ok, reasons, window, handoffs, would_reject, would_reject_rate, unknown_inputs, requests, unknown_rate, min_handoffs, max_would_reject_rate, max_unknown_rate}. Read only.';

create function public.fn_set_validation_mode(p_scope text, p_mode text, p_reason text, p_force boolean default false)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_mode text := upper(btrim(p_mode));
  v_reason text := btrim(p_reason);
  v_row_mode text;
  v_old text;
  v_gate jsonb;
  v_forced boolean := false;
  v_change_id bigint;
  v_actor text;
  v_at timestamptz;
begin
  -- ---------------------------------------------------------------- validation
  perform public.fn_check_mode_scope(p_scope);
  if v_mode is null or v_mode not in ('OFF', 'WARN', 'ENFORCE') then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: mode must be OFF, WARN or ENFORCE (got %L)', left(p_mode, 50));
  end if;
  if v_reason is null or v_reason = '' or length(v_reason) > 500 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a reason (1..500 characters) is required for every mode change';
  end if;

  -- One mode change at a time, so the gate judges the mode it replaces.
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  select m.mode into v_row_mode from public.validation_modes m where m.scope = p_scope;
  v_old := public.fn_get_validation_mode(p_scope);
  v_gate := public.fn_promotion_gate(p_scope);
  if v_row_mode = v_mode then
    return jsonb_build_object('changed', false, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                              'forced', false, 'gate', v_gate, 'change_id', null);
  end if;

  -- ---------------------------------------------------------------- promotion gate
  if v_mode = 'ENFORCE' and v_old <> 'ENFORCE' and not (v_gate->>'ok')::boolean then
    if not coalesce(p_force, false) then
      raise exception using errcode = 'SG015',
        message = format('PROMOTION_BLOCKED: %s -> ENFORCE for scope %L refused: %s; pass force with a reason to override',
                         v_old, p_scope, array_to_string(array(select jsonb_array_elements_text(v_gate->'reasons')), '; ')),
        detail = v_gate::text;
    end if;
    v_forced := true;
  end if;

  -- ---------------------------------------------------------------- change (audited by trigger)
  perform set_config('stagegate.mode_change', jsonb_build_object(
    'reason', v_reason, 'forced', v_forced, 'gate', v_gate,
    'via', coalesce(nullif(current_setting('stagegate.mode_via', true), ''), 'fn_set_validation_mode'))::text, true);
  insert into public.validation_modes as m (scope, mode, note) values (p_scope, v_mode, v_reason)
  on conflict (scope) do update set mode = excluded.mode, note = excluded.note;
  perform set_config('stagegate.mode_change', '', true);
  select c.id, c.actor, c.at into v_change_id, v_actor, v_at
  from public.validation_mode_changes c where c.scope = p_scope order by c.id desc limit 1;

  return jsonb_build_object('changed', true, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                            'forced', v_forced, 'gate', v_gate, 'change_id', v_change_id, 'actor', v_actor, 'at', v_at);
end;
$$;
comment on function public.fn_set_validation_mode(text, text, text, boolean) is
  'The one way to change a validation mode (scope ''*'' or an sd_type; OFF, WARN, ENFORCE) with a reason. A move to ENFORCE passes the promotion gate (fn_promotion_gate) or raises SG015 PROMOTION_BLOCKED with the rates, the count and the window in the message and the numbers as JSON detail; p_force overrides it and the change is audited forced = true. Audited in validation_mode_changes, NOTIFY stagegate_mode, one JSON LOG line. Returns {changed, scope, old_mode, new_mode, forced, gate, change_id, actor, at}.';

-- An alert fired: every ENFORCE under the scope goes to WARN ('*' also demotes the overrides that
-- enforce). Never promotes; a scope not enforcing is left alone.
create function public.fn_demote_validation_mode(p_scope text, p_reason text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_changes jsonb := '[]';
  v_target text;
begin
  perform public.fn_check_mode_scope(p_scope);
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  for v_target in
    select p_scope where public.fn_get_validation_mode(p_scope) = 'ENFORCE'
    union
    select m.scope from public.validation_modes m where p_scope = '*' and m.mode = 'ENFORCE'
    order by 1
  loop
    v_changes := v_changes || public.fn_set_validation_mode(v_target, 'WARN', p_reason, false);
  end loop;
  return jsonb_build_object('changed', jsonb_array_length(v_changes) > 0, 'changes', v_changes);
end;
$$;
comment on function public.fn_demote_validation_mode(text, text) is
  'Moves ENFORCE to WARN for a scope (''*'' = the global mode and every enforcing override), with a reason; a scope not in ENFORCE is unchanged. Returns {changed, changes: [fn_set_validation_mode answers]}.';

create function public.fn_record_unknown_input(p_kind text, p_input text, p_sd_type text default null, p_source text default 'handoff')
returns void
language sql security definer set search_path = '' as $$
  insert into public.unknown_inputs (kind, input, sd_type, source)
  values (p_kind, left(coalesce(p_input, ''), 200), left(p_sd_type, 40), left(coalesce(p_source, 'handoff'), 100))
$$;
comment on function public.fn_record_unknown_input(text, text, text, text) is
  'Counts one request whose handoff_type/stage/phase input could not be normalised (kind handoff_type, stage or phase); read by fn_promotion_gate''s unknown-input rate.';
