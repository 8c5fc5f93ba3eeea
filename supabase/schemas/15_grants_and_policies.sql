-- Who may do what, for the core tables and functions and for validation modes, in one place
-- (grants of the later domains sit at the end of their own files). Applied last: it names
-- objects from every other file.
--
-- Core: tables RLS on, no policies, nothing for anon/authenticated (hosted Supabase's default
-- privileges would otherwise grant them), everything for service_role. Functions: execute revoked
-- from public, anon and authenticated; the RPCs and the pure sql gates granted to service_role;
-- helpers stay private to the definer-rights RPCs.
--
-- Validation modes, the promotion gate and the ops webhook: validation_modes is written only by
-- fn_set_validation_mode (and fn_demote_validation_mode): service_role's direct write privileges
-- are revoked, so the promotion gate cannot be gone around.

do $$
declare
  v_table text;
begin
  foreach v_table in array array[
    'sd_phases', 'threshold_profiles', 'threshold_profile_audit', 'handoff_types', 'validation_modes',
    'sd_type_classes', 'gate_skip_rules', 'leo_sub_agents', 'strategic_directives_v2', 'product_requirements_v2',
    'user_stories', 'sd_claims', 'handoff_attempts', 'sub_agent_execution_results', 'sd_phase_handoffs',
    'sd_transition_audit']
  loop
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on table public.%I from public, anon, authenticated', v_table);
    execute format('grant all on table public.%I to service_role', v_table);
  end loop;
end;
$$;

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and p.proname in (
        'fn_get_validation_mode', 'fn_check_skip_conditions', 'fn_sd_threshold', 'fn_normalise_handoff_type',
        'fn_resolve_sd', 'fn_sd_lock_key', 'fn_claim_sd', 'fn_release_sd', 'fn_handoff_gates', 'fn_sd_context',
        'fn_attempt_answer', 'fn_begin_handoff', 'fn_normalise_gate_result', 'fn_check_gate_result',
        'fn_gate_result_json', 'fn_store_gate_result', 'fn_record_gate_result', 'fn_gate_score', 'fn_filled',
        'fn_gate_sd_defined', 'fn_gate_prd_complete', 'fn_gate_stories_have_acceptance_criteria',
        'fn_gate_stories_done', 'fn_gate_stories_validated', 'fn_evaluate_sql_gate', 'fn_judge_attempt',
        'fn_sd_state', 'fn_complete_handoff', 'fn_execute_handoff', 'fn_complete_by_request',
        'fn_atomic_lead_to_plan_transition', 'fn_atomic_plan_to_exec_transition',
        'fn_atomic_exec_to_plan_transition', 'fn_atomic_plan_to_lead_transition', 'fn_in_transition',
        'tg__set_updated_at', 'tg_validation_modes__stamp', 'tg_threshold_profiles__audit',
        'tg_strategic_directives_v2__guard', 'tg_product_requirements_v2__guard', 'tg_user_stories__guard',
        'tg_leo_sub_agents__check_dag')
  loop
    execute format('revoke all on function %s from public, anon, authenticated, service_role', v_fn);
  end loop;
end;
$$;

grant execute on function
  public.fn_get_validation_mode(text),
  public.fn_check_skip_conditions(text, text[]),
  public.fn_claim_sd(text, text, int),
  public.fn_release_sd(text, text),
  public.fn_begin_handoff(text, text, text, text, int, boolean),
  public.fn_record_gate_result(uuid, text, jsonb, text, int, int),
  public.fn_evaluate_sql_gate(uuid, text),
  public.fn_complete_handoff(uuid, int),
  public.fn_execute_handoff(text, text, text, text, jsonb),
  public.fn_atomic_lead_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_exec_transition(text, text, text, text),
  public.fn_atomic_exec_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_lead_transition(text, text, text, text),
  public.fn_gate_sd_defined(jsonb),
  public.fn_gate_prd_complete(jsonb),
  public.fn_gate_stories_have_acceptance_criteria(jsonb),
  public.fn_gate_stories_done(jsonb),
  public.fn_gate_stories_validated(jsonb),
  -- the shipped gates are callable on a context of one's own; these are the helpers they use
  public.fn_gate_score(jsonb, boolean, text),
  public.fn_filled(jsonb),
  -- the guard triggers call it with the rights of whoever runs the UPDATE
  public.fn_in_transition()
to service_role;

