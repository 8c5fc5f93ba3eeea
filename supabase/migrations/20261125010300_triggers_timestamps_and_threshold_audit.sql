-- Timestamps, and the audit trail of threshold changes (who, when, old, new).

create function public.tg__set_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger tg_threshold_profiles__updated_at before update on public.threshold_profiles
  for each row execute function public.tg__set_updated_at();
create trigger tg_leo_sub_agents__updated_at before update on public.leo_sub_agents
  for each row execute function public.tg__set_updated_at();
create trigger tg_strategic_directives_v2__updated_at before update on public.strategic_directives_v2
  for each row execute function public.tg__set_updated_at();
create trigger tg_product_requirements_v2__updated_at before update on public.product_requirements_v2
  for each row execute function public.tg__set_updated_at();
create trigger tg_user_stories__updated_at before update on public.user_stories
  for each row execute function public.tg__set_updated_at();
create trigger tg_sub_agent_execution_results__updated_at before update on public.sub_agent_execution_results
  for each row execute function public.tg__set_updated_at();
create trigger tg_sd_transition_audit__updated_at before update on public.sd_transition_audit
  for each row execute function public.tg__set_updated_at();

create function public.tg_validation_modes__stamp() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  new.updated_by := current_user;
  return new;
end;
$$;
create trigger tg_validation_modes__stamp before insert or update on public.validation_modes
  for each row execute function public.tg_validation_modes__stamp();

-- current_user is the role that made the change (service_role, postgres, ...), which is why this is
-- not security definer; auth.uid() names the end user when the change came with a JWT.
create function public.tg_threshold_profiles__audit() returns trigger
language plpgsql set search_path = '' as $$
begin
  insert into public.threshold_profile_audit (sd_type, operation, old_row, new_row, changed_by, changed_by_uid)
  values (
    coalesce(new.sd_type, old.sd_type), tg_op,
    case when tg_op <> 'INSERT' then to_jsonb(old) end,
    case when tg_op <> 'DELETE' then to_jsonb(new) end,
    current_user,
    auth.uid()
  );
  return null;
end;
$$;
create trigger tg_threshold_profiles__audit after insert or update or delete on public.threshold_profiles
  for each row execute function public.tg_threshold_profiles__audit();
