SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.fn_record_unknown_input (
  p_kind       text,
  p_input      text,
  p_sd_type    text    DEFAULT NULL::text,
  p_source     text    DEFAULT 'handoff'::text,
  p_caller     text    DEFAULT NULL::text,
  p_sd_id      text    DEFAULT NULL::text,
  p_require_sd boolean DEFAULT false
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sd_type text := p_sd_type;
  v_new boolean;
begin
  perform public.fn_check_text('p_kind', p_kind), public.fn_check_text('p_source', p_source),
          public.fn_check_text('p_sd_type', p_sd_type), public.fn_check_text('p_sd_id', p_sd_id);
  if p_kind is null or p_kind not in ('handoff_type', 'stage', 'phase') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_kind must be handoff_type, stage or phase (got %L)', left(p_kind, 100));
  end if;
  if p_sd_id is not null then
    select s.sd_type into v_sd_type from public.strategic_directives_v2 s
    where s.id = p_sd_id or (p_sd_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.uuid = p_sd_id::uuid)
    limit 1;
    if not found then
      return false;  -- a request about no directive steers nothing
    end if;
  elsif p_require_sd then
    return false;
  end if;
  insert into public.unknown_inputs as u (kind, input, sd_type, source, caller, window_start, sd_id)
  values (p_kind,
          -- the input is evidence for a human; control characters are shown, not stored
          left(regexp_replace(coalesce(p_input, ''), '[\x01-\x1F\x7F-\x9F]', '?', 'g'), 200),
          left(v_sd_type, 40), left(coalesce(p_source, 'handoff'), 100),
          encode(sha256(convert_to(coalesce(p_caller, 'sql:' || session_user), 'UTF8')), 'hex'),
          date_bin('10 minutes', clock_timestamp(), timestamptz '2000-01-01 00:00:00+00'), left(p_sd_id, 200))
  on conflict (kind, caller, window_start) do update set hits = u.hits + 1
  returning (xmax = 0) into v_new;
  return v_new;
end;
$function$;