revoke insert, update, delete, truncate on table public.validation_modes from service_role;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['validation_mode_settings', 'validation_mode_changes', 'unknown_inputs', 'ops_webhook_ids']
  loop
    execute format('alter table public.%I enable row level security', v_table);
    -- service_role too: default privileges would give it writes, and the audit must not be editable.
    execute format('revoke all on table public.%I from public, anon, authenticated, service_role', v_table);
    execute format('grant select on table public.%I to service_role', v_table);
  end loop;
end;
$$;

-- Tuning the gate is an operator's job, not an RPC's.
grant update on table public.validation_mode_settings to service_role;

revoke all on function
  public.tg_validation_modes__audit(),
  public.fn_check_mode_scope(text),
  public.fn_promotion_gate(text),
  public.fn_set_validation_mode(text, text, text, boolean),
  public.fn_demote_validation_mode(text, text),
  public.fn_record_unknown_input(text, text, text, text, text, text, boolean),
  public.fn_claim_webhook_id(text, timestamptz),
  public.fn_purge_webhook_ids()
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_promotion_gate(text),
  public.fn_set_validation_mode(text, text, text, boolean),
  public.fn_demote_validation_mode(text, text),
  public.fn_record_unknown_input(text, text, text, text, text, text, boolean),
  public.fn_claim_webhook_id(text, timestamptz),
  public.fn_purge_webhook_ids()
to service_role;

-- Sequences are not for anon or authenticated (issue #15, "Sequences open to anon"). The default
-- privileges are also revoked by the hand-written migration …_sqlfix_default_privileges.sql
-- (a schema diff does not carry them).
--
-- The bootstrap (stack/bootstrap.sql) and hosted Supabase grant ALL on new sequences in public to
-- anon and authenticated by default privileges. Earlier migrations revoked tables and functions
-- one by one but never the sequences, so `set role anon; select setval('public.gate_skip_rules_id_seq', 1)`
-- worked — and a sequence set back makes the next inserts fail on duplicate keys. Every sequence
-- here belongs to an identity or serial column written only by definer-rights RPCs or by
-- service_role, so neither API role needs any privilege on one.

revoke all on all sequences in schema public from public, anon, authenticated;

-- Sequences created by later migrations (run by the same role) start without them too.
alter default privileges in schema public revoke all on sequences from public, anon, authenticated;

-- ============================================================================================
-- People: row-level security for signed-in users (helpers and rules: 01a_people.sql)
-- ============================================================================================
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

-- The directives (by key) of the current user's teams: the PRD and story policies filter by it.
create or replace function stagegate_private.my_sd_ids(p_roles text[] default null) returns setof text
language sql stable security definer set search_path = '' as $$
  select s.id from public.strategic_directives_v2 s
  where s.team_id in (select stagegate_private.my_team_ids(p_roles))
$$;
revoke all on function stagegate_private.my_sd_ids(text[]) from public, anon, authenticated, service_role;
grant execute on function stagegate_private.my_sd_ids(text[]) to authenticated, service_role;

do $$
declare
  v_table text;
begin
  foreach v_table in array array[
    'strategic_directives_v2', 'product_requirements_v2', 'user_stories',
    'handoff_attempts', 'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit']
  loop
    execute format('grant select on table public.%I to authenticated', v_table);
  end loop;
end;
$$;

-- content only: phase, status, transition_version, sd_type, team_id and keys stay the workflow's
grant update (title, description, scope, success_criteria, priority, metadata) on table public.strategic_directives_v2 to authenticated;
grant update (title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios) on table public.product_requirements_v2 to authenticated;
grant update (title, acceptance_criteria) on table public.user_stories to authenticated;

-- the handoff RPCs are callable by signed-in users: their own rules (01a) decide
grant execute on function
  public.fn_claim_sd(text, text, int),
  public.fn_release_sd(text, text),
  public.fn_begin_handoff(text, text, text, text, int, boolean),
  public.fn_record_gate_result(uuid, text, jsonb, text, int, int),
  public.fn_complete_handoff(uuid, int),
  public.fn_execute_handoff(text, text, text, text, jsonb),
  public.fn_atomic_lead_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_exec_transition(text, text, text, text),
  public.fn_atomic_exec_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_lead_transition(text, text, text, text),
  -- the guard triggers call it with the rights of whoever runs the UPDATE (now also a member)
  public.fn_in_transition()
to authenticated;

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
