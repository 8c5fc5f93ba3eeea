-- The rules a handoff is judged by, each readable on its own: validation mode, skip decisions,
-- threshold lookup. Pure reads of the rule tables.

create function public.fn_get_validation_mode(p_sd_type text default null) returns text
language sql stable security definer set search_path = '' as $$
  select coalesce(
    (select m.mode from public.validation_modes m where m.scope = p_sd_type),
    (select m.mode from public.validation_modes m where m.scope = '*'),
    'ENFORCE')
$$;
comment on function public.fn_get_validation_mode(text) is
  'Validation mode (OFF, WARN, ENFORCE) for an SD type: its override if any, else the global mode (scope *), else ENFORCE.';

-- Seed pattern 8 as one set-based call: one row per validator asked about, in the order given.
-- Validator names compare upper-cased (the seed upper-cases them). NON_APPLICABLE_SD_TYPE wins
-- over LIGHTWEIGHT_SD_TYPE when both match, as the seed checks non-applicability first.
create function public.fn_check_skip_conditions(p_sd_type text, p_validators text[])
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

create function public.fn_sd_threshold(p_sd_type text) returns numeric
language sql stable set search_path = '' as $$
  select coalesce(
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = p_sd_type),
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = 'default'),
    85)
$$;

-- Minimal on purpose: the TypeScript side owns the forgiving normaliser; SQL users get
-- 'exec_to_plan' / 'exec to plan' -> 'EXEC-TO-PLAN' and nothing cleverer.
create function public.fn_normalise_handoff_type(p_handoff_type text) returns text
language sql immutable set search_path = '' as $$
  select upper(regexp_replace(btrim(p_handoff_type), '[_[:space:]]+', '-', 'g'))
$$;

-- An SD by human key or by uuid text (the seeds use both).
create function public.fn_resolve_sd(p_sd_ref text) returns public.strategic_directives_v2
language plpgsql stable set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2;
begin
  if p_sd_ref is null or btrim(p_sd_ref) = '' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_sd_id is required';
  end if;
  if p_sd_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_sd from public.strategic_directives_v2 s where s.uuid = p_sd_ref::uuid;
  else
    select * into v_sd from public.strategic_directives_v2 s where s.id = p_sd_ref;
  end if;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L not found', p_sd_ref);
  end if;
  return v_sd;
end;
$$;

-- 64-bit advisory lock key from the SD uuid's first 8 bytes: unlike hashtext() (32 bits), two SDs
-- practically never share it.
create function public.fn_sd_lock_key(p_sd_uuid uuid) returns bigint
language sql immutable set search_path = '' as $$
  select ('x' || left(replace(p_sd_uuid::text, '-', ''), 16))::bit(64)::bigint
$$;
