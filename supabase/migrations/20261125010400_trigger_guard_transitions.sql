-- Phase and status belong to the handoff RPCs. They set the transaction-local flag
-- stagegate.in_transition for the duration of their state changes; anything else is refused.
-- This guards against mistakes (a stray UPDATE from a script), not against a caller who sets the
-- flag on purpose: who may write these tables at all is decided by the grants.
--
-- For PRDs and stories only the statuses the workflow itself sets (handoff_types.prd_status /
-- story_status) are guarded, in either direction: day-to-day work (draft -> ready -> in_progress ->
-- done) is free, but nothing can enter or leave 'verification' / 'validated' without a handoff.

create function public.fn_in_transition() returns boolean
language sql stable set search_path = '' as $$
  select coalesce(current_setting('stagegate.in_transition', true), '') = 'on'
$$;

create function public.tg_strategic_directives_v2__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (new.current_phase, new.status, new.transition_version) is distinct from
     (old.current_phase, old.status, old.transition_version)
     and not public.fn_in_transition() then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: current_phase/status/transition_version of strategic directive %L change only through a handoff; call public.fn_execute_handoff (or fn_begin_handoff + fn_complete_handoff)', old.id);
  end if;
  return new;
end;
$$;
create trigger tg_strategic_directives_v2__guard before update on public.strategic_directives_v2
  for each row execute function public.tg_strategic_directives_v2__guard();

create function public.tg_product_requirements_v2__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.prd_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: PRD %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.id, old.status, new.status);
  end if;
  return new;
end;
$$;
create trigger tg_product_requirements_v2__guard before update on public.product_requirements_v2
  for each row execute function public.tg_product_requirements_v2__guard();

create function public.tg_user_stories__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.story_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: user story %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.story_key, old.status, new.status);
  end if;
  return new;
end;
$$;
create trigger tg_user_stories__guard before update on public.user_stories
  for each row execute function public.tg_user_stories__guard();
