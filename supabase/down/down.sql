-- Removes everything the SQL core migrations (2026112501*) create, the seed's rollback procedure
-- grown to the whole core. WARNING: drops the audit trail with the tables. Afterwards those
-- migrations apply again cleanly. Rows in supabase_migrations.schema_migrations are the deploy
-- tool's business: delete the 2026112501* versions there if the CLI should re-apply them.
-- Tables go with cascade, which also drops objects of later migrations that depend on them.

drop function if exists
  public.fn_atomic_lead_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_exec_transition(text, text, text, text),
  public.fn_atomic_exec_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_lead_transition(text, text, text, text),
  public.fn_complete_by_request(text, text, text, text, text),
  public.fn_execute_handoff(text, text, text, text, jsonb),
  public.fn_complete_handoff(uuid, int),
  public.fn_sd_state(text),
  public.fn_judge_attempt(public.handoff_attempts),
  public.fn_evaluate_sql_gate(uuid, text),
  public.fn_gate_stories_validated(jsonb),
  public.fn_gate_stories_done(jsonb),
  public.fn_gate_stories_have_acceptance_criteria(jsonb),
  public.fn_gate_prd_complete(jsonb),
  public.fn_gate_sd_defined(jsonb),
  public.fn_filled(jsonb),
  public.fn_gate_score(jsonb, boolean, text),
  public.fn_record_gate_result(uuid, text, jsonb, text, int, int),
  public.fn_store_gate_result(uuid, text, jsonb, text, int, int, boolean),
  public.fn_gate_result_json(public.sub_agent_execution_results),
  public.fn_check_gate_result(text, jsonb),
  public.fn_normalise_gate_result(jsonb),
  public.fn_begin_handoff(text, text, text, text, int),
  public.fn_attempt_answer(public.handoff_attempts, boolean),
  public.fn_sd_context(public.strategic_directives_v2),
  public.fn_handoff_gates(text, text),
  public.fn_release_sd(text, text),
  public.fn_claim_sd(text, text, int),
  public.fn_sd_lock_key(uuid),
  public.fn_resolve_sd(text),
  public.fn_normalise_handoff_type(text),
  public.fn_sd_threshold(text),
  public.fn_check_skip_conditions(text, text[]),
  public.fn_get_validation_mode(text),
  public.tg_leo_sub_agents__check_dag(),
  public.tg_user_stories__guard(),
  public.tg_product_requirements_v2__guard(),
  public.tg_strategic_directives_v2__guard(),
  public.fn_in_transition(),
  public.tg_threshold_profiles__audit(),
  public.tg_validation_modes__stamp(),
  public.tg__set_updated_at()
  cascade;

drop table if exists
  public.sd_transition_audit, public.sd_phase_handoffs, public.sub_agent_execution_results,
  public.handoff_attempts, public.sd_claims, public.user_stories, public.product_requirements_v2,
  public.strategic_directives_v2, public.leo_sub_agents, public.gate_skip_rules, public.sd_type_classes,
  public.validation_modes, public.handoff_types, public.threshold_profile_audit, public.threshold_profiles,
  public.sd_phases
  cascade;
