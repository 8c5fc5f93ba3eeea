-- The registry must stay a DAG of known codes, or the orchestrator's critical-path runner would
-- wait forever. Checked once per statement, so a batch insert may list gates in any order.

create function public.tg_leo_sub_agents__check_dag() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_code text;
  v_dep text;
begin
  select a.code, d.dep into v_code, v_dep
  from public.leo_sub_agents a
  cross join lateral unnest(a.depends_on) as d(dep)
  where not exists (select 1 from public.leo_sub_agents b where b.code = d.dep)
  limit 1;
  if found then
    raise exception using errcode = 'SG013',
      message = format('UNKNOWN_DEPENDENCY: sub-agent %L depends on %L, which is not registered', v_code, v_dep);
  end if;

  with recursive reach (start, node) as (
    select a.code, d.dep from public.leo_sub_agents a cross join lateral unnest(a.depends_on) as d(dep)
    union
    select r.start, d.dep
    from reach r
    join public.leo_sub_agents a on a.code = r.node
    cross join lateral unnest(a.depends_on) as d(dep)
  )
  select start into v_code from reach where start = node order by start limit 1;
  if found then
    raise exception using errcode = 'SG014',
      message = format('DEPENDENCY_CYCLE: sub-agent %L depends on itself through depends_on', v_code);
  end if;
  return null;
end;
$$;
create trigger tg_leo_sub_agents__check_dag after insert or update of depends_on, code or delete
  on public.leo_sub_agents for each statement execute function public.tg_leo_sub_agents__check_dag();
