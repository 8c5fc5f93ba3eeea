-- The helpers a handoff calls on its hot path, as PL/pgSQL instead of LANGUAGE sql.
--
-- Why: a LANGUAGE sql function that cannot be inlined (here: every one of them, because of
-- `set search_path`) is parsed, analysed and planned again on every call from PL/pgSQL in
-- PostgreSQL 17 — its plans live only as long as the calling expression's state, which PL/pgSQL
-- keeps per transaction. A PL/pgSQL function keeps its plans for the session. fn_complete_handoff
-- called fn_sd_state twice and fn_judge_attempt called fn_sd_threshold and fn_get_validation_mode
-- once per handoff, fn_begin_handoff calls fn_normalise_handoff_type, and the guard triggers call
-- fn_in_transition once per updated row: with these
-- as SQL functions, re-planning was the largest single cost of a complete (bench/REPORT.md).
--
-- Same signatures, same results, same attributes (volatility, security, search_path); grants and
-- comments are kept by `create or replace`.

create or replace function public.fn_sd_state(p_sd_id text) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return (
    select jsonb_build_object(
      'sd_phase', s.current_phase, 'sd_status', s.status, 'transition_version', s.transition_version,
      'prd_id', p.id, 'prd_status', p.status,
      'user_stories', coalesce((select jsonb_object_agg(x.status, x.n)
                                from (select u.status, count(*) as n from public.user_stories u
                                      where u.sd_id = s.id group by u.status) x), '{}'))
    from public.strategic_directives_v2 s
    left join public.product_requirements_v2 p on p.sd_id = s.id
    where s.id = p_sd_id);
end;
$$;

create or replace function public.fn_get_validation_mode(p_sd_type text default null) returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce(
    (select m.mode from public.validation_modes m where m.scope = p_sd_type),
    (select m.mode from public.validation_modes m where m.scope = '*'),
    'ENFORCE');
end;
$$;

create or replace function public.fn_sd_threshold(p_sd_type text) returns numeric
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = p_sd_type),
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = 'default'),
    85);
end;
$$;

create or replace function public.fn_sd_lock_key(p_sd_uuid uuid) returns bigint
language plpgsql immutable set search_path = '' as $$
begin
  return ('x' || left(replace(p_sd_uuid::text, '-', ''), 16))::bit(64)::bigint;
end;
$$;

create or replace function public.fn_in_transition() returns boolean
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(current_setting('stagegate.in_transition', true), '') = 'on';
end;
$$;

create or replace function public.fn_normalise_handoff_type(p_handoff_type text) returns text
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(public.normalize_handoff_type(p_handoff_type) ->> 'normalized', upper(btrim(p_handoff_type)));
end;
$$;
