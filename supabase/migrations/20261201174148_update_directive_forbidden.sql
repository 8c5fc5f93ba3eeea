SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.fn_update_directive (
  p_sd    text,
  p_patch jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2;
  v_part jsonb;
  v_story jsonb;
  v_unknown text[];
  v_n int;
begin
  -- ------------------------------------------------------------------ validation
  if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_patch must be a JSON object';
  end if;
  select array_agg(k) into v_unknown from (
    select k from jsonb_object_keys(p_patch) k where k not in ('directive', 'prd', 'stories')
    union all
    select 'directive.' || k from jsonb_object_keys(coalesce(nullif(p_patch -> 'directive', 'null'), '{}')) k
      where k not in ('title', 'description', 'scope', 'success_criteria', 'priority', 'metadata')
    union all
    select 'prd.' || k from jsonb_object_keys(coalesce(nullif(p_patch -> 'prd', 'null'), '{}')) k
      where k not in ('title', 'executive_summary', 'functional_requirements', 'acceptance_criteria', 'test_scenarios')
  ) u;
  if v_unknown is not null then
    raise exception using errcode = 'SG001', message = format(
      'INVALID_INPUT: %s cannot be edited (content only: phase, status and version change only through handoffs)', array_to_string(v_unknown, ', '));
  end if;
  if p_patch ? 'stories' and jsonb_typeof(p_patch -> 'stories') <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: stories must be an array of {story_key, title?, acceptance_criteria?}';
  end if;
  -- the directive the caller may read (RLS); the UPDATEs below meet its write policies
  perform public.fn_directive_history(p_sd);
  select s.* into v_sd from public.strategic_directives_v2 s
  where s.id = p_sd or (p_sd ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.uuid = p_sd::uuid);

  -- ------------------------------------------------------------------ the changes
  v_part := p_patch -> 'directive';
  if v_part is not null and v_part <> '{}' then
    update public.strategic_directives_v2 s set
      title = case when v_part ? 'title' then btrim(v_part ->> 'title') else s.title end,
      description = case when v_part ? 'description' then v_part ->> 'description' else s.description end,
      scope = case when v_part ? 'scope' then v_part ->> 'scope' else s.scope end,
      success_criteria = case when v_part ? 'success_criteria' then v_part -> 'success_criteria' else s.success_criteria end,
      priority = case when v_part ? 'priority' then v_part ->> 'priority' else s.priority end,
      metadata = case when v_part ? 'metadata' then v_part -> 'metadata' else s.metadata end
    where s.uuid = v_sd.uuid;
    get diagnostics v_n = row_count;
    if v_n = 0 then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read %L but not edit it', v_sd.id);
    end if;
  end if;
  v_part := p_patch -> 'prd';
  if v_part is not null and v_part <> '{}' then
    update public.product_requirements_v2 p set
      title = case when v_part ? 'title' then btrim(v_part ->> 'title') else p.title end,
      executive_summary = case when v_part ? 'executive_summary' then v_part ->> 'executive_summary' else p.executive_summary end,
      functional_requirements = case when v_part ? 'functional_requirements' then v_part -> 'functional_requirements' else p.functional_requirements end,
      acceptance_criteria = case when v_part ? 'acceptance_criteria' then v_part -> 'acceptance_criteria' else p.acceptance_criteria end,
      test_scenarios = case when v_part ? 'test_scenarios' then v_part -> 'test_scenarios' else p.test_scenarios end
    where p.sd_id = v_sd.id;
    get diagnostics v_n = row_count;
    if v_n = 0 and exists (select 1 from public.product_requirements_v2 p where p.sd_id = v_sd.id) then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read the PRD of %L but not edit it', v_sd.id);
    elsif v_n = 0 then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %L has no PRD to edit', v_sd.id);
    end if;
  end if;
  for v_story in select * from jsonb_array_elements(coalesce(p_patch -> 'stories', '[]')) loop
    if jsonb_typeof(v_story) <> 'object' or exists (select 1 from jsonb_object_keys(v_story) k where k not in ('story_key', 'title', 'acceptance_criteria')) then
      raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a story edit is {story_key, title?, acceptance_criteria?}';
    end if;
    update public.user_stories u set
      title = case when v_story ? 'title' then btrim(v_story ->> 'title') else u.title end,
      acceptance_criteria = case when v_story ? 'acceptance_criteria' then v_story -> 'acceptance_criteria' else u.acceptance_criteria end
    where u.sd_id = v_sd.id and u.story_key = v_story ->> 'story_key';
    get diagnostics v_n = row_count;
    if v_n = 0 and exists (select 1 from public.user_stories u where u.sd_id = v_sd.id and u.story_key = v_story ->> 'story_key') then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read story %L of %L but not edit it', v_story ->> 'story_key', v_sd.id);
    elsif v_n = 0 then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %L has no story %L', v_sd.id, v_story ->> 'story_key');
    end if;
  end loop;

  return public.fn_directive_history(v_sd.id);
exception
  when not_null_violation or check_violation then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %s', sqlerrm);
end;
$function$;
