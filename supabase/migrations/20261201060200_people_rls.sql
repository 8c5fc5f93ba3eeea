-- Hand-written: with 20261201060000 and 20261201060100 (see there); the schema side of these
-- grants and policies is in supabase/schemas/15_grants_and_policies.sql, 01a_people.sql and
-- 13_requests.sql.
--
-- People, part 3: row-level security for signed-in users.
--
-- Members read their team's directives, PRDs, stories, attempts, gate results, handoff records and
-- audit rows; LEAD and PLAN members edit the content of their team's directives, PRDs and stories
-- (the columns granted below: never phase, status, version, type or team, which the column grants
-- leave out and the guard triggers refuse besides); EXEC and VIEWER members read only; anon reads
-- nothing. A signed-in user may insert a handoff_requests row, which runs as that user, and reads
-- their own rows. Operational tables (breakers, idempotency keys, webhook ids, sweeps, claims,
-- the outbox) stay service-only: they have RLS on and no policy.
--
-- One policy per action and role, named for what it allows; membership through the
-- security-definer helpers in stagegate_private (evaluated once per statement: `in (select …)`);
-- auth.uid() through `(select auth.uid())`; an index on every column a policy filters by
-- (team_id on the directives and attempts, attempt_id on the rest of the history, sd_id on PRDs
-- and stories, user_id on members, actor_id on handoff requests).

-- ============================================================================================
-- Grants (the policies then choose the rows)
-- ============================================================================================
do $$
declare
  v_table text;
begin
  foreach v_table in array array['teams', 'team_members', 'handoff_permissions', 'handoff_permission_changes']
  loop
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on table public.%I from public, anon, authenticated', v_table);
    execute format('grant all on table public.%I to service_role', v_table);
  end loop;
  foreach v_table in array array[
    'teams', 'team_members', 'handoff_permissions', 'strategic_directives_v2', 'product_requirements_v2', 'user_stories',
    'handoff_attempts', 'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit']
  loop
    execute format('grant select on table public.%I to authenticated', v_table);
  end loop;
end;
$$;
-- the audit of permission changes is not editable, not even by the service role
revoke insert, update, delete, truncate on table public.handoff_permission_changes from service_role;

-- content only: phase, status, transition_version, sd_type, team_id and keys stay the workflow's
grant update (title, description, scope, success_criteria, priority, metadata) on table public.strategic_directives_v2 to authenticated;
grant update (title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios) on table public.product_requirements_v2 to authenticated;
grant update (title, acceptance_criteria) on table public.user_stories to authenticated;

grant select on table public.handoff_requests to authenticated;
grant insert (sd_id, handoff_type, session_id) on table public.handoff_requests to authenticated;
create index handoff_requests_actor_id_idx on public.handoff_requests (actor_id) where actor_id is not null;

-- ============================================================================================
-- Policies
-- ============================================================================================
create policy "members read their teams" on public.teams
  for select to authenticated using (id in (select stagegate_private.my_team_ids()));
create policy "members read the members of their teams" on public.team_members
  for select to authenticated using (team_id in (select stagegate_private.my_team_ids()));
create policy "signed-in users read handoff permissions" on public.handoff_permissions
  for select to authenticated using ((select auth.uid()) is not null);

create policy "members read their team's directives" on public.strategic_directives_v2
  for select to authenticated using (team_id in (select stagegate_private.my_team_ids()));
create policy "leads and planners edit their team's directives" on public.strategic_directives_v2
  for update to authenticated
  using (team_id in (select stagegate_private.my_team_ids('{LEAD,PLAN}')))
  with check (team_id in (select stagegate_private.my_team_ids('{LEAD,PLAN}')));

create policy "members read their team's PRDs" on public.product_requirements_v2
  for select to authenticated using (sd_id in (select stagegate_private.my_sd_ids()));
create policy "leads and planners edit their team's PRDs" on public.product_requirements_v2
  for update to authenticated
  using (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')))
  with check (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')));

create policy "members read their team's stories" on public.user_stories
  for select to authenticated using (sd_id in (select stagegate_private.my_sd_ids()));
create policy "leads and planners edit their team's stories" on public.user_stories
  for update to authenticated
  using (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')))
  with check (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')));

create policy "members read their team's handoff attempts" on public.handoff_attempts
  for select to authenticated using (team_id in (select stagegate_private.my_team_ids()));
-- The rest of a handoff's history belongs to its attempt: readable by whoever may read the
-- attempt (the subquery runs under the attempts' policy above; attempt_id is indexed everywhere).
create policy "members read their team's gate results" on public.sub_agent_execution_results
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));
create policy "members read their team's handoff records" on public.sd_phase_handoffs
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));
create policy "members read their team's audit" on public.sd_transition_audit
  for select to authenticated using (exists (select 1 from public.handoff_attempts a where a.id = attempt_id));

create policy "users read their own handoff requests" on public.handoff_requests
  for select to authenticated using (actor_id = (select auth.uid()));
-- actor_id is stamped by the _050_stamp_actor trigger before this check runs
create policy "users request handoffs as themselves" on public.handoff_requests
  for insert to authenticated with check (actor_id = (select auth.uid()));

-- the guard triggers call it with the rights of whoever runs the UPDATE (now also a member)
grant execute on function public.fn_in_transition() to authenticated;
