-- Rollback: removes everything supabase/schemas/ defines and supabase/migrations/ creates (the
-- seed's rollback procedure grown to the whole product), so the migrations can be applied again
-- afterwards. WARNING: the audit trail
-- goes with its tables; take a backup first (docs/runbook.md, "Backup and restore").
--
-- Objects are named one by one (nothing else in `public` is touched); tests/db/down-script.test.ts
-- fails when a schema file adds an object this file does not remove. It also unschedules the pg_cron
-- jobs (hosted) and forgets the migration history, so `supabase migration up` / `db push` re-apply.

do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    execute $q$select cron.unschedule(jobid) from cron.job where jobname like 'stagegate\_%'$q$;
  end if;
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    delete from supabase_migrations.schema_migrations where version >= '20261125000000';  -- this project's first migration
  end if;
end
$$;

drop view if exists
  public.sub_agent_breaker_status,
  public.v_gate_validation_failure_rate,
  public.v_handoff_duration,
  public.v_idempotent_hit_rate,
  public.v_latest_failed_transitions,
  public.v_orchestration_speed,
  public.v_transition_success_rate
  cascade;

drop table if exists
  public.approval_decisions,
  public.approval_events,
  public.approval_webhook_deliveries,
  public.gate_skip_rules,
  public.handoff_attempts,
  public.handoff_overrides,
  public.handoff_permission_changes,
  public.handoff_permissions,
  public.handoff_request_dispatch,
  public.handoff_requests,
  public.handoff_types,
  public.http_idempotency_keys,
  public.leo_sub_agents,
  public.ops_webhook_ids,
  public.override_permissions,
  public.product_requirements_v2,
  public.sd_claims,
  public.transition_notifications,
  public.sd_phase_handoffs,
  public.sd_phases,
  public.sd_transition_audit,
  public.sd_type_classes,
  public.stage_backfill_checkpoints,
  public.stage_backfill_log,
  public.stage_synonyms,
  public.stage_vocabulary,
  public.strategic_directives_v2,
  public.sub_agent_breaker_events,
  public.sub_agent_breakers,
  public.sub_agent_execution_results,
  public.sweep_schedule,
  public.team_members,
  public.teams,
  public.threshold_profile_audit,
  public.threshold_profiles,
  public.unknown_inputs,
  public.user_stories,
  public.validation_mode_changes,
  public.validation_mode_settings,
  public.validation_modes
  cascade;

drop function if exists
  public.breaker_lock(text),
  public.fn_decide_approval(uuid, text, text),
  public.fn_claim_approval_webhooks(int, int),
  public.fn_record_approval_webhook(bigint, boolean, int, text, int),
  public.fn_override_handoff(uuid, text),
  public.fn_sweep_approval_events(int),
  public.fn_sweep_expired_approvals(),
  public.breaker_reason(text),
  public.fn_atomic_exec_to_plan_transition(text,text,text,text),
  public.fn_atomic_lead_to_plan_transition(text,text,text,text),
  public.fn_atomic_plan_to_exec_transition(text,text,text,text),
  public.fn_atomic_plan_to_lead_transition(text,text,text,text),
  public.fn_attempt_answer(handoff_attempts,boolean),
  public.fn_backfill_stage_batch(text,integer,text),
  public.fn_begin_handoff(text,text,text,text,integer),
  public.fn_breaker_acquire(text,integer),
  public.fn_breaker_record(text,boolean,text),
  public.fn_breaker_reset(text,text),
  public.fn_breaker_sweep(),
  public.fn_check_gate_result(text,jsonb),
  public.fn_check_invariants(),
  public.fn_check_mode_scope(text),
  public.fn_check_skip_conditions(text,text[]),
  public.fn_claim_handoff_request(text,interval,integer),
  public.fn_exhaust_handoff_requests(),
  public.fn_claim_sd(text,text,integer),
  public.fn_claim_webhook_id(text,timestamp with time zone),
  public.fn_complete_by_request(text,text,text,text,text),
  public.fn_complete_handoff(uuid,integer),
  public.fn_demote_validation_mode(text,text),
  public.fn_dispatch_handoff_request(uuid),
  public.fn_evaluate_sql_gate(uuid,text),
  public.fn_execute_handoff(text,text,text,text,jsonb),
  public.fn_filled(jsonb),
  public.fn_finish_handoff_request(uuid,integer,jsonb),
  public.fn_gate_prd_complete(jsonb),
  public.fn_gate_result_json(sub_agent_execution_results),
  public.fn_gate_score(jsonb,boolean,text),
  public.fn_gate_sd_defined(jsonb),
  public.fn_gate_stories_done(jsonb),
  public.fn_gate_stories_have_acceptance_criteria(jsonb),
  public.fn_gate_stories_validated(jsonb),
  public.fn_get_validation_mode(text),
  public.fn_handoff_gates(text,text),
  public.fn_idempotency_abandon(text,text),
  public.fn_idempotency_begin(text,text,text,integer),
  public.fn_idempotency_complete(text,text,text,integer,jsonb),
  public.fn_idempotency_purge(interval),
  public.fn_in_transition(),
  public.fn_judge_attempt(handoff_attempts),
  public.fn_metrics_snapshot(),
  public.fn_normalise_gate_result(jsonb),
  public.fn_normalise_handoff_type(text),
  public.fn_promotion_gate(text),
  public.fn_purge_webhook_ids(),
  public.fn_raise_sd_moved(uuid,text),
  public.fn_record_gate_result(uuid,text,jsonb,text,integer,integer),
  public.fn_record_unknown_input(text,text,text,text),
  public.fn_release_sd(text,text),
  public.fn_resolve_sd(text),
  public.fn_retry_handoff_request(uuid),
  public.fn_run_sweep(text),
  public.fn_run_sweeps(),
  public.fn_schedule_sweeps(),
  public.fn_sd_context(strategic_directives_v2),
  public.fn_sd_lock_key(uuid),
  public.fn_sd_state(text),
  public.fn_sd_threshold(text),
  public.fn_set_validation_mode(text,text,text,boolean),
  public.fn_store_gate_result(uuid,text,jsonb,text,integer,integer,boolean),
  public.fn_sweep_breakers(),
  public.fn_sweep_cron_schedule(interval),
  public.fn_sweep_expired_claims(),
  public.fn_sweep_handoff_responses(),
  public.fn_sweep_transition_notifications(int),
  public.fn_troubled_breakers(text[]),
  public.fn_sweep_idempotency(interval),
  public.fn_sweep_stuck_attempts(interval),
  public.idempotency_check_fingerprint(text),
  public.idempotency_check_key(text,text),
  public.metrics_histogram(integer[],integer[]),
  public.normalize_handoff_type(text),
  public.normalize_stage(text),
  public.normalize_stage_name(text,text),
  public.parse_stage_distribution(jsonb),
  public.stage_edit_distance(text,text,integer),
  public.stage_suggestions(text,text),
  public.tg__set_updated_at(),
  public.tg_handoff_requests__dispatch(),
  public.tg_handoff_requests__freeze(),
  public.tg_leo_sub_agents__check_dag(),
  public.tg_product_requirements_v2__guard(),
  public.tg_strategic_directives_v2__guard(),
  public.tg_sub_agent_breakers__record_transition(),
  public.tg_threshold_profiles__audit(),
  public.tg_user_stories__guard(),
  public.tg_validation_modes__audit(),
  public.tg_validation_modes__stamp()
  cascade;

-- People (20261201060000..): the private helpers' schema goes whole. auth.users is the bootstrap's
-- (or Supabase Auth's) and stays.
drop schema if exists stagegate_private cascade;
