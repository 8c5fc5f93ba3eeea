// Every RPC someone is told to call — by the edge functions and the local stack, by the runbook
// (docs/), or a SQL user by the README — with the identity signatures they expect. The health
// function's pre-flight probe compares this list with pg_proc, so a missing or changed migration
// is reported by name before any request depends on it (stage-normalization memo: "pre-flight DB
// probe"). Keep in step with supabase/schemas/: tests/db/rpc-contract.test.ts derives the names
// from those texts and checks the signatures against the migrated database, so the list cannot
// drift from either.
export interface RpcSignature { name: string; args: string }

export const REQUIRED_RPCS: readonly RpcSignature[] = [
  { name: 'fn_begin_handoff', args: 'p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_expected_version integer, p_dry_run boolean' },
  { name: 'fn_finish_dry_run', args: 'p_attempt_id uuid, p_expected_version integer' },
  { name: 'fn_record_gate_result', args: 'p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text, p_duration_ms integer, p_attempts integer' },
  { name: 'fn_evaluate_sql_gate', args: 'p_attempt_id uuid, p_gate_code text' },
  { name: 'fn_complete_handoff', args: 'p_attempt_id uuid, p_expected_version integer' },
  { name: 'fn_execute_handoff', args: 'p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_gate_results jsonb' },
  { name: 'fn_breaker_acquire', args: 'p_code text, p_probe_lease_ms integer' },
  { name: 'fn_breaker_record', args: 'p_code text, p_success boolean, p_error text, p_attempt_id uuid' },
  { name: 'fn_breaker_reset', args: 'p_code text, p_reason text' },
  { name: 'fn_idempotency_begin', args: 'p_scope text, p_key text, p_fingerprint text, p_lease_ms integer' },
  { name: 'fn_idempotency_complete', args: 'p_scope text, p_key text, p_fingerprint text, p_status integer, p_body jsonb' },
  { name: 'fn_idempotency_abandon', args: 'p_scope text, p_key text' },
  { name: 'fn_get_validation_mode', args: 'p_sd_type text' },
  { name: 'fn_set_validation_mode', args: 'p_scope text, p_mode text, p_reason text, p_force boolean' },
  { name: 'fn_demote_validation_mode', args: 'p_scope text, p_reason text' },
  { name: 'fn_promotion_gate', args: 'p_scope text' },
  { name: 'fn_record_unknown_input', args: 'p_kind text, p_input text, p_sd_type text, p_source text, p_caller text, p_sd_id text, p_require_sd boolean' },
  { name: 'fn_claim_webhook_id', args: 'p_id text, p_timestamp timestamp with time zone' },
  { name: 'fn_purge_webhook_ids', args: '' },
  { name: 'fn_troubled_breakers', args: 'p_codes text[]' },
  // The seeds' stage normaliser and atomic transitions (the seed runbook's pre-flight probe).
  { name: 'normalize_stage', args: 'p_input text' },
  { name: 'fn_atomic_lead_to_plan_transition', args: 'p_sd_id text, p_prd_id text, p_session_id text, p_request_id text' },
  { name: 'fn_atomic_plan_to_exec_transition', args: 'p_sd_id text, p_prd_id text, p_session_id text, p_request_id text' },
  { name: 'fn_atomic_exec_to_plan_transition', args: 'p_sd_id text, p_prd_id text, p_session_id text, p_request_id text' },
  { name: 'fn_atomic_plan_to_lead_transition', args: 'p_sd_id text, p_prd_id text, p_session_id text, p_request_id text' },
  // Operations: the runbook's checks and sweeps, the metrics function, the requests consumer.
  { name: 'fn_check_invariants', args: 'p_since timestamp with time zone' },
  { name: 'fn_metrics_snapshot', args: '' },
  // History at scale (#18): counters, retention, the audit trail's monthly partitions.
  { name: 'fn_metrics_recount', args: '' },
  { name: 'fn_metrics_rebuild_counters', args: '' },
  { name: 'fn_sweep_retention', args: '' },
  { name: 'fn_sweep_partitions', args: '' },
  { name: 'fn_ensure_history_partitions', args: 'p_from date, p_to date' },
  { name: 'fn_detach_history_month', args: 'p_month date' },
  { name: 'fn_attach_history_month', args: 'p_month date' },
  { name: 'fn_run_sweep', args: 'p_name text' },
  { name: 'fn_run_sweeps', args: '' },
  { name: 'fn_schedule_sweeps', args: '' },
  { name: 'fn_sweep_scheduler', args: '' },
  { name: 'fn_claim_handoff_request', args: 'p_worker text, p_lease interval, p_limit integer' },
  { name: 'fn_finish_handoff_request', args: 'p_id uuid, p_http_status integer, p_body jsonb' },
  { name: 'fn_retry_handoff_request', args: 'p_id uuid' },
  // Approval gates and overrides: the handoff function's decision and override endpoints, and the
  // local approval webhook relay.
  { name: 'fn_decide_approval', args: 'p_attempt_id uuid, p_decision text, p_comment text' },
  { name: 'fn_override_handoff', args: 'p_attempt_id uuid, p_reason text' },
  { name: 'fn_claim_approval_webhooks', args: 'p_limit integer, p_lease_seconds integer' },
  { name: 'fn_record_approval_webhook', args: 'p_event_id bigint, p_ok boolean, p_status integer, p_error text, p_max_attempts integer' },
  // the directives API (supabase/functions/directives)
  { name: 'fn_workflow', args: '' },
  { name: 'fn_list_directives', args: 'p_filter jsonb, p_limit integer' },
  { name: 'fn_directive_history', args: 'p_sd text' },
  { name: 'fn_create_directive', args: 'p_directive jsonb' },
  { name: 'fn_update_directive', args: 'p_sd text, p_patch jsonb' },
];

export interface ProbeRow { name: string; args: string }

/** Names each required RPC that is absent, or present with other arguments. */
export function missingRpcs(found: readonly ProbeRow[], required: readonly RpcSignature[] = REQUIRED_RPCS): string[] {
  const normalise = (args: string) => args.replace(/\s+/g, ' ').replace(/ DEFAULT [^,]+/gi, '').trim();
  const present = new Set(found.map((r) => `${r.name}(${normalise(r.args)})`));
  return required.filter((r) => !present.has(`${r.name}(${normalise(r.args)})`)).map((r) => `public.${r.name}(${r.args})`);
}
