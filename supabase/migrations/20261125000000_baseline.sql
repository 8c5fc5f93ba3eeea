SET local check_function_bodies = off;

CREATE TABLE "public"."gate_skip_rules" (
  "id"             bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
  "applies_to"     text   NOT NULL,
  "validator_code" text   NOT NULL,
  "reason_code"    text   NOT NULL,
  "note"           text   NOT NULL DEFAULT ''::text,
  CONSTRAINT "gate_skip_rules_applies_to_validator_code_key" UNIQUE (applies_to, validator_code),
  CONSTRAINT "gate_skip_rules_pkey" PRIMARY KEY (id),
  CONSTRAINT "gate_skip_rules_reason_code_check" CHECK ((reason_code = ANY (ARRAY['NON_APPLICABLE_SD_TYPE'::text, 'LIGHTWEIGHT_SD_TYPE'::text]))),
  CONSTRAINT "gate_skip_rules_validator_code_check" CHECK ((validator_code ~ '^[A-Z][A-Z0-9_]*$'::text))
);

ALTER TABLE "public"."gate_skip_rules"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."handoff_attempts" (
  "id"           uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "request_id"   text                     NOT NULL,
  "sd_id"        text                     NOT NULL,
  "sd_uuid"      uuid                     NOT NULL,
  "sd_type"      text                     NOT NULL,
  "handoff_type" text                     NOT NULL,
  "session_id"   text                     NOT NULL,
  "status"       text                     NOT NULL DEFAULT 'in_progress'::text,
  "from_phase"   text                     NOT NULL,
  "to_phase"     text                     NOT NULL,
  "sd_version"   integer                  NOT NULL,
  "context"      jsonb                    NOT NULL,
  "gates"        jsonb                    NOT NULL,
  "result"       jsonb,
  "audit_id"     uuid,
  "started_at"   timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "finished_at"  timestamp with time zone,
  CONSTRAINT "handoff_attempts_check" CHECK (((status = 'in_progress'::text) = (finished_at IS NULL))),
  CONSTRAINT "handoff_attempts_pkey" PRIMARY KEY (id),
  CONSTRAINT "handoff_attempts_request_id_check" CHECK (((length(request_id) >= 1) AND (length(request_id) <= 200))),
  CONSTRAINT "handoff_attempts_request_id_key" UNIQUE (request_id),
  CONSTRAINT "handoff_attempts_status_check" CHECK ((status = ANY (ARRAY['in_progress'::text, 'completed'::text, 'rejected'::text, 'failed'::text, 'abandoned'::text])))
);

ALTER TABLE "public"."handoff_attempts"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."handoff_request_dispatch" (
  "id"                 boolean                  NOT NULL DEFAULT true,
  "functions_url"      text                     NOT NULL,
  "service_key_secret" text                     NOT NULL DEFAULT 'stagegate_service_role_key'::text,
  "timeout_ms"         integer                  NOT NULL DEFAULT 120000,
  "enabled"            boolean                  NOT NULL DEFAULT true,
  "updated_at"         timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "handoff_request_dispatch_functions_url_check" CHECK ((functions_url ~ '^https?://[^ ]+/functions/v1$'::text)),
  CONSTRAINT "handoff_request_dispatch_id_check" CHECK (id),
  CONSTRAINT "handoff_request_dispatch_pkey" PRIMARY KEY (id),
  CONSTRAINT "handoff_request_dispatch_timeout_ms_check" CHECK (((timeout_ms >= 1000) AND (timeout_ms <= 600000)))
);

ALTER TABLE "public"."handoff_request_dispatch"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."handoff_requests" (
  "id"             uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "sd_id"          text                     NOT NULL,
  "handoff_type"   text                     NOT NULL,
  "session_id"     text                     NOT NULL,
  "status"         text                     NOT NULL DEFAULT 'pending'::text,
  "verdict"        jsonb,
  "error"          jsonb,
  "attempts"       integer                  NOT NULL DEFAULT 0,
  "max_attempts"   integer                  NOT NULL DEFAULT 5,
  "created_at"     timestamp with time zone NOT NULL DEFAULT now(),
  "started_at"     timestamp with time zone,
  "finished_at"    timestamp with time zone,
  "run_after"      timestamp with time zone NOT NULL DEFAULT now(),
  "locked_until"   timestamp with time zone,
  "locked_by"      text,
  "net_request_id" bigint,
  "requested_by"   text                     NOT NULL DEFAULT CURRENT_USER,
  CONSTRAINT "handoff_requests_attempts_check" CHECK ((attempts >= 0)),
  CONSTRAINT "handoff_requests_check1" CHECK (((status <> 'done'::text) OR (verdict IS NOT NULL))),
  CONSTRAINT "handoff_requests_check2" CHECK (((status <> 'error'::text) OR (error IS NOT NULL))),
  CONSTRAINT "handoff_requests_check3" CHECK (((status = 'running'::text) = (locked_until IS NOT NULL))),
  CONSTRAINT "handoff_requests_check" CHECK (((status = ANY (ARRAY['done'::text, 'error'::text])) = (finished_at IS NOT NULL))),
  CONSTRAINT "handoff_requests_handoff_type_check" CHECK (((length(handoff_type) >= 1) AND (length(handoff_type) <= 100))),
  CONSTRAINT "handoff_requests_max_attempts_check" CHECK (((max_attempts >= 1) AND (max_attempts <= 100))),
  CONSTRAINT "handoff_requests_pkey" PRIMARY KEY (id),
  CONSTRAINT "handoff_requests_sd_id_check" CHECK (((length(sd_id) >= 1) AND (length(sd_id) <= 100))),
  CONSTRAINT "handoff_requests_session_id_check" CHECK (((length(session_id) >= 1) AND (length(session_id) <= 200))),
  CONSTRAINT "handoff_requests_status_check" CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'done'::text, 'error'::text])))
);

ALTER TABLE "public"."handoff_requests"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."handoff_types" (
  "code"         text   NOT NULL,
  "from_phases"  text[] NOT NULL,
  "to_phase"     text   NOT NULL,
  "sd_status"    text,
  "prd_status"   text,
  "story_status" text,
  "description"  text   NOT NULL DEFAULT ''::text,
  CONSTRAINT "handoff_types_code_check" CHECK ((code ~ '^[A-Z]+(-[A-Z]+)+$'::text)),
  CONSTRAINT "handoff_types_from_phases_check" CHECK ((cardinality(from_phases) > 0)),
  CONSTRAINT "handoff_types_pkey" PRIMARY KEY (code)
);

ALTER TABLE "public"."handoff_types"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."http_idempotency_keys" (
  "scope"           text                     NOT NULL,
  "key"             text                     NOT NULL,
  "fingerprint"     text                     NOT NULL,
  "status"          text                     NOT NULL DEFAULT 'in_flight'::text,
  "response_status" integer,
  "response_body"   jsonb,
  "locked_until"    timestamp with time zone,
  "created_at"      timestamp with time zone NOT NULL DEFAULT now(),
  "completed_at"    timestamp with time zone,
  "hits"            integer                  NOT NULL DEFAULT 0,
  "last_hit_at"     timestamp with time zone,
  CONSTRAINT "http_idempotency_keys_check" CHECK ((((status = 'in_flight'::text) AND (locked_until IS
    NOT NULL) AND (completed_at IS NULL)) OR ((status = 'completed'::text) AND (locked_until IS NULL) AND (completed_at IS NOT NULL) AND (response_status IS NOT NULL)))),
  CONSTRAINT "http_idempotency_keys_fingerprint_check" CHECK ((fingerprint ~ '^[0-9a-f]{64}$'::text)),
  CONSTRAINT "http_idempotency_keys_hits_check" CHECK ((hits >= 0)),
  CONSTRAINT "http_idempotency_keys_key_check" CHECK (((length(key) >= 1) AND (length(key) <= 255) AND (key ~ '^[ -~]+$'::text))),
  CONSTRAINT "http_idempotency_keys_pkey" PRIMARY KEY (scope, key),
  CONSTRAINT "http_idempotency_keys_response_status_check" CHECK (((response_status >= 100) AND (response_status <= 599))),
  CONSTRAINT "http_idempotency_keys_scope_check" CHECK (((length(scope) >= 1) AND (length(scope) <= 255) AND (scope ~ '^[ -~]+$'::text))),
  CONSTRAINT "http_idempotency_keys_status_check" CHECK ((status = ANY (ARRAY['in_flight'::text, 'completed'::text])))
);

ALTER TABLE "public"."http_idempotency_keys"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."leo_sub_agents" (
  "code"          text                     NOT NULL,
  "name"          text                     NOT NULL DEFAULT ''::text,
  "kind"          text                     NOT NULL,
  "target"        text                     NOT NULL,
  "depends_on"    text[]                   NOT NULL DEFAULT '{}'::text[],
  "timeout_ms"    integer                  NOT NULL DEFAULT 60000,
  "max_retries"   integer                  NOT NULL DEFAULT 2,
  "weight"        numeric                  NOT NULL DEFAULT 1,
  "required"      boolean                  NOT NULL DEFAULT true,
  "handoff_types" text[]                   NOT NULL DEFAULT '{}'::text[],
  "sd_types"      text[]                   NOT NULL DEFAULT '{}'::text[],
  "active"        boolean                  NOT NULL DEFAULT true,
  "created_at"    timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"    timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "leo_sub_agents_check1" CHECK (((kind <> 'http'::text) OR (target ~ '^https?://'::text))),
  CONSTRAINT "leo_sub_agents_check2" CHECK ((NOT (code = ANY (depends_on)))),
  CONSTRAINT "leo_sub_agents_check" CHECK (((kind <> 'sql'::text) OR (target ~ '^public\.fn_gate_[a-z0-9_]+$'::text))),
  CONSTRAINT "leo_sub_agents_code_check" CHECK ((code ~ '^[A-Z][A-Z0-9_]{0,63}$'::text)),
  CONSTRAINT "leo_sub_agents_kind_check" CHECK ((kind = ANY (ARRAY['sql'::text, 'http'::text, 'builtin'::text]))),
  CONSTRAINT "leo_sub_agents_max_retries_check" CHECK (((max_retries >= 0) AND (max_retries <= 10))),
  CONSTRAINT "leo_sub_agents_pkey" PRIMARY KEY (code),
  CONSTRAINT "leo_sub_agents_target_check" CHECK (((length(target) >= 1) AND (length(target) <= 500))),
  CONSTRAINT "leo_sub_agents_timeout_ms_check" CHECK (((timeout_ms >= 1) AND (timeout_ms <= 3600000))),
  CONSTRAINT "leo_sub_agents_weight_check" CHECK ((weight > (0)::numeric))
);

ALTER TABLE "public"."leo_sub_agents"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."ops_webhook_ids" (
  "id"          text                     NOT NULL,
  "webhook_ts"  timestamp with time zone NOT NULL,
  "received_at" timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "ops_webhook_ids_id_check" CHECK (((length(id) >= 1) AND (length(id) <= 255) AND (id ~ '^[ -~]+$'::text))),
  CONSTRAINT "ops_webhook_ids_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."ops_webhook_ids"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."product_requirements_v2" (
  "id"                      text                     NOT NULL,
  "sd_id"                   text                     NOT NULL,
  "title"                   text                     NOT NULL,
  "executive_summary"       text,
  "functional_requirements" jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "acceptance_criteria"     jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "test_scenarios"          jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "status"                  text                     NOT NULL DEFAULT 'draft'::text,
  "created_at"              timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"              timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "product_requirements_v2_acceptance_criteria_check" CHECK ((jsonb_typeof(acceptance_criteria) = 'array'::text)),
  CONSTRAINT "product_requirements_v2_functional_requirements_check" CHECK ((jsonb_typeof(functional_requirements) = 'array'::text)),
  CONSTRAINT "product_requirements_v2_id_check" CHECK (((length(id) >= 1) AND (length(id) <= 100))),
  CONSTRAINT "product_requirements_v2_pkey" PRIMARY KEY (id),
  CONSTRAINT "product_requirements_v2_sd_id_key" UNIQUE (sd_id),
  CONSTRAINT "product_requirements_v2_status_check"
    CHECK ((status = ANY (ARRAY['draft'::text, 'approved'::text, 'in_progress'::text, 'verification'::text, 'completed'::text, 'rejected'::text]))),
  CONSTRAINT "product_requirements_v2_test_scenarios_check" CHECK ((jsonb_typeof(test_scenarios) = 'array'::text)),
  CONSTRAINT "product_requirements_v2_title_check" CHECK (((length(btrim(title)) >= 1) AND (length(btrim(title)) <= 500)))
);

ALTER TABLE "public"."product_requirements_v2"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sd_claims" (
  "sd_id"      text                     NOT NULL,
  "session_id" text                     NOT NULL,
  "claimed_at" timestamp with time zone NOT NULL DEFAULT now(),
  "renewed_at" timestamp with time zone NOT NULL DEFAULT now(),
  "expires_at" timestamp with time zone NOT NULL,
  CONSTRAINT "sd_claims_pkey" PRIMARY KEY (sd_id),
  CONSTRAINT "sd_claims_session_id_check" CHECK (((length(session_id) >= 1) AND (length(session_id) <= 200)))
);

ALTER TABLE "public"."sd_claims"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sd_phase_handoffs" (
  "id"                uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "attempt_id"        uuid                     NOT NULL,
  "sd_id"             text                     NOT NULL,
  "sd_uuid"           uuid                     NOT NULL,
  "handoff_type"      text                     NOT NULL,
  "from_phase"        text                     NOT NULL,
  "to_phase"          text                     NOT NULL,
  "status"            text                     NOT NULL,
  "score"             numeric,
  "threshold"         numeric,
  "validation_mode"   text,
  "failed_gate"       text,
  "session_id"        text,
  "execution_time_ms" integer,
  "created_at"        timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sd_phase_handoffs_attempt_id_key" UNIQUE (attempt_id),
  CONSTRAINT "sd_phase_handoffs_pkey" PRIMARY KEY (id),
  CONSTRAINT "sd_phase_handoffs_status_check" CHECK ((status = ANY (ARRAY['accepted'::text, 'rejected'::text, 'failed'::text])))
);

ALTER TABLE "public"."sd_phase_handoffs"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sd_phases" (
  "phase"       text    NOT NULL,
  "ordinal"     integer NOT NULL,
  "description" text    NOT NULL DEFAULT ''::text,
  CONSTRAINT "sd_phases_ordinal_key" UNIQUE (ordinal),
  CONSTRAINT "sd_phases_phase_check" CHECK ((phase ~ '^[A-Z][A-Z_]*$'::text)),
  CONSTRAINT "sd_phases_pkey" PRIMARY KEY (phase)
);

ALTER TABLE "public"."sd_phases"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sd_transition_audit" (
  "id"              uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "sd_id"           text                     NOT NULL,
  "sd_uuid"         uuid,
  "transition_type" text                     NOT NULL,
  "session_id"      text,
  "request_id"      text,
  "attempt_id"      uuid,
  "pre_state"       jsonb,
  "post_state"      jsonb,
  "status"          text                     NOT NULL DEFAULT 'in_progress'::text,
  "error_details"   jsonb,
  "error_message"   text,
  "validation_mode" text,
  "score"           numeric,
  "threshold"       numeric,
  "failed_gate"     text,
  "would_reject"    boolean                  NOT NULL DEFAULT false,
  "started_at"      timestamp with time zone NOT NULL DEFAULT now(),
  "completed_at"    timestamp with time zone,
  "created_at"      timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"      timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sd_transition_audit_attempt_id_key" UNIQUE (attempt_id),
  CONSTRAINT "sd_transition_audit_pkey" PRIMARY KEY (id),
  CONSTRAINT "sd_transition_audit_status_check" CHECK ((status = ANY (ARRAY['in_progress'::text, 'completed'::text, 'rejected'::text, 'failed'::text, 'abandoned'::text])))
);

ALTER TABLE "public"."sd_transition_audit"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sd_type_classes" (
  "class_name" text NOT NULL,
  "sd_type"    text NOT NULL,
  CONSTRAINT "sd_type_classes_class_name_check" CHECK ((class_name ~ '^[a-z][a-z0-9_]*$'::text)),
  CONSTRAINT "sd_type_classes_pkey" PRIMARY KEY (class_name, sd_type)
);

ALTER TABLE "public"."sd_type_classes"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."stage_backfill_checkpoints" (
  "run_id"         text                     NOT NULL,
  "target"         text                     NOT NULL,
  "last_key"       text,
  "batches"        integer                  NOT NULL DEFAULT 0,
  "rows_scanned"   bigint                   NOT NULL DEFAULT 0,
  "rows_updated"   bigint                   NOT NULL DEFAULT 0,
  "unknown_values" bigint                   NOT NULL DEFAULT 0,
  "done"           boolean                  NOT NULL DEFAULT false,
  "started_at"     timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"     timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "stage_backfill_checkpoints_pkey" PRIMARY KEY (run_id, target),
  CONSTRAINT "stage_backfill_checkpoints_run_id_check" CHECK (((length(run_id) >= 1) AND (length(run_id) <= 100)))
);

ALTER TABLE "public"."stage_backfill_checkpoints"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."stage_backfill_log" (
  "id"          bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "run_id"      text                     NOT NULL,
  "target"      text                     NOT NULL,
  "row_key"     text                     NOT NULL,
  "column_name" text                     NOT NULL,
  "old_value"   text,
  "new_value"   text,
  "outcome"     text                     NOT NULL,
  "logged_at"   timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "stage_backfill_log_outcome_check" CHECK ((outcome = ANY (ARRAY['updated'::text, 'unknown'::text]))),
  CONSTRAINT "stage_backfill_log_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."stage_backfill_log"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."stage_synonyms" (
  "kind"      text    NOT NULL,
  "alias"     text    NOT NULL,
  "canonical" text    NOT NULL,
  "suggest"   boolean NOT NULL,
  CONSTRAINT "stage_synonyms_alias_check" CHECK ((alias ~ '^[A-Z0-9]{1,200}$'::text)),
  CONSTRAINT "stage_synonyms_pkey" PRIMARY KEY (kind, alias)
);

ALTER TABLE "public"."stage_synonyms"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."stage_vocabulary" (
  "kind"     text    NOT NULL,
  "value"    text    NOT NULL,
  "position" integer NOT NULL,
  CONSTRAINT "stage_vocabulary_kind_check" CHECK ((kind = ANY (ARRAY['phase'::text, 'handoff'::text]))),
  CONSTRAINT "stage_vocabulary_kind_position_key" UNIQUE (kind, "position"),
  CONSTRAINT "stage_vocabulary_pkey" PRIMARY KEY (kind, VALUE),
  CONSTRAINT "stage_vocabulary_value_check" CHECK ((value ~ '^[A-Z]+([_-][A-Z]+)*$'::text))
);

ALTER TABLE "public"."stage_vocabulary"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."strategic_directives_v2" (
  "id"                 text                     NOT NULL,
  "uuid"               uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "title"              text                     NOT NULL,
  "description"        text,
  "scope"              text,
  "success_criteria"   jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "sd_type"            text                     NOT NULL DEFAULT 'feature'::text,
  "status"             text                     NOT NULL DEFAULT 'draft'::text,
  "current_phase"      text                     NOT NULL DEFAULT 'LEAD'::text,
  "priority"           text                     NOT NULL DEFAULT 'medium'::text,
  "transition_version" integer                  NOT NULL DEFAULT 0,
  "metadata"           jsonb                    NOT NULL DEFAULT '{}'::jsonb,
  "created_at"         timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"         timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "strategic_directives_v2_id_check" CHECK (((id ~ '^SD-[A-Z0-9]+(-[A-Z0-9]+)*$'::text) AND (length(id) <= 100))),
  CONSTRAINT "strategic_directives_v2_metadata_check" CHECK ((jsonb_typeof(metadata) = 'object'::text)),
  CONSTRAINT "strategic_directives_v2_pkey" PRIMARY KEY (id),
  CONSTRAINT "strategic_directives_v2_priority_check" CHECK ((priority = ANY (ARRAY['critical'::text, 'high'::text, 'medium'::text, 'low'::text]))),
  CONSTRAINT "strategic_directives_v2_status_check"
    CHECK ((status = ANY (ARRAY['draft'::text, 'active'::text, 'in_progress'::text, 'pending_approval'::text, 'completed'::text, 'cancelled'::text]))),
  CONSTRAINT "strategic_directives_v2_success_criteria_check" CHECK ((jsonb_typeof(success_criteria) = 'array'::text)),
  CONSTRAINT "strategic_directives_v2_title_check" CHECK (((length(btrim(title)) >= 1) AND (length(btrim(title)) <= 500))),
  CONSTRAINT "strategic_directives_v2_transition_version_check" CHECK ((transition_version >= 0)),
  CONSTRAINT "strategic_directives_v2_uuid_key" UNIQUE (uuid)
);

ALTER TABLE "public"."strategic_directives_v2"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sub_agent_breaker_events" (
  "id"                   bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "sub_agent_code"       text                     NOT NULL,
  "from_state"           text                     NOT NULL,
  "to_state"             text                     NOT NULL,
  "reason"               text                     NOT NULL,
  "consecutive_failures" integer                  NOT NULL,
  "last_error"           text,
  "at"                   timestamp with time zone NOT NULL DEFAULT now(),
  "actor"                text                     NOT NULL,
  "actor_uid"            uuid,
  CONSTRAINT "sub_agent_breaker_events_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."sub_agent_breaker_events"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sub_agent_breakers" (
  "sub_agent_code"        text                     NOT NULL,
  "state"                 text                     NOT NULL DEFAULT 'closed'::text,
  "consecutive_failures"  integer                  NOT NULL DEFAULT 0,
  "consecutive_successes" integer                  NOT NULL DEFAULT 0,
  "opened_at"             timestamp with time zone,
  "half_open_probe_until" timestamp with time zone,
  "failure_threshold"     integer                  NOT NULL DEFAULT 5,
  "success_threshold"     integer                  NOT NULL DEFAULT 2,
  "reset_ms"              integer                  NOT NULL DEFAULT 60000,
  "last_error"            text,
  "last_failure_at"       timestamp with time zone,
  "last_transition_at"    timestamp with time zone,
  "updated_at"            timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sub_agent_breakers_check1" CHECK (((state = 'half_open'::text) OR (half_open_probe_until IS NULL))),
  CONSTRAINT "sub_agent_breakers_check" CHECK (((state <> 'open'::text) OR (opened_at IS NOT NULL))),
  CONSTRAINT "sub_agent_breakers_consecutive_failures_check" CHECK ((consecutive_failures >= 0)),
  CONSTRAINT "sub_agent_breakers_consecutive_successes_check" CHECK ((consecutive_successes >= 0)),
  CONSTRAINT "sub_agent_breakers_failure_threshold_check" CHECK (((failure_threshold >= 1) AND (failure_threshold <= 1000))),
  CONSTRAINT "sub_agent_breakers_last_error_check" CHECK ((length(last_error) <= 2000)),
  CONSTRAINT "sub_agent_breakers_pkey" PRIMARY KEY (sub_agent_code),
  CONSTRAINT "sub_agent_breakers_reset_ms_check" CHECK (((reset_ms >= 1) AND (reset_ms <= 86400000))),
  CONSTRAINT "sub_agent_breakers_state_check" CHECK ((state = ANY (ARRAY['closed'::text, 'open'::text, 'half_open'::text]))),
  CONSTRAINT "sub_agent_breakers_success_threshold_check" CHECK (((success_threshold >= 1) AND (success_threshold <= 1000)))
);

ALTER TABLE "public"."sub_agent_breakers"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sub_agent_execution_results" (
  "id"              uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "attempt_id"      uuid                     NOT NULL,
  "sd_id"           text                     NOT NULL,
  "sub_agent_code"  text                     NOT NULL,
  "verdict"         text                     NOT NULL,
  "passed"          boolean                  NOT NULL,
  "score"           numeric                  NOT NULL,
  "max_score"       numeric                  NOT NULL,
  "issues"          jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "warnings"        jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "fixes"           jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "skipped"         boolean                  NOT NULL DEFAULT false,
  "skip_reason"     text,
  "error"           text,
  "attempts"        integer                  NOT NULL DEFAULT 1,
  "duration_ms"     integer,
  "idempotency_key" text,
  "hit_count"       integer                  NOT NULL DEFAULT 0,
  "metadata"        jsonb                    NOT NULL DEFAULT '{}'::jsonb,
  "created_at"      timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"      timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sub_agent_execution_results_attempt_id_sub_agent_code_key" UNIQUE (attempt_id, sub_agent_code),
  CONSTRAINT "sub_agent_execution_results_attempts_check" CHECK ((attempts >= 0)),
  CONSTRAINT "sub_agent_execution_results_check" CHECK ((score <= max_score)),
  CONSTRAINT "sub_agent_execution_results_duration_ms_check" CHECK ((duration_ms >= 0)),
  CONSTRAINT "sub_agent_execution_results_fixes_check" CHECK ((jsonb_typeof(fixes) = 'array'::text)),
  CONSTRAINT "sub_agent_execution_results_idempotency_key_check" CHECK ((length(idempotency_key) <= 200)),
  CONSTRAINT "sub_agent_execution_results_issues_check" CHECK ((jsonb_typeof(issues) = 'array'::text)),
  CONSTRAINT "sub_agent_execution_results_max_score_check" CHECK ((max_score > (0)::numeric)),
  CONSTRAINT "sub_agent_execution_results_pkey" PRIMARY KEY (id),
  CONSTRAINT "sub_agent_execution_results_score_check" CHECK ((score >= (0)::numeric)),
  CONSTRAINT "sub_agent_execution_results_verdict_check" CHECK ((verdict = ANY (ARRAY['PASS'::text, 'FAIL'::text, 'SKIPPED'::text, 'ERROR'::text]))),
  CONSTRAINT "sub_agent_execution_results_warnings_check" CHECK ((jsonb_typeof(warnings) = 'array'::text))
);

ALTER TABLE "public"."sub_agent_execution_results"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sweep_schedule" (
  "name"             text                     NOT NULL,
  "sql_function"     text                     NOT NULL,
  "interval"         interval                 NOT NULL,
  "enabled"          boolean                  NOT NULL DEFAULT true,
  "description"      text                     NOT NULL DEFAULT ''::text,
  "last_run_at"      timestamp with time zone,
  "last_duration_ms" integer,
  "last_result"      jsonb,
  "last_error"       text,
  CONSTRAINT "sweep_schedule_name_check" CHECK ((name ~ '^[a-z][a-z0-9_]{0,40}$'::text)),
  CONSTRAINT "sweep_schedule_pkey" PRIMARY KEY (name),
  CONSTRAINT "sweep_schedule_sql_function_check" CHECK ((sql_function ~ '^public\.fn_sweep_[a-z0-9_]+$'::text))
);

ALTER TABLE "public"."sweep_schedule"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."threshold_profile_audit" (
  "id"             bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "sd_type"        text                     NOT NULL,
  "operation"      text                     NOT NULL,
  "old_row"        jsonb,
  "new_row"        jsonb,
  "changed_by"     text                     NOT NULL DEFAULT CURRENT_USER,
  "changed_by_uid" uuid,
  "changed_at"     timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "threshold_profile_audit_operation_check" CHECK ((operation = ANY (ARRAY['INSERT'::text, 'UPDATE'::text, 'DELETE'::text]))),
  CONSTRAINT "threshold_profile_audit_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."threshold_profile_audit"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."threshold_profiles" (
  "sd_type"        text                     NOT NULL,
  "gate_threshold" numeric(5,2)             NOT NULL,
  "description"    text                     NOT NULL DEFAULT ''::text,
  "updated_at"     timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "threshold_profiles_gate_threshold_check" CHECK (((gate_threshold >= (0)::numeric) AND (gate_threshold <= (100)::numeric))),
  CONSTRAINT "threshold_profiles_pkey" PRIMARY KEY (sd_type),
  CONSTRAINT "threshold_profiles_sd_type_check" CHECK ((sd_type ~ '^[a-z][a-z0-9_-]{0,39}$'::text))
);

ALTER TABLE "public"."threshold_profiles"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."transition_notifications" (
  "id"         bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "payload"    jsonb                    NOT NULL,
  "created_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "transition_notifications_payload_check" CHECK ((jsonb_typeof(payload) = 'object'::text)),
  CONSTRAINT "transition_notifications_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."transition_notifications"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."unknown_inputs" (
  "id"      bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "kind"    text                     NOT NULL,
  "input"   text                     NOT NULL,
  "sd_type" text,
  "source"  text                     NOT NULL DEFAULT 'handoff'::text,
  "at"      timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "unknown_inputs_input_check" CHECK ((length(input) <= 200)),
  CONSTRAINT "unknown_inputs_kind_check" CHECK ((kind = ANY (ARRAY['handoff_type'::text, 'stage'::text, 'phase'::text]))),
  CONSTRAINT "unknown_inputs_pkey" PRIMARY KEY (id),
  CONSTRAINT "unknown_inputs_source_check" CHECK ((length(source) <= 100))
);

ALTER TABLE "public"."unknown_inputs"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."user_stories" (
  "id"                  uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "story_key"           text                     NOT NULL,
  "sd_id"               text                     NOT NULL,
  "prd_id"              text,
  "title"               text                     NOT NULL,
  "status"              text                     NOT NULL DEFAULT 'draft'::text,
  "acceptance_criteria" jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "created_at"          timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"          timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "user_stories_acceptance_criteria_check" CHECK ((jsonb_typeof(acceptance_criteria) = 'array'::text)),
  CONSTRAINT "user_stories_pkey" PRIMARY KEY (id),
  CONSTRAINT "user_stories_sd_id_story_key_key" UNIQUE (sd_id, story_key),
  CONSTRAINT "user_stories_status_check"
    CHECK ((status = ANY (ARRAY['draft'::text, 'ready'::text, 'in_progress'::text, 'done'::text, 'validated'::text, 'completed'::text, 'blocked'::text]))),
  CONSTRAINT "user_stories_story_key_check" CHECK (((length(story_key) >= 1) AND (length(story_key) <= 100))),
  CONSTRAINT "user_stories_title_check" CHECK (((length(btrim(title)) >= 1) AND (length(btrim(title)) <= 500)))
);

ALTER TABLE "public"."user_stories"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."validation_mode_changes" (
  "id"        bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "scope"     text                     NOT NULL,
  "operation" text                     NOT NULL,
  "old_mode"  text,
  "new_mode"  text,
  "actor"     text                     NOT NULL,
  "actor_uid" uuid,
  "reason"    text                     NOT NULL,
  "forced"    boolean                  NOT NULL DEFAULT false,
  "via"       text                     NOT NULL,
  "gate"      jsonb,
  "at"        timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "validation_mode_changes_new_mode_check" CHECK ((new_mode = ANY (ARRAY['OFF'::text, 'WARN'::text, 'ENFORCE'::text]))),
  CONSTRAINT "validation_mode_changes_old_mode_check" CHECK ((old_mode = ANY (ARRAY['OFF'::text, 'WARN'::text, 'ENFORCE'::text]))),
  CONSTRAINT "validation_mode_changes_operation_check" CHECK ((operation = ANY (ARRAY['INSERT'::text, 'UPDATE'::text, 'DELETE'::text]))),
  CONSTRAINT "validation_mode_changes_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."validation_mode_changes"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."validation_mode_settings" (
  "id"                    boolean                  NOT NULL DEFAULT true,
  "canary_window"         interval                 NOT NULL DEFAULT '00:30:00'::interval,
  "max_would_reject_rate" numeric                  NOT NULL DEFAULT 0.005,
  "max_unknown_rate"      numeric                  NOT NULL DEFAULT 0.005,
  "min_handoffs"          integer                  NOT NULL DEFAULT 20,
  "webhook_tolerance"     interval                 NOT NULL DEFAULT '00:05:00'::interval,
  "updated_at"            timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "validation_mode_settings_canary_window_check" CHECK (((canary_window >= '00:01:00'::interval) AND (canary_window <= '7 days'::interval))),
  CONSTRAINT "validation_mode_settings_id_check" CHECK (id),
  CONSTRAINT "validation_mode_settings_max_unknown_rate_check" CHECK (((max_unknown_rate >= (0)::numeric) AND (max_unknown_rate <= (1)::numeric))),
  CONSTRAINT "validation_mode_settings_max_would_reject_rate_check" CHECK (((max_would_reject_rate >= (0)::numeric) AND (max_would_reject_rate <= (1)::numeric))),
  CONSTRAINT "validation_mode_settings_min_handoffs_check" CHECK ((min_handoffs >= 0)),
  CONSTRAINT "validation_mode_settings_pkey" PRIMARY KEY (id),
  CONSTRAINT "validation_mode_settings_webhook_tolerance_check" CHECK (((webhook_tolerance >= '00:00:30'::interval) AND (webhook_tolerance <= '01:00:00'::interval)))
);

ALTER TABLE "public"."validation_mode_settings"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."validation_modes" (
  "scope"      text                     NOT NULL,
  "mode"       text                     NOT NULL,
  "note"       text                     NOT NULL DEFAULT ''::text,
  "updated_by" text                     NOT NULL DEFAULT CURRENT_USER,
  "updated_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "validation_modes_mode_check" CHECK ((mode = ANY (ARRAY['OFF'::text, 'WARN'::text, 'ENFORCE'::text]))),
  CONSTRAINT "validation_modes_pkey" PRIMARY KEY (scope),
  CONSTRAINT "validation_modes_scope_check" CHECK (((scope = '*'::text) OR (scope ~ '^[a-z][a-z0-9_-]{0,39}$'::text)))
);

ALTER TABLE "public"."validation_modes"
  ENABLE ROW LEVEL SECURITY;

ALTER TABLE "public"."sub_agent_execution_results"
  ADD COLUMN "execution_time" numeric GENERATED ALWAYS AS (((duration_ms)::numeric / 1000.0)) STORED;

CREATE OR REPLACE FUNCTION public.breaker_lock (
  p_code text
)
  RETURNS public.sub_agent_breakers
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.sub_agent_breakers;
begin
  if p_code is null or length(p_code) not between 1 and 64 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: sub-agent code must be 1..64 characters (got %L)', p_code);
  end if;
  if not exists (select 1 from public.leo_sub_agents a where a.code = p_code) then
    raise exception using errcode = 'SG011',
      message = format('UNKNOWN_GATE: no sub-agent %L in leo_sub_agents', p_code);
  end if;
  insert into public.sub_agent_breakers (sub_agent_code) values (p_code) on conflict do nothing;
  select * into strict v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code for update;
  return v_row;
end;
$function$;

CREATE OR REPLACE FUNCTION public.breaker_reason (
  p_reason text
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select set_config('stagegate.breaker_reason', coalesce(p_reason, ''), true);
$function$;

CREATE OR REPLACE FUNCTION public.fn_atomic_exec_to_plan_transition (
  p_sd_id      text,
  p_prd_id     text,
  p_session_id text,
  p_request_id text
)
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select public.fn_complete_by_request('EXEC-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

CREATE OR REPLACE FUNCTION public.fn_atomic_lead_to_plan_transition (
  p_sd_id      text,
  p_prd_id     text,
  p_session_id text,
  p_request_id text
)
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select public.fn_complete_by_request('LEAD-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

CREATE OR REPLACE FUNCTION public.fn_atomic_plan_to_exec_transition (
  p_sd_id      text,
  p_prd_id     text,
  p_session_id text,
  p_request_id text
)
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select public.fn_complete_by_request('PLAN-TO-EXEC', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

CREATE OR REPLACE FUNCTION public.fn_atomic_plan_to_lead_transition (
  p_sd_id      text,
  p_prd_id     text,
  p_session_id text,
  p_request_id text
)
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select public.fn_complete_by_request('PLAN-TO-LEAD', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

CREATE OR REPLACE FUNCTION public.fn_attempt_answer (
  p_attempt public.handoff_attempts,
  p_replay  boolean
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'attempt_id', p_attempt.id, 'request_id', p_attempt.request_id, 'status', p_attempt.status,
    'replay', p_replay, 'result', p_attempt.result,
    'sd_id', p_attempt.sd_id, 'sd_uuid', p_attempt.sd_uuid, 'sd_type', p_attempt.sd_type,
    'session_id', p_attempt.session_id, 'handoff_type', p_attempt.handoff_type,
    'from_phase', p_attempt.from_phase, 'to_phase', p_attempt.to_phase,
    'transition_version', p_attempt.sd_version,
    'threshold', public.fn_sd_threshold(p_attempt.sd_type),
    'validation_mode', public.fn_get_validation_mode(p_attempt.sd_type),
    'context', p_attempt.context, 'gates', p_attempt.gates)
$function$;

CREATE OR REPLACE FUNCTION public.fn_backfill_stage_batch (
  p_target text,
  p_limit  integer DEFAULT 500,
  p_run_id text    DEFAULT 'default'::text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_cp public.stage_backfill_checkpoints;
  v_keys text[];
  v_scanned int;
  v_changes jsonb;
  v_updated int := 0;
  v_unknown int := 0;
  v_prior_flag text;
begin
  -- ==== validation ===========================================================================
  if p_target is null or p_target not in ('strategic_directives_v2', 'sd_phase_handoffs', 'leo_sub_agents') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: backfill target %L is not one of strategic_directives_v2, sd_phase_handoffs, leo_sub_agents', p_target);
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: batch size %s is not between 1 and 10000', p_limit);
  end if;

  insert into public.stage_backfill_checkpoints (run_id, target) values (p_run_id, p_target)
  on conflict do nothing;
  select * into strict v_cp from public.stage_backfill_checkpoints
  where run_id = p_run_id and target = p_target
  for update;
  if v_cp.done then
    return jsonb_build_object('run_id', p_run_id, 'target', p_target, 'done', true, 'scanned', 0, 'updated', 0,
      'unknown', '[]'::jsonb, 'last_key', v_cp.last_key, 'batches', v_cp.batches,
      'totals', jsonb_build_object('scanned', v_cp.rows_scanned, 'updated', v_cp.rows_updated, 'unknown', v_cp.unknown_values));
  end if;

  -- ==== one batch per target: compute changes as rows (key, column, old, new) ================
  -- Stored names repeat a lot, so each branch normalises the batch's distinct values once.
  if p_target = 'strategic_directives_v2' then
    select coalesce(array_agg(d.id order by d.id), '{}') into v_keys
    from (select s.id from public.strategic_directives_v2 s
          where v_cp.last_key is null or s.id > v_cp.last_key
          order by s.id limit p_limit for update) d;
    -- The guard trigger refuses phase changes outside a handoff; this rename is not a handoff
    -- (no transition_version bump, no audit row) but a data repair, logged in stage_backfill_log.
    v_prior_flag := coalesce(current_setting('stagegate.in_transition', true), '');
    perform set_config('stagegate.in_transition', 'on', true);
    with batch as (
      select s.id, s.current_phase from public.strategic_directives_v2 s where s.id = any (v_keys)
    ),
    phase_map as (
      -- A phase must exist in sd_phases (foreign key): a canonical name that is not registered
      -- there stays as it is and is reported like an unknown value.
      select d.v, p.phase as n
      from (select distinct b.current_phase as v from batch b) d
      left join public.sd_phases p on p.phase = public.normalize_stage(d.v) ->> 'normalized'
    ),
    upd as (
      update public.strategic_directives_v2 s set current_phase = m.n
      from batch b join phase_map m on m.v = b.current_phase
      where s.id = b.id and m.n is not null and m.n <> b.current_phase
      returning s.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('key', b.id, 'column', 'current_phase', 'old', b.current_phase, 'new', m.n)), '[]')
    into v_changes
    from batch b join phase_map m on m.v = b.current_phase
    where m.n is distinct from b.current_phase;
    perform set_config('stagegate.in_transition', v_prior_flag, true);

  elsif p_target = 'sd_phase_handoffs' then
    select coalesce(array_agg(h.id::text order by h.id), '{}') into v_keys
    from (select s.id from public.sd_phase_handoffs s
          where v_cp.last_key is null or s.id > v_cp.last_key::uuid
          order by s.id limit p_limit for update) h;
    with batch as (
      select s.id, s.from_phase, s.to_phase, s.handoff_type
      from public.sd_phase_handoffs s where s.id = any (v_keys::uuid[])
    ),
    phase_map as (
      select d.v, public.normalize_stage(d.v) ->> 'normalized' as n
      from (select b.from_phase as v from batch b union select b.to_phase from batch b) d
    ),
    type_map as (
      select d.v, public.normalize_handoff_type(d.v) ->> 'normalized' as n
      from (select distinct b.handoff_type as v from batch b) d
    ),
    src as (
      select b.*, f.n as new_from, t.n as new_to, h.n as new_type
      from batch b
      join phase_map f on f.v = b.from_phase
      join phase_map t on t.v = b.to_phase
      join type_map h on h.v = b.handoff_type
    ),
    upd as (
      update public.sd_phase_handoffs s
      set from_phase = coalesce(src.new_from, s.from_phase),
          to_phase = coalesce(src.new_to, s.to_phase),
          handoff_type = coalesce(src.new_type, s.handoff_type)
      from src
      where s.id = src.id
        and (src.new_from <> src.from_phase or src.new_to <> src.to_phase or src.new_type <> src.handoff_type)
      returning s.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('key', src.id::text, 'column', c.col, 'old', c.old, 'new', c.new)), '[]')
    into v_changes
    from src
    cross join lateral (values ('from_phase', src.from_phase, src.new_from), ('to_phase', src.to_phase, src.new_to),
                               ('handoff_type', src.handoff_type, src.new_type)) as c (col, old, new)
    where c.new is distinct from c.old;

  else -- leo_sub_agents
    select coalesce(array_agg(a.code order by a.code), '{}') into v_keys
    from (select s.code from public.leo_sub_agents s
          where v_cp.last_key is null or s.code > v_cp.last_key
          order by s.code limit p_limit for update) a;
    -- One change row per element that is not canonical; the array keeps its order.
    select coalesce(jsonb_agg(jsonb_build_object('key', c.code, 'column', 'handoff_types[' || c.ord || ']', 'old', c.old, 'new', c.new)), '[]')
    into v_changes
    from (
      select s.code, e.ord, e.old, public.normalize_handoff_type(e.old) ->> 'normalized' as new
      from public.leo_sub_agents s
      cross join lateral unnest(s.handoff_types) with ordinality as e (old, ord)
      where s.code = any (v_keys)
    ) c
    where c.new is distinct from c.old;
    update public.leo_sub_agents s
    set handoff_types = array(
      select coalesce((select e ->> 'new' from jsonb_array_elements(v_changes) e
                       where e ->> 'key' = s.code and e ->> 'column' = 'handoff_types[' || t.ord || ']'), t.old)
      from unnest(s.handoff_types) with ordinality as t (old, ord)
      order by t.ord)
    where s.code in (select e ->> 'key' from jsonb_array_elements(v_changes) e where e ->> 'new' is not null);
  end if;

  -- ==== log, checkpoint, answer ===============================================================
  insert into public.stage_backfill_log (run_id, target, row_key, column_name, old_value, new_value, outcome)
  select p_run_id, p_target, e ->> 'key', e ->> 'column', e ->> 'old', e ->> 'new',
         case when e ->> 'new' is null then 'unknown' else 'updated' end
  from jsonb_array_elements(v_changes) e;
  select count(*) filter (where e ->> 'new' is not null), count(*) filter (where e ->> 'new' is null)
  into v_updated, v_unknown
  from jsonb_array_elements(v_changes) e;

  v_scanned := cardinality(v_keys);
  update public.stage_backfill_checkpoints
  set last_key = coalesce(v_keys[v_scanned], last_key),
      batches = batches + case when v_scanned > 0 then 1 else 0 end,
      rows_scanned = rows_scanned + v_scanned,
      rows_updated = rows_updated + v_updated,
      unknown_values = unknown_values + v_unknown,
      done = v_scanned < p_limit,
      updated_at = now()
  where run_id = p_run_id and target = p_target
  returning * into v_cp;

  return jsonb_build_object('run_id', p_run_id, 'target', p_target, 'done', v_cp.done, 'scanned', v_scanned,
    'updated', v_updated,
    'unknown', coalesce((select jsonb_agg(e - 'new') from jsonb_array_elements(v_changes) e where e ->> 'new' is null), '[]'),
    'last_key', v_cp.last_key, 'batches', v_cp.batches,
    'totals', jsonb_build_object('scanned', v_cp.rows_scanned, 'updated', v_cp.rows_updated, 'unknown', v_cp.unknown_values));
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_begin_handoff (
  p_sd_id            text,
  p_handoff_type     text,
  p_session_id       text,
  p_request_id       text,
  p_expected_version integer DEFAULT NULL::integer
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_type_code text := public.fn_normalise_handoff_type(p_handoff_type);
  v_type public.handoff_types;
  v_sd public.strategic_directives_v2;
  v_attempt public.handoff_attempts;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;

  -- ---------------------------------------------------------------- replay
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    return public.fn_attempt_answer(v_attempt, true);
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if not v_sd.current_phase = any (v_type.from_phases) then
    raise exception using errcode = 'SG004',
      message = format('WRONG_PHASE: %s needs strategic directive %L in %s, it is in %s',
                       v_type.code, v_sd.id, array_to_string(v_type.from_phases, ' or '), v_sd.current_phase);
  end if;
  perform public.fn_claim_sd(v_sd.id, p_session_id);

  -- ---------------------------------------------------------------- open the attempt
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type))
  on conflict (request_id) do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
    return public.fn_attempt_answer(v_attempt, true);
  end if;
  return public.fn_attempt_answer(v_attempt, false);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_breaker_acquire (
  p_code           text,
  p_probe_lease_ms integer DEFAULT 60000
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.sub_agent_breakers;
begin
  if p_probe_lease_ms is null or p_probe_lease_ms not between 1 and 3600000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_probe_lease_ms must be between 1 and 3600000 (got %s)', p_probe_lease_ms);
  end if;

  -- Fast path, no lock and no write: a closed breaker admits everyone.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  if v_row.state = 'open' then
    if now() < v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0) then
      return jsonb_build_object('allowed', false, 'state', 'open',
        'retry_at', v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0));
    end if;
    -- Reset time elapsed: this caller becomes the single half-open probe.
    perform public.breaker_reason('reset timeout elapsed');
    update public.sub_agent_breakers b
      set state = 'half_open', consecutive_failures = 0, consecutive_successes = 0,
          half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
      where b.sub_agent_code = p_code;
    perform public.breaker_reason(null);
    return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
  end if;

  -- half_open: admit a probe only when none holds a live lease (a crashed probe's lease expires).
  if v_row.half_open_probe_until is not null and v_row.half_open_probe_until > now() then
    return jsonb_build_object('allowed', false, 'state', 'half_open',
      'retry_at', v_row.half_open_probe_until);
  end if;
  update public.sub_agent_breakers b
    set half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
    where b.sub_agent_code = p_code;
  return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_breaker_record (
  p_code    text,
  p_success boolean,
  p_error   text    DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.sub_agent_breakers;
  v_error text := left(p_error, 2000);
begin
  if p_success is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_success is required';
  end if;

  -- Fast path, no lock and no write: the common case of a success on a healthy closed breaker.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and p_success and v_row.state = 'closed' and v_row.consecutive_failures = 0 then
    return jsonb_build_object('state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    if p_success then
      update public.sub_agent_breakers b set consecutive_failures = 0 where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed');
    end if;
    if v_row.consecutive_failures + 1 < v_row.failure_threshold then
      update public.sub_agent_breakers b
        set consecutive_failures = v_row.consecutive_failures + 1, last_error = v_error, last_failure_at = now()
        where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed', 'consecutive_failures', v_row.consecutive_failures + 1);
    end if;
    perform public.breaker_reason(format('%s consecutive failures', v_row.consecutive_failures + 1));
    update public.sub_agent_breakers b
      set state = 'open', opened_at = now(), consecutive_failures = v_row.consecutive_failures + 1,
          consecutive_successes = 0, last_error = v_error, last_failure_at = now()
      where b.sub_agent_code = p_code;
    perform public.breaker_reason(null);
    return jsonb_build_object('state', 'open');
  end if;

  if v_row.state = 'half_open' then
    if not p_success then
      perform public.breaker_reason('failure while half-open');
      update public.sub_agent_breakers b
        set state = 'open', opened_at = now(), consecutive_failures = 0, consecutive_successes = 0,
            half_open_probe_until = null, last_error = v_error, last_failure_at = now()
        where b.sub_agent_code = p_code;
      perform public.breaker_reason(null);
      return jsonb_build_object('state', 'open');
    end if;
    if v_row.consecutive_successes + 1 >= v_row.success_threshold then
      perform public.breaker_reason(format('%s successes while half-open', v_row.consecutive_successes + 1));
      update public.sub_agent_breakers b
        set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
            half_open_probe_until = null
        where b.sub_agent_code = p_code;
      perform public.breaker_reason(null);
      return jsonb_build_object('state', 'closed');
    end if;
    -- Not yet enough: release the probe lease so the next probe may go.
    update public.sub_agent_breakers b
      set consecutive_successes = v_row.consecutive_successes + 1, half_open_probe_until = null
      where b.sub_agent_code = p_code;
    return jsonb_build_object('state', 'half_open', 'consecutive_successes', v_row.consecutive_successes + 1);
  end if;

  -- open: the call was admitted before the breaker opened; its outcome changes nothing.
  return jsonb_build_object('state', 'open');
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_breaker_reset (
  p_code   text,
  p_reason text DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.sub_agent_breakers := public.breaker_lock(p_code);
begin
  perform public.breaker_reason('manual reset' || coalesce(': ' || left(nullif(btrim(p_reason), ''), 500), ''));
  update public.sub_agent_breakers b
    set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
        half_open_probe_until = null
    where b.sub_agent_code = p_code;
  perform public.breaker_reason(null);
  return jsonb_build_object('state', 'closed', 'previous_state', v_row.state, 'changed', v_row.state <> 'closed');
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_breaker_sweep()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  perform public.breaker_reason('reset timeout elapsed (sweep)');
  -- skip locked: a breaker an RPC holds right now is being decided by that RPC.
  update public.sub_agent_breakers b
    set state = 'half_open', consecutive_failures = 0, consecutive_successes = 0, half_open_probe_until = null
    where b.sub_agent_code in (
      select o.sub_agent_code from public.sub_agent_breakers o
      where o.state = 'open' and now() >= o.opened_at + make_interval(secs => o.reset_ms / 1000.0)
      for update skip locked);
  get diagnostics v_count = row_count;
  perform public.breaker_reason(null);
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_check_gate_result (
  p_gate_code text,
  p_result    jsonb
)
  RETURNS void
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  v_problem text;
begin
  v_problem := case
    when jsonb_typeof(p_result) is distinct from 'object' then 'result must be a JSON object'
    when jsonb_typeof(p_result->'passed') is distinct from 'boolean' then 'passed must be boolean'
    when jsonb_typeof(p_result->'score') is distinct from 'number' then 'score must be a number'
    when jsonb_typeof(p_result->'maxScore') is distinct from 'number' then 'maxScore must be a number'
    when (p_result->>'maxScore')::numeric <= 0 then format('maxScore must be > 0 (got %s)', p_result->'maxScore')
    when (p_result->>'score')::numeric not between 0 and (p_result->>'maxScore')::numeric
      then format('score %s is outside 0..%s', p_result->'score', p_result->'maxScore')
    when coalesce(jsonb_typeof(p_result->'issues'), 'array') <> 'array' then 'issues must be an array'
    when coalesce(jsonb_typeof(p_result->'warnings'), 'array') <> 'array' then 'warnings must be an array'
    when coalesce(jsonb_typeof(p_result->'fixes'), 'array') <> 'array' then 'fixes must be an array'
    when coalesce(jsonb_typeof(p_result->'skipped'), 'boolean') not in ('boolean', 'null') then 'skipped must be boolean'
    when coalesce(jsonb_typeof(p_result->'skip_reason'), 'null') not in ('string', 'null') then 'skip_reason must be a string'
    when coalesce(jsonb_typeof(p_result->'error'), 'null') not in ('string', 'null') then 'error must be a string'
  end;
  if v_problem is not null then
    raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate %L: %s', p_gate_code, v_problem);
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_check_invariants()
  RETURNS TABLE (
    invariant text,
    subject   text,
    detail    jsonb
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  with last_done as (
    select distinct on (a.sd_uuid) a.sd_uuid, a.post_state, a.transition_type
    from public.sd_transition_audit a
    where a.status = 'completed'
    order by a.sd_uuid, a.completed_at desc, a.created_at desc
  )
  select 'sd_matches_last_transition', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'transition_version', s.transition_version,
                            'audit_phase', l.post_state->>'sd_phase', 'audit_version', l.post_state->'transition_version')
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  where s.current_phase is distinct from l.post_state->>'sd_phase'
     or s.transition_version is distinct from (l.post_state->>'transition_version')::int

  union all
  -- 2. transition_version counts the completed transitions of the SD.
  select 'version_counts_transitions', s.id,
         jsonb_build_object('transition_version', s.transition_version, 'completed_audits', count(a.id))
  from public.strategic_directives_v2 s
  left join public.sd_transition_audit a on a.sd_uuid = s.uuid and a.status = 'completed'
  group by s.id, s.transition_version
  having s.transition_version <> count(a.id)

  union all
  -- 3. The PRD and stories are in the statuses the workflow says for the SD's phase: a status only
  --    a handoff can set is held exactly when the last transition set it.
  select 'prd_status_matches_phase', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'prd_status', p.status, 'expected', t.prd_status)
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  join public.handoff_types t on t.code = l.transition_type
  join public.product_requirements_v2 p on p.sd_id = s.id
  where t.prd_status is not null and p.status is distinct from t.prd_status

  union all
  select 'story_status_needs_handoff', u.sd_id || '/' || u.story_key,
         jsonb_build_object('status', u.status, 'sd_phase', s.current_phase)
  from public.user_stories u
  join public.strategic_directives_v2 s on s.id = u.sd_id
  where u.status in (select t.story_status from public.handoff_types t where t.story_status is not null)
    and not exists (
      select 1 from public.sd_transition_audit a join public.handoff_types t on t.code = a.transition_type
      where a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

  union all
  -- 4. The audit chain: each completed transition starts where the previous one ended, for the
  --    directive's phase, status and version (only handoffs change them; PRD and story statuses
  --    also change by everyday work between handoffs).
  select 'audit_chain', c.sd_id,
         jsonb_build_object('audit_id', c.id, 'pre_state', c.pre_state, 'previous_post_state', c.prev_post)
  from (
    select a.id, a.sd_id, a.pre_state,
           lag(a.post_state) over (partition by a.sd_uuid order by a.completed_at, a.created_at) as prev_post
    from public.sd_transition_audit a where a.status = 'completed'
  ) c
  where c.prev_post is not null
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse.
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select * from public.sd_phase_handoffs where status = 'accepted') r
  full join (select * from public.sd_transition_audit where status = 'completed') a on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  left join public.handoff_attempts h on h.id = r.attempt_id
  where h.id is null or h.sd_id <> r.sd_id
     or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code)
$function$;

CREATE OR REPLACE FUNCTION public.fn_check_mode_scope (
  p_scope text
)
  RETURNS void
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
begin
  if p_scope is null or not (p_scope = '*' or p_scope ~ '^[a-z][a-z0-9_-]{0,39}$') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: scope must be ''*'' (global) or an sd_type such as ''feature'' (got %L)', left(p_scope, 100));
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_check_skip_conditions (
  p_sd_type    text,
  p_validators text[]
)
  RETURNS TABLE (
    validator   text,
    should_skip boolean,
    reason_code text
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select v.name, r.reason_code is not null, r.reason_code
  from unnest(p_validators) with ordinality as v(name, ord)
  left join lateral (
    select g.reason_code
    from public.gate_skip_rules g
    where g.validator_code = upper(v.name)
      and (g.applies_to = p_sd_type
           or g.applies_to in (select c.class_name from public.sd_type_classes c where c.sd_type = p_sd_type))
    order by g.reason_code = 'NON_APPLICABLE_SD_TYPE' desc, g.id
    limit 1
  ) r on true
  order by v.ord
$function$;

CREATE OR REPLACE FUNCTION public.fn_claim_handoff_request (
  p_worker text,
  p_lease  interval DEFAULT '00:02:00'::interval,
  p_limit  integer  DEFAULT 1
)
  RETURNS SETOF public.handoff_requests
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_worker is null or length(p_worker) not between 1 and 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_worker is required (1-200 chars)';
  end if;
  if p_lease is null or p_lease < interval '1 second' or p_limit is null or p_limit not between 1 and 100 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease must be >= 1 second and p_limit between 1 and 100 (got %s, %s)', p_lease, p_limit);
  end if;
  perform public.fn_exhaust_handoff_requests();

  return query
  with picked as (
    select r.id from public.handoff_requests r
    where (r.status = 'pending' and r.run_after <= now()) or (r.status = 'running' and r.locked_until <= now())
    order by r.created_at
    for update skip locked
    limit p_limit
  )
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_until = clock_timestamp() + p_lease, locked_by = p_worker
    from picked
   where r.id = picked.id
  returning r.*;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_claim_sd (
  p_sd_id         text,
  p_session_id    text,
  p_lease_seconds integer DEFAULT 900
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_claim public.sd_claims;
  v_prior public.sd_claims;
begin
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_seconds must be between 1 and 86400 (got %s)', p_lease_seconds);
  end if;

  select * into v_prior from public.sd_claims c where c.sd_id = v_sd.id;

  insert into public.sd_claims as c (sd_id, session_id, claimed_at, renewed_at, expires_at)
  values (v_sd.id, p_session_id, now(), now(), now() + make_interval(secs => p_lease_seconds))
  on conflict (sd_id) do update
    set session_id = excluded.session_id,
        claimed_at = case when c.session_id = excluded.session_id then c.claimed_at else excluded.claimed_at end,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
    where c.session_id = excluded.session_id or c.expires_at <= now()
  returning * into v_claim;

  if not found then
    select * into v_claim from public.sd_claims c where c.sd_id = v_sd.id;
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by session %L until %s',
                       v_sd.id, v_claim.session_id, v_claim.expires_at);
  end if;

  return jsonb_build_object(
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'session_id', v_claim.session_id,
    'claimed_at', v_claim.claimed_at, 'expires_at', v_claim.expires_at,
    'renewed', v_prior.session_id is not distinct from p_session_id and v_prior.expires_at > now(),
    'took_over_expired', v_prior.session_id is distinct from p_session_id and v_prior.sd_id is not null);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_claim_webhook_id (
  p_id        text,
  p_timestamp timestamp with time zone
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_tolerance interval := (select s.webhook_tolerance from public.validation_mode_settings s);
begin
  if p_id is null or length(p_id) not between 1 and 255 or p_id !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: webhook-id must be 1..255 printable characters (got %L)', left(p_id, 300));
  end if;
  if p_timestamp is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: webhook timestamp is required';
  end if;
  if p_timestamp < now() - v_tolerance then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: webhook timestamp %s is older than the tolerance of %s (validation_mode_settings.webhook_tolerance)', p_timestamp, v_tolerance);
  end if;
  insert into public.ops_webhook_ids (id, webhook_ts) values (p_id, p_timestamp) on conflict (id) do nothing;
  return found;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_complete_by_request (
  p_handoff_type text,
  p_sd_id        text,
  p_prd_id       text,
  p_session_id   text,
  p_request_id   text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_attempt public.handoff_attempts;
  v_prd_id text;
begin
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
  if not found then
    raise exception using errcode = 'SG009',
      message = format('ATTEMPT_NOT_FOUND: no handoff attempt with request id %L; begin one with fn_begin_handoff or use fn_execute_handoff', p_request_id);
  end if;
  if v_attempt.handoff_type <> p_handoff_type then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L is a %s attempt, not %s', p_request_id, v_attempt.handoff_type, p_handoff_type);
  end if;
  if p_sd_id is distinct from v_attempt.sd_id and p_sd_id is distinct from v_attempt.sd_uuid::text then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L belongs to strategic directive %L, not %L', p_request_id, v_attempt.sd_id, p_sd_id);
  end if;
  if p_session_id is distinct from v_attempt.session_id then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L was begun by session %L, not %L', p_request_id, v_attempt.session_id, p_session_id);
  end if;
  if p_prd_id is not null then
    select p.id into v_prd_id from public.product_requirements_v2 p where p.sd_id = v_attempt.sd_id;
    if v_prd_id is distinct from p_prd_id then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: PRD %L is not the PRD of strategic directive %L (%s)', p_prd_id, v_attempt.sd_id, coalesce(v_prd_id, 'none'));
    end if;
  end if;
  return public.fn_complete_handoff(v_attempt.id);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_complete_handoff (
  p_attempt_id       uuid,
  p_expected_version integer DEFAULT NULL::integer
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_attempt public.handoff_attempts;
  v_sd public.strategic_directives_v2;
  v_type public.handoff_types;
  v_holder text;
  v_judgement jsonb;
  v_verdict text;
  v_pre jsonb;
  v_post jsonb;
  v_error jsonb;
  v_step text := '4. Apply state changes';
  v_key text;
  v_stories_updated int := 0;
  v_prd_updated boolean := false;
  v_sd_updated boolean := false;
  v_err_state text;
  v_err_message text;
  v_version int;
  v_audit_id uuid := gen_random_uuid();
  v_result jsonb;
  v_notify_mode text;
  v_payload jsonb;
begin
  -- ---------------------------------------------------------------- replay, lock, preconditions
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select a.sd_id, a.sd_uuid, a.status, a.result into v_attempt.sd_id, v_attempt.sd_uuid, v_attempt.status, v_attempt.result
  from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if v_attempt.status <> 'in_progress' then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- fail fast rather than queue: the loser retries or reports SD_BUSY to its caller
  if not pg_try_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another transaction is completing a handoff of strategic directive %L; retry shortly', v_attempt.sd_id);
  end if;
  -- re-read under the lock: a concurrent complete of this very attempt may have just committed
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if v_attempt.status <> 'in_progress' then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- No row lock here: step 4 takes it, inside its savepoint (see the top of this file).
  select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L was deleted since the attempt began', v_attempt.sd_id);
  end if;
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if v_sd.transition_version <> v_attempt.sd_version then
    raise exception using errcode = 'SG008',
      message = format('ALREADY_TRANSITIONED: strategic directive %L moved to %s (transition_version %s) after attempt %s began at version %s; begin a new handoff',
                       v_sd.id, v_sd.current_phase, v_sd.transition_version, v_attempt.id, v_attempt.sd_version);
  end if;
  -- by uuid, not by the key read above: a rename committed since then has moved the claim with it
  select c.session_id into v_holder
  from public.sd_claims c join public.strategic_directives_v2 s on s.id = c.sd_id
  where s.uuid = v_sd.uuid and c.expires_at > now() and c.session_id <> v_attempt.session_id;
  if found then
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is now held by session %L', v_sd.id, v_holder);
  end if;
  select * into v_type from public.handoff_types t where t.code = v_attempt.handoff_type;

  -- ---------------------------------------------------------------- judge
  v_judgement := public.fn_judge_attempt(v_attempt);
  v_verdict := v_judgement->>'verdict';
  v_pre := public.fn_sd_state(v_sd.id);
  v_version := v_sd.transition_version;

  -- ---------------------------------------------------------------- apply (all or nothing)
  -- The sub-block is a savepoint: any error undoes every change inside it, and the function goes
  -- on to write the failed audit row with the Spartan error log.
  if v_verdict = 'accepted' then
    begin
      v_step := '4. Lock SD';
      select s.id into v_key from public.strategic_directives_v2 s
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
         and s.current_phase = v_sd.current_phase and s.status = v_sd.status
         for no key update;
      if not found then
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      if v_key <> v_sd.id then
        -- renamed since it was read: the rename cascaded to the PRD and stories; follow it
        v_sd.id := v_key;
        v_pre := public.fn_sd_state(v_key);
      end if;
      perform set_config('stagegate.in_transition', 'on', true);
      if v_type.story_status is not null then
        v_step := '4a. Transition user stories';
        update public.user_stories u set status = v_type.story_status
        where u.sd_id = v_sd.id and u.status <> v_type.story_status;
        get diagnostics v_stories_updated = row_count;
      end if;
      if v_type.prd_status is not null then
        v_step := '4b. Transition PRD';
        update public.product_requirements_v2 p set status = v_type.prd_status where p.sd_id = v_sd.id;
        v_prd_updated := found;
      end if;
      v_step := '4c. Transition SD';
      update public.strategic_directives_v2 s
         set current_phase = v_type.to_phase, status = coalesce(v_type.sd_status, s.status),
             transition_version = s.transition_version + 1
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
      returning s.transition_version into v_version;
      if not found then
        -- only a trigger fired by the steps above (in this transaction, under our lock) gets here
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      v_sd_updated := true;
      v_step := '4d. Record handoff';
      insert into public.sd_phase_handoffs
        (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
         validation_mode, failed_gate, session_id, execution_time_ms)
      values
        (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, 'accepted',
         (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
         null, v_attempt.session_id, (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
      perform set_config('stagegate.in_transition', '', true);
    exception when others then
      get stacked diagnostics v_err_state = returned_sqlstate, v_err_message = message_text;
      -- waiting for the SD's row lock failed (lock_timeout, deadlock, serialization): nothing was
      -- tried yet, so let the caller retry this attempt, as when the lock was taken before step 4
      if v_step = '4. Lock SD' and v_err_state in ('55P03', '40P01', '40001') then
        raise;
      end if;
      v_verdict := 'failed';
      v_version := v_sd.transition_version;
      v_error := jsonb_build_object(
        'error_code', v_err_state, 'error_message', v_err_message, 'failed_step', v_step, 'pre_state', v_pre,
        'partial_state', jsonb_build_object('user_stories_updated', v_stories_updated, 'prd_updated', v_prd_updated,
                                            'sd_updated', v_sd_updated, 'rolled_back', true),
        'recovery_action', format('No state was changed (all of step 4 rolled back). Fix the cause of %s at "%s", then run the handoff again with a new request id.',
                                  v_err_state, v_step));
    end;
  end if;

  -- ---------------------------------------------------------------- record the outcome
  -- rejected: nothing was tried, the state read under the advisory lock stands; accepted or
  -- failed: read it again (a failure may have been someone else changing or deleting the SD)
  v_post := case when v_verdict = 'rejected' then v_pre else public.fn_sd_state(v_sd.id) end;
  if v_verdict <> 'accepted' then
    insert into public.sd_phase_handoffs
      (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
       validation_mode, failed_gate, session_id, execution_time_ms)
    values
      (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, v_verdict,
       (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
       v_judgement->>'failed_gate', v_attempt.session_id,
       (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
  end if;

  v_result := v_judgement || jsonb_build_object(
    'verdict', v_verdict, 'attempt_id', v_attempt.id, 'request_id', v_attempt.request_id, 'audit_id', v_audit_id,
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'sd_type', v_attempt.sd_type, 'handoff_type', v_type.code,
    'from_phase', v_attempt.from_phase,
    'to_phase', case when v_verdict = 'accepted' then v_type.to_phase else v_attempt.from_phase end,
    'transition_version', v_version, 'replay', false, 'error', v_error);
  if v_verdict = 'failed' then
    v_result := v_result || jsonb_build_object(
      'issues', (v_judgement->'issues') || to_jsonb(format('%s failed: %s', v_step, v_err_message)));
  end if;

  insert into public.sd_transition_audit
    (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
     error_details, error_message, validation_mode, score, threshold, failed_gate, would_reject, started_at, completed_at,
     updated_at)
  values
    (v_audit_id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.session_id, v_attempt.request_id, v_attempt.id, v_pre, v_post,
     case v_verdict when 'accepted' then 'completed' else v_verdict end,
     case v_verdict when 'failed' then v_error
                    when 'rejected' then jsonb_build_object('failed_gate', v_judgement->'failed_gate', 'issues', v_judgement->'issues') end,
     v_err_message, v_judgement->>'validation_mode', (v_judgement->>'score')::numeric,
     (v_judgement->>'threshold')::numeric, v_judgement->>'failed_gate', (v_judgement->>'would_reject')::boolean,
     -- updated_at - created_at is the completing transaction's own time (the runbook's duration query)
     v_attempt.started_at, clock_timestamp(), clock_timestamp());

  update public.handoff_attempts a
     set status = case v_verdict when 'accepted' then 'completed' else v_verdict end,
         finished_at = clock_timestamp(), result = v_result, audit_id = v_audit_id
   where a.id = v_attempt.id;

  -- NOTIFY stagegate_transition: through the outbox by default (fn_sweep_transition_notifications
  -- sends it within a second of the commit), or from this transaction when the setting
  -- stagegate.notify_transitions is 'commit' (sent at commit, but NOTIFY holds a database-wide lock
  -- until the commit is flushed, so notifying transactions commit one at a time), or never ('off').
  if v_verdict = 'accepted' then
    v_notify_mode := coalesce(nullif(current_setting('stagegate.notify_transitions', true), ''), 'outbox');
    if v_notify_mode <> 'off' then
      v_payload := jsonb_build_object(
        'sd_id', v_sd.id, 'handoff_type', v_type.code, 'from_phase', v_attempt.from_phase, 'to_phase', v_type.to_phase,
        'transition_version', v_version, 'attempt_id', v_attempt.id, 'audit_id', v_audit_id);
      if v_notify_mode = 'commit' then
        perform pg_notify('stagegate_transition', v_payload::text);
      else
        insert into public.transition_notifications (payload) values (v_payload);
      end if;
    end if;
  end if;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_demote_validation_mode (
  p_scope  text,
  p_reason text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_changes jsonb := '[]';
  v_target text;
begin
  perform public.fn_check_mode_scope(p_scope);
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  for v_target in
    select p_scope where public.fn_get_validation_mode(p_scope) = 'ENFORCE'
    union
    select m.scope from public.validation_modes m where p_scope = '*' and m.mode = 'ENFORCE'
    order by 1
  loop
    v_changes := v_changes || public.fn_set_validation_mode(v_target, 'WARN', p_reason, false);
  end loop;
  return jsonb_build_object('changed', jsonb_array_length(v_changes) > 0, 'changes', v_changes);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_dispatch_handoff_request (
  p_id uuid
)
  RETURNS bigint
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_cfg public.handoff_request_dispatch;
  v_req public.handoff_requests;
  v_key text;
  v_net_id bigint;
begin
  select * into v_cfg from public.handoff_request_dispatch where enabled;
  if not found or to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    return null;
  end if;
  if to_regclass('vault.decrypted_secrets') is not null then
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1' into v_key using v_cfg.service_key_secret;
  end if;
  if v_key is null then
    raise exception using errcode = 'SG016',
      message = format('DISPATCH_NOT_CONFIGURED: Vault secret %L (the service-role key) is missing; create it with vault.create_secret or disable public.handoff_request_dispatch',
                       v_cfg.service_key_secret);
  end if;
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  execute 'select net.http_post(url := $1, body := $2, params := ''{}''::jsonb, headers := $3, timeout_milliseconds := $4)'
    into v_net_id
    using v_cfg.functions_url || '/handoff',
          jsonb_build_object('sd_id', v_req.sd_id, 'handoff_type', v_req.handoff_type, 'session_id', v_req.session_id),
          jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key,
                             'Idempotency-Key', 'handoff-request:' || v_req.id),
          v_cfg.timeout_ms;
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_by = 'pg_net', net_request_id = v_net_id,
         -- the answer is due by the timeout; a minute more before we call it lost
         locked_until = clock_timestamp() + make_interval(secs => v_cfg.timeout_ms / 1000.0 + 60)
   where r.id = p_id;
  return v_net_id;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_evaluate_sql_gate (
  p_attempt_id uuid,
  p_gate_code  text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_context jsonb;
  v_gate public.leo_sub_agents;
  v_proc regprocedure;
  v_result jsonb;
begin
  select a.context into v_context from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  select * into v_gate from public.leo_sub_agents s where s.code = p_gate_code;
  if not found then
    raise exception using errcode = 'SG011', message = format('UNKNOWN_GATE: %L is not a registered sub-agent', p_gate_code);
  end if;
  if v_gate.kind <> 'sql' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: gate %L is kind %s, not sql', p_gate_code, v_gate.kind);
  end if;
  v_proc := to_regprocedure(v_gate.target || '(jsonb)');
  if v_proc is null or (select p.prorettype from pg_catalog.pg_proc p where p.oid = v_proc) <> 'jsonb'::regtype then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: gate %L target %s is not a function (jsonb) returns jsonb', p_gate_code, v_gate.target);
  end if;
  -- regproc prints schema-qualified and quoted under search_path = '', so this is injection-safe
  execute format('select %s($1)', v_proc::oid::regproc) into v_result using v_context;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_execute_handoff (
  p_sd_id        text,
  p_handoff_type text,
  p_session_id   text,
  p_request_id   text,
  p_gate_results jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_begin jsonb;
  v_attempt_id uuid;
  v_item jsonb;
  v_code text;
  v_gate jsonb;
begin
  if p_gate_results is not null and jsonb_typeof(p_gate_results) <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_gate_results must be a JSON array of gate results';
  end if;
  v_begin := public.fn_begin_handoff(p_sd_id, p_handoff_type, p_session_id, p_request_id);
  if v_begin->>'status' <> 'in_progress' then
    return (v_begin->'result') || '{"replay": true}';
  end if;
  v_attempt_id := (v_begin->>'attempt_id')::uuid;

  for v_item in select * from jsonb_array_elements(coalesce(p_gate_results, '[]')) loop
    v_code := upper(v_item->>'code');
    if v_code is null then
      raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate result without a code: %s', v_item);
    end if;
    perform public.fn_store_gate_result(v_attempt_id, v_code, public.fn_normalise_gate_result(v_item), null, null, 1, false);
  end loop;

  for v_gate in
    select g from jsonb_array_elements(v_begin->'gates') g
    where g->>'kind' = 'sql' and not (g->>'skip')::boolean
      and not exists (select 1 from public.sub_agent_execution_results r
                      where r.attempt_id = v_attempt_id and r.sub_agent_code = g->>'code')
  loop
    perform public.fn_store_gate_result(v_attempt_id, v_gate->>'code',
      public.fn_normalise_gate_result(public.fn_evaluate_sql_gate(v_attempt_id, v_gate->>'code')), null, null, 1, false);
  end loop;

  return public.fn_complete_handoff(v_attempt_id);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_exhaust_handoff_requests()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  update public.handoff_requests r
     set status = 'error', finished_at = clock_timestamp(), locked_until = null,
         error = jsonb_build_object('code', 'ATTEMPTS_EXHAUSTED', 'http_status', null, 'last_error', r.error,
           'message', format('no answer after %s tries (each worker died or lost its lease)', r.attempts),
           'recovery_action', format('The handoff may have run: check public.handoff_attempts. select public.fn_retry_handoff_request(%L) tries again under the same Idempotency-Key, so it replays a finished run instead of repeating it.', r.id))
   where r.status = 'running' and r.locked_until <= now() and r.attempts >= r.max_attempts;
  get diagnostics v_count = row_count;
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_filled (
  p_value jsonb
)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select case jsonb_typeof(p_value)
    when 'string' then btrim(p_value #>> '{}') <> ''
    when 'array' then jsonb_array_length(p_value) > 0
    when 'object' then p_value <> '{}'
    else false end
$function$;

CREATE OR REPLACE FUNCTION public.fn_finish_handoff_request (
  p_id          uuid,
  p_http_status integer,
  p_body        jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_req public.handoff_requests;
  v_code text := p_body->'error'->>'code';
  v_error jsonb := jsonb_build_object('http_status', p_http_status, 'code', coalesce(v_code, case when p_http_status is null then 'NO_ANSWER' else 'HTTP_' || p_http_status end),
                                      'message', coalesce(p_body->'error'->>'message', p_body->>'message'), 'details', p_body->'error'->'details');
  v_retry boolean := p_http_status is null or p_http_status = 429 or p_http_status >= 500
                     or coalesce(v_code in ('SD_BUSY', 'IDEMPOTENCY_IN_FLIGHT', 'DB_UNAVAILABLE'), false);
begin
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  if not found then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: no handoff request %s', p_id);
  end if;
  -- A late worker (its lease expired and another one finished) changes nothing: first answer wins.
  if v_req.status in ('done', 'error') then
    return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', false);
  end if;

  if p_http_status = 200 then
    update public.handoff_requests r
       set status = 'done', verdict = coalesce(p_body, '{}'), error = null, finished_at = clock_timestamp(), locked_until = null
     where r.id = p_id returning * into v_req;
  elsif v_retry and (v_req.attempts < v_req.max_attempts or v_code is not distinct from 'IDEMPOTENCY_IN_FLIGHT') then
    -- IDEMPOTENCY_IN_FLIGHT: an earlier try of this very row is still running in the function; it
    -- does not use up a try (the function frees the key after its 120 s lease if that run died).
    update public.handoff_requests r
       set status = 'pending', error = v_error, locked_until = null,
           attempts = r.attempts - case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then 1 else 0 end,
           run_after = clock_timestamp() + case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then interval '1 second'
                                                else make_interval(secs => least(power(2, greatest(r.attempts - 1, 0)), 60)) end
     where r.id = p_id returning * into v_req;
  else
    update public.handoff_requests r
       set status = 'error', finished_at = clock_timestamp(), locked_until = null,
           error = case when v_retry then jsonb_build_object('code', 'ATTEMPTS_EXHAUSTED', 'http_status', p_http_status,
                                                             'message', format('still retryable after %s tries', r.attempts), 'last_error', v_error)
                        else v_error end
     where r.id = p_id returning * into v_req;
  end if;
  return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', true, 'attempts', v_req.attempts,
                            'run_after', case when v_req.status = 'pending' then v_req.run_after end);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_prd_complete (
  p_context jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select case when jsonb_typeof(p_context->'prd') is distinct from 'object'
    then jsonb_build_object('passed', false, 'score', 0, 'maxScore', 100, 'issues', jsonb_build_array('SD has no PRD'), 'warnings', '[]'::jsonb)
    else (select public.fn_gate_score(jsonb_agg(jsonb_build_object(
            'ok', public.fn_filled(p_context->'prd'->f), 'issue', format('PRD field %s is empty', f))), false, 'no PRD')
          from unnest(array['executive_summary', 'functional_requirements', 'acceptance_criteria', 'test_scenarios']) f)
  end
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_result_json (
  p_row public.sub_agent_execution_results
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'code', p_row.sub_agent_code, 'passed', p_row.passed, 'score', p_row.score, 'maxScore', p_row.max_score,
    'issues', p_row.issues, 'warnings', p_row.warnings, 'fixes', p_row.fixes, 'skipped', p_row.skipped,
    'skip_reason', p_row.skip_reason, 'error', p_row.error, 'attempts', p_row.attempts,
    'duration_ms', p_row.duration_ms, 'verdict', p_row.verdict)
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_score (
  p_checks        jsonb,
  p_empty_passes  boolean,
  p_empty_message text
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select case
    when jsonb_array_length(p_checks) = 0 then jsonb_build_object(
      'passed', p_empty_passes, 'score', case when p_empty_passes then 100 else 0 end, 'maxScore', 100,
      'issues', case when p_empty_passes then '[]'::jsonb else jsonb_build_array(p_empty_message) end,
      'warnings', case when p_empty_passes then jsonb_build_array(p_empty_message) else '[]'::jsonb end)
    else (
      select jsonb_build_object(
        'passed', bool_and((c->>'ok')::boolean),
        'score', round(100.0 * count(*) filter (where (c->>'ok')::boolean) / count(*), 2),
        'maxScore', 100,
        'issues', coalesce(jsonb_agg(c->'issue') filter (where not (c->>'ok')::boolean), '[]'),
        'warnings', '[]'::jsonb)
      from jsonb_array_elements(p_checks) c)
  end
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_sd_defined (
  p_context jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', public.fn_filled(p_context->'sd'->f), 'issue', format('SD field %s is empty', f))), '[]'), false, 'no SD')
  from unnest(array['description', 'scope', 'success_criteria']) f
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_stories_done (
  p_context jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', s->>'status' in ('done', 'validated', 'completed'),
           'issue', format('story %s is %s, not done', s->>'story_key', s->>'status'))), '[]'), true, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_stories_have_acceptance_criteria (
  p_context jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', public.fn_filled(s->'acceptance_criteria'),
           'issue', format('story %s has no acceptance criteria', s->>'story_key'))), '[]'), false, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$function$;

CREATE OR REPLACE FUNCTION public.fn_gate_stories_validated (
  p_context jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', s->>'status' in ('validated', 'completed'),
           'issue', format('story %s is %s, not validated', s->>'story_key', s->>'status'))), '[]'), true, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$function$;

CREATE OR REPLACE FUNCTION public.fn_get_validation_mode (
  p_sd_type text DEFAULT NULL::text
)
  RETURNS text
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  return coalesce(
    (select m.mode from public.validation_modes m where m.scope = p_sd_type),
    (select m.mode from public.validation_modes m where m.scope = '*'),
    'ENFORCE');
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_handoff_gates (
  p_handoff_type text,
  p_sd_type      text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  with plan as (
    select a.*
    from public.leo_sub_agents a
    where a.active
      and (a.handoff_types = '{}' or p_handoff_type = any (a.handoff_types))
      and (a.sd_types = '{}' or p_sd_type = any (a.sd_types))
  ),
  skips as (
    select * from public.fn_check_skip_conditions(p_sd_type, (select array_agg(p.code) from plan p))
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'code', p.code, 'kind', p.kind, 'target', p.target,
      'depends_on', to_jsonb(array(select d from unnest(p.depends_on) d where d in (select code from plan))),
      'timeout_ms', p.timeout_ms, 'max_retries', p.max_retries, 'weight', p.weight,
      'required', p.required, 'skip', s.should_skip, 'skip_reason', s.reason_code
    ) order by p.code), '[]')
  from plan p join skips s on s.validator = p.code
$function$;

CREATE OR REPLACE FUNCTION public.fn_idempotency_abandon (
  p_scope text,
  p_key   text
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform public.idempotency_check_key(p_scope, p_key);
  delete from public.http_idempotency_keys k
    where k.scope = p_scope and k.key = p_key and k.status = 'in_flight';
  return found;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_idempotency_begin (
  p_scope       text,
  p_key         text,
  p_fingerprint text,
  p_lease_ms    integer DEFAULT 120000
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.http_idempotency_keys;
  v_lease interval;
begin
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_lease_ms is null or p_lease_ms not between 1 and 86400000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_ms must be between 1 and 86400000 (got %s)', p_lease_ms);
  end if;
  v_lease := make_interval(secs => p_lease_ms / 1000.0);

  -- The loop covers a record deleted (abandoned, purged) between the insert and the lock.
  loop
    -- Concurrent first requests queue on the primary key here: exactly one inserts.
    insert into public.http_idempotency_keys (scope, key, fingerprint, locked_until)
    values (p_scope, p_key, p_fingerprint, now() + v_lease)
    on conflict (scope, key) do nothing
    returning * into v_row;
    if found then
      return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
        'locked_until', v_row.locked_until, 'took_over', false);
    end if;

    select * into v_row from public.http_idempotency_keys k
      where k.scope = p_scope and k.key = p_key for update;
    exit when found;
  end loop;

  if v_row.fingerprint <> p_fingerprint then
    return jsonb_build_object('outcome', 'mismatch', 'response_status', null, 'response_body', null);
  end if;

  if v_row.status = 'completed' then
    update public.http_idempotency_keys k set hits = k.hits + 1, last_hit_at = now()
      where k.scope = p_scope and k.key = p_key;
    return jsonb_build_object('outcome', 'replay', 'response_status', v_row.response_status,
      'response_body', v_row.response_body, 'hits', v_row.hits + 1, 'completed_at', v_row.completed_at);
  end if;

  if v_row.locked_until > now() then
    return jsonb_build_object('outcome', 'in_flight', 'response_status', null, 'response_body', null,
      'locked_until', v_row.locked_until,
      'retry_after_ms', ceil(extract(epoch from v_row.locked_until - now()) * 1000)::bigint);
  end if;

  -- The first request's lease expired without a response: it died, so this one takes the key.
  update public.http_idempotency_keys k set locked_until = now() + v_lease
    where k.scope = p_scope and k.key = p_key
    returning * into v_row;
  return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
    'locked_until', v_row.locked_until, 'took_over', true);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_idempotency_complete (
  p_scope       text,
  p_key         text,
  p_fingerprint text,
  p_status      integer,
  p_body        jsonb
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_status is null or p_status not between 100 and 599 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_status must be an HTTP status 100..599 (got %s)', p_status);
  end if;
  -- Only an in-flight record with this fingerprint is ours; a completed one keeps its first answer.
  update public.http_idempotency_keys k
    set status = 'completed', response_status = p_status, response_body = p_body,
        completed_at = now(), locked_until = null
    where k.scope = p_scope and k.key = p_key and k.fingerprint = p_fingerprint and k.status = 'in_flight';
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_idempotency_purge (
  p_older_than interval DEFAULT '24:00:00'::interval
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_older_than must be a non-negative interval (got %s)', p_older_than);
  end if;
  -- A request still holding a live lease keeps its record, however old.
  delete from public.http_idempotency_keys k
    where k.created_at < now() - p_older_than
      and (k.status = 'completed' or k.locked_until <= now());
  get diagnostics v_count = row_count;
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_in_transition()
  RETURNS boolean
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
begin
  return coalesce(current_setting('stagegate.in_transition', true), '') = 'on';
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_judge_attempt (
  p_attempt public.handoff_attempts
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_score numeric;
  v_missing text[];
  v_failed text[];
  v_gates jsonb;
  v_gate_issues text[];
  v_gate_warnings text[];
  v_threshold numeric := trim_scale(public.fn_sd_threshold(p_attempt.sd_type));
  v_mode text := public.fn_get_validation_mode(p_attempt.sd_type);
  v_issues text[] := '{}';
  v_warnings text[] := '{}';
  v_failed_gate text;
  v_would_reject boolean := false;
  v_message text;
begin
  with plan as (
    select g->>'code' as code, (g->>'weight')::numeric as weight, (g->>'required')::boolean as required,
           (g->>'skip')::boolean as plan_skip, g->>'skip_reason' as plan_skip_reason, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
  ), judged as (
    select p.*, r.id is not null as recorded, r.passed, r.score, r.max_score,
           p.plan_skip or coalesce(r.skipped, false) as skipped,
           coalesce(p.plan_skip_reason, r.skip_reason) as skip_reason,
           case when not (p.plan_skip or r.skipped) then r.score / r.max_score * 100 end as pct
    from plan p
    left join public.sub_agent_execution_results r on r.attempt_id = p_attempt.id and r.sub_agent_code = p.code
  )
  select
    round(sum(j.weight * j.pct) / nullif(sum(j.weight) filter (where j.pct is not null), 0), 2),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and not j.plan_skip and j.pct is null), '{}'),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and j.pct is not null and not j.passed), '{}'),
    coalesce(jsonb_agg(jsonb_build_object(
      'code', j.code, 'required', j.required, 'weight', j.weight, 'recorded', j.recorded, 'skipped', j.skipped,
      'skip_reason', j.skip_reason, 'passed', j.passed, 'score', j.score, 'maxScore', j.max_score,
      'normalised', trim_scale(round(j.pct, 2))) order by j.ord), '[]')
  into v_score, v_missing, v_failed, v_gates
  from judged j;
  v_score := trim_scale(coalesce(v_score, 100));

  select coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'issue'), '{}'),
         coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'warning'), '{}')
  into v_gate_issues, v_gate_warnings
  from public.sub_agent_execution_results r
  cross join lateral (
    select 'issue' as kind, x.value from jsonb_array_elements(r.issues) x
    union all
    select 'warning', x.value from jsonb_array_elements(r.warnings) x
  ) i
  where r.attempt_id = p_attempt.id and not r.skipped;

  if cardinality(v_missing) > 0 then
    v_failed_gate := v_missing[1];
    v_issues := v_issues || array(select format('required gate %s has no result', m) from unnest(v_missing) m);
  end if;
  if cardinality(v_failed) > 0 then
    v_failed_gate := coalesce(v_failed_gate, v_failed[1]);
    v_issues := v_issues || array(select format('required gate %s failed', f) from unnest(v_failed) f);
  end if;
  if v_mode <> 'OFF' and v_score < v_threshold then
    v_message := format('SD type ''%s'' requires %s%% gate score, got %s%%',
                        p_attempt.sd_type, v_threshold, v_score);
    if v_mode = 'ENFORCE' then
      v_failed_gate := coalesce(v_failed_gate, 'SD_TYPE_THRESHOLD');
      v_issues := v_issues || v_message;
    else
      v_would_reject := true;
      v_warnings := v_warnings || ('WARN mode, would reject: ' || v_message);
    end if;
  end if;

  return jsonb_build_object(
    'verdict', case when v_failed_gate is null then 'accepted' else 'rejected' end,
    'score', v_score, 'threshold', v_threshold, 'validation_mode', v_mode, 'failed_gate', v_failed_gate,
    'issues', to_jsonb(v_issues || v_gate_issues), 'warnings', to_jsonb(v_warnings || v_gate_warnings),
    'would_reject', v_would_reject, 'gates', v_gates);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_metrics_snapshot()
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  SET lock_timeout TO '2s'
  AS $function$
declare
  c_handoff_bounds constant int[] := array[100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000];
  c_gate_bounds constant int[] := array[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
  c_window constant interval := interval '1 hour';
  v_mode_store jsonb;
  v_result jsonb;
begin
  -- The mode store is read on its own, so a failure there is reported (mode_store.ok = false,
  -- the ModeStoreFetchFailing alert) instead of costing every other metric.
  begin
    v_mode_store := jsonb_build_object('ok', true, 'error', null, 'modes',
      coalesce((select jsonb_agg(jsonb_build_object('scope', m.scope, 'mode', m.mode) order by m.scope)
                from public.validation_modes m), '[]'::jsonb),
      'global', public.fn_get_validation_mode(null));
  exception when others then
    v_mode_store := jsonb_build_object('ok', false, 'error', sqlerrm, 'modes', '[]'::jsonb, 'global', null);
  end;

  -- The big tables are read once each, into narrow row sets the parts below share, so the
  -- cost grows with one pass over them, not one per metric. Measured: ~0.2-0.35 s for 20 000
  -- handoffs and 100 000 gate results on a busy 2-core machine; scrape every 30 s or slower.
  with results as materialized (
    select r.sub_agent_code, r.verdict, r.skipped, r.duration_ms, r.hit_count,
           coalesce(r.error like 'invalid_result:%', false) as invalid,
           jsonb_array_length(r.fixes) > 0 as normalized,
           r.metadata ->> 'idempotent_hit' = 'true' as hit,
           r.created_at > now() - c_window as recent
    from public.sub_agent_execution_results r
  ), handoffs as materialized (
    select h.handoff_type, h.status, h.execution_time_ms, h.created_at > now() - c_window as recent
    from public.sd_phase_handoffs h
  ), attempts as (
    select count(*) as n, count(*) filter (where a.status = 'in_progress') as in_progress,
           min(a.started_at) filter (where a.status = 'in_progress') as oldest_in_progress
    from public.handoff_attempts a
  ), outbox as (
    select count(*) as pending, min(n.created_at) as oldest from public.transition_notifications n
  ), audits as materialized (
    select a.status,
           -- fn_promotion_gate's definition: ENFORCE would refuse it on the threshold.
           coalesce(a.would_reject or a.score < a.threshold, false) as would_reject,
           a.created_at > now() - c_window as recent
    from public.sd_transition_audit a
  )
  select jsonb_build_object(
    'generated_at', clock_timestamp(),
    'window_s', extract(epoch from c_window)::int,
    'handoff_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_handoff_bounds) b),
    'gate_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_gate_bounds) b),

    -- -------------------------------------------------------------- handoffs and transitions
    'handoffs', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type, 'verdict', x.status, 'count', x.n)
                       order by x.handoff_type, x.status)
      from (select h.handoff_type, h.status, count(*) as n from handoffs h group by 1, 2) x), '[]'::jsonb),
    'handoff_durations', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type) || x.histogram order by x.handoff_type)
      from (select h.handoff_type, public.metrics_histogram(array_agg(h.execution_time_ms), c_handoff_bounds) as histogram
            from handoffs h where h.execution_time_ms is not null group by 1) x), '[]'::jsonb),
    'transitions', coalesce((
      select jsonb_object_agg(x.status, x.n) from (select a.status, count(*) as n from audits a group by 1) x), '{}'::jsonb),
    'would_reject', (select count(*) from audits a where a.would_reject),
    'attempts', (select a.n from attempts a),
    'attempts_in_progress', (select a.in_progress from attempts a),
    'oldest_in_progress_s', (select extract(epoch from clock_timestamp() - a.oldest_in_progress) from attempts a),
    -- the NOTIFY outbox: rows wait here until the transition_notifications sweep relays them
    -- (every second); a growing backlog or an old row means the relay has stopped
    'notifications_pending', (select o.pending from outbox o),
    'oldest_notification_pending_s', (select extract(epoch from clock_timestamp() - o.oldest) from outbox o),

    -- -------------------------------------------------------------- gates
    'gate_results', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code, 'verdict', x.verdict, 'count', x.n,
                                          'invalid', x.invalid, 'normalized', x.normalized, 'hits', x.hits)
                       order by x.sub_agent_code, x.verdict)
      from (select r.sub_agent_code, r.verdict, count(*) as n, count(*) filter (where r.invalid) as invalid,
                   count(*) filter (where r.normalized) as normalized, coalesce(sum(r.hit_count), 0) as hits
            from results r group by 1, 2) x), '[]'::jsonb),
    'gate_durations', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code) || x.histogram order by x.sub_agent_code)
      from (select r.sub_agent_code, public.metrics_histogram(array_agg(r.duration_ms), c_gate_bounds) as histogram
            from results r where not r.skipped and r.duration_ms is not null group by 1) x), '[]'::jsonb),
    'http_idempotent_hits', (select coalesce(sum(k.hits), 0) from public.http_idempotency_keys k),
    'breakers', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', b.sub_agent_code, 'state', b.state) order by b.sub_agent_code)
      from public.sub_agent_breaker_status b where b.active), '[]'::jsonb),

    -- -------------------------------------------------------------- validation mode, unknown inputs
    'mode_store', v_mode_store,
    'unknown_inputs', coalesce((
      select jsonb_object_agg(x.kind, x.n)
      from (select u.kind, count(*) as n from public.unknown_inputs u group by 1) x), '{}'::jsonb),

    -- -------------------------------------------------------------- the runbook's rates, last hour
    -- null when nothing happened in the window (a rate of nothing is not zero).
    'ratios', (
      select jsonb_build_object(
        'transition_failure', (select count(*) filter (where a.status = 'failed')::numeric
                                      / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0)
                               from audits a where a.recent),
        'would_reject', (select count(*) filter (where a.would_reject)::numeric
                                / nullif(count(*) filter (where a.status in ('completed', 'rejected', 'failed')), 0)
                         from audits a where a.recent),
        'idempotent_hit', (select count(*) filter (where r.hit)::numeric / nullif(count(*), 0) from results r where r.recent),
        'gate_validation_failure', (select count(*) filter (where r.invalid)::numeric / nullif(count(*), 0)
                                    from results r where r.recent and not r.skipped),
        -- unknown inputs / requests, requests = judged handoffs + unknown inputs (fn_promotion_gate's
        -- definition): a request either reached a verdict or was refused as not normalisable.
        'unknown_input', (select u.n::numeric / nullif(u.n + j.n, 0)
                          from (select count(*) as n from public.unknown_inputs i where i.at > now() - c_window) u,
                               (select count(*) as n from audits a where a.recent and a.status in ('completed', 'rejected', 'failed')) j),
        'handoff_avg_duration_s', (select avg(h.execution_time_ms) / 1000.0 from handoffs h where h.recent)))
  ) into v_result;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_normalise_gate_result (
  p_raw jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  r jsonb := p_raw;
  v_fixes jsonb := '[]';
begin
  if jsonb_typeof(r) is distinct from 'object' then
    raise exception using errcode = 'SG010',
      message = format('INVALID_GATE_RESULT: a gate result must be a JSON object (got %s)', coalesce(jsonb_typeof(r), 'null'));
  end if;
  if r ? 'pass' and not r ? 'passed' then
    r := jsonb_set(r, '{passed}', r->'pass');
    v_fixes := v_fixes || '"pass -> passed"';
  end if;
  if r ? 'max_score' and not r ? 'maxScore' then
    r := jsonb_set(r, '{maxScore}', r->'max_score');
    v_fixes := v_fixes || '"max_score -> maxScore"';
  end if;
  r := r - 'pass' - 'max_score' - 'code';
  case jsonb_typeof(r->'passed')
    when 'number' then
      r := jsonb_set(r, '{passed}', to_jsonb((r->>'passed')::numeric > 0));
      v_fixes := v_fixes || '"passed coerced from number"';
    when 'string' then
      if lower(r->>'passed') not in ('true', 'false') then
        raise exception using errcode = 'SG010',
          message = format('INVALID_GATE_RESULT: passed must be boolean (got %s)', r->'passed');
      end if;
      r := jsonb_set(r, '{passed}', to_jsonb(lower(r->>'passed') = 'true'));
      v_fixes := v_fixes || '"passed coerced from string"';
    when 'boolean' then null;
    else
      r := jsonb_set(r, '{passed}', 'false');
      v_fixes := v_fixes || '"default passed = false"';
  end case;
  if jsonb_typeof(r->'score') is distinct from 'number' and r->>'score' ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then
    r := jsonb_set(r, '{score}', to_jsonb((r->>'score')::numeric));
    v_fixes := v_fixes || '"score coerced from string"';
  elsif r->'score' is null or jsonb_typeof(r->'score') = 'null' then
    r := jsonb_set(r, '{score}', '0');
    v_fixes := v_fixes || '"default score = 0"';
  end if;
  if r->'maxScore' is null or jsonb_typeof(r->'maxScore') = 'null' then
    r := jsonb_set(r, '{maxScore}', '100');
    v_fixes := v_fixes || '"default maxScore = 100"';
  end if;
  if r->'issues' is null or jsonb_typeof(r->'issues') = 'null' then
    r := jsonb_set(r, '{issues}', '[]');
    v_fixes := v_fixes || '"default issues = []"';
  elsif jsonb_typeof(r->'issues') = 'string' then
    r := jsonb_set(r, '{issues}', jsonb_build_array(r->'issues'));
    v_fixes := v_fixes || '"issues made an array"';
  end if;
  if r->'warnings' is null or jsonb_typeof(r->'warnings') = 'null' then
    r := jsonb_set(r, '{warnings}', '[]');
    v_fixes := v_fixes || '"default warnings = []"';
  elsif jsonb_typeof(r->'warnings') = 'string' then
    r := jsonb_set(r, '{warnings}', jsonb_build_array(r->'warnings'));
    v_fixes := v_fixes || '"warnings made an array"';
  end if;
  return r || jsonb_build_object('fixes', coalesce(r->'fixes', '[]') || v_fixes);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_normalise_handoff_type (
  p_handoff_type text
)
  RETURNS text
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
begin
  return coalesce(public.normalize_handoff_type(p_handoff_type) ->> 'normalized', upper(btrim(p_handoff_type)));
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_promotion_gate (
  p_scope text DEFAULT '*'::text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_set public.validation_mode_settings;
  v_since timestamptz;
  v_handoffs int;
  v_below int;
  v_unknown int;
  v_wr numeric;
  v_ur numeric;
  v_reasons text[] := '{}';
  v_window text;
begin
  perform public.fn_check_mode_scope(p_scope);
  select * into strict v_set from public.validation_mode_settings;
  v_since := now() - v_set.canary_window;
  v_window := trim_scale(round(extract(epoch from v_set.canary_window) / 60, 2)) || ' minutes';

  select count(*)::int, (count(*) filter (where a.would_reject or a.score < a.threshold))::int
  into v_handoffs, v_below
  from public.sd_transition_audit a
  where a.created_at >= v_since and a.status in ('completed', 'rejected', 'failed')  -- judged; abandoned attempts never were
    and (p_scope = '*' or exists (select 1 from public.handoff_attempts h where h.id = a.attempt_id and h.sd_type = p_scope));
  select count(*)::int into v_unknown
  from public.unknown_inputs u
  where u.at >= v_since and (p_scope = '*' or u.sd_type is null or u.sd_type = p_scope);

  v_wr := round(v_below::numeric / nullif(v_handoffs, 0), 6);
  v_ur := round(v_unknown::numeric / nullif(v_handoffs + v_unknown, 0), 6);
  if v_handoffs < v_set.min_handoffs then
    v_reasons := v_reasons || format('only %s handoffs judged in the last %s (at least %s needed to judge)',
                                     v_handoffs, v_window, v_set.min_handoffs);
  end if;
  if coalesce(v_wr, 0) > v_set.max_would_reject_rate then
    v_reasons := v_reasons || format('would-reject rate %s%% (%s of %s handoffs) is above %s%% over the last %s',
                                     trim_scale(round(v_wr * 100, 2)), v_below, v_handoffs,
                                     trim_scale(v_set.max_would_reject_rate * 100), v_window);
  end if;
  if coalesce(v_ur, 0) > v_set.max_unknown_rate then
    v_reasons := v_reasons || format('unknown-input rate %s%% (%s of %s requests) is above %s%% over the last %s',
                                     trim_scale(round(v_ur * 100, 2)), v_unknown, v_handoffs + v_unknown,
                                     trim_scale(v_set.max_unknown_rate * 100), v_window);
  end if;
  return jsonb_build_object(
    'scope', p_scope, 'ok', cardinality(v_reasons) = 0, 'reasons', to_jsonb(v_reasons),
    'window', v_window, 'window_seconds', extract(epoch from v_set.canary_window)::int, 'since', v_since,
    'handoffs', v_handoffs, 'would_reject', v_below, 'would_reject_rate', v_wr,
    'unknown_inputs', v_unknown, 'requests', v_handoffs + v_unknown, 'unknown_rate', v_ur,
    'min_handoffs', v_set.min_handoffs, 'max_would_reject_rate', v_set.max_would_reject_rate,
    'max_unknown_rate', v_set.max_unknown_rate);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_purge_webhook_ids()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_deleted int;
begin
  delete from public.ops_webhook_ids w
  where w.webhook_ts < now() - (select s.webhook_tolerance from public.validation_mode_settings s) - interval '1 minute';
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_raise_sd_moved (
  p_sd_uuid uuid,
  p_sd_id   text
)
  RETURNS void
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
begin
  if exists (select 1 from public.strategic_directives_v2 s where s.uuid = p_sd_uuid) then
    raise exception using errcode = 'SG008',
      message = format('ALREADY_TRANSITIONED: the phase, status or transition_version of strategic directive %L changed while this handoff completed',
                       p_sd_id);
  end if;
  raise exception using errcode = 'SG002',
    message = format('SD_NOT_FOUND: strategic directive %L was deleted while this handoff completed', p_sd_id);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_record_gate_result (
  p_attempt_id      uuid,
  p_gate_code       text,
  p_result          jsonb,
  p_idempotency_key text    DEFAULT NULL::text,
  p_duration_ms     integer DEFAULT NULL::integer,
  p_attempts        integer DEFAULT 1
)
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true)
$function$;

CREATE OR REPLACE FUNCTION public.fn_record_unknown_input (
  p_kind    text,
  p_input   text,
  p_sd_type text DEFAULT NULL::text,
  p_source  text DEFAULT 'handoff'::text
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  insert into public.unknown_inputs (kind, input, sd_type, source)
  values (p_kind, left(coalesce(p_input, ''), 200), left(p_sd_type, 40), left(coalesce(p_source, 'handoff'), 100))
$function$;

CREATE OR REPLACE FUNCTION public.fn_release_sd (
  p_sd_id      text,
  p_session_id text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_held_by text;
begin
  delete from public.sd_claims c where c.sd_id = v_sd.id and c.session_id = p_session_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select c.session_id into v_held_by from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false, 'held_by', v_held_by);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_resolve_sd (
  p_sd_ref text
)
  RETURNS public.strategic_directives_v2
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2;
begin
  if p_sd_ref is null or btrim(p_sd_ref) = '' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_sd_id is required';
  end if;
  if p_sd_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_sd from public.strategic_directives_v2 s where s.uuid = p_sd_ref::uuid;
  else
    select * into v_sd from public.strategic_directives_v2 s where s.id = p_sd_ref;
  end if;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L not found', p_sd_ref);
  end if;
  return v_sd;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_retry_handoff_request (
  p_id uuid
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_req public.handoff_requests;
begin
  update public.handoff_requests r
     set status = 'pending', attempts = 0, run_after = now(), finished_at = null, locked_until = null, locked_by = null
   where r.id = p_id and r.status = 'error'
  returning * into v_req;
  if not found then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: handoff request %s does not exist or is not in status error', p_id);
  end if;
  if public.fn_dispatch_handoff_request(v_req.id) is null then
    perform pg_notify('stagegate_handoff_request', v_req.id::text);
  end if;
  return jsonb_build_object('id', v_req.id, 'status', 'pending');
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_run_sweep (
  p_name text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sweep public.sweep_schedule;
  v_started timestamptz := clock_timestamp();
  v_result jsonb;
  v_error text;
begin
  select * into v_sweep from public.sweep_schedule s where s.name = p_name;
  if not found then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: no sweep %L (known: %s)', p_name,
                       (select string_agg(s.name, ', ' order by s.name) from public.sweep_schedule s));
  end if;
  begin
    execute format('select %s()', v_sweep.sql_function) into v_result;
  exception when others then
    v_error := format('%s: %s', sqlstate, sqlerrm);
  end;
  update public.sweep_schedule s
     set last_run_at = v_started, last_result = v_result, last_error = v_error,
         last_duration_ms = (extract(epoch from clock_timestamp() - v_started) * 1000)::int
   where s.name = p_name;
  return jsonb_build_object('name', p_name, 'ok', v_error is null, 'result', v_result, 'error', v_error);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_run_sweeps()
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select coalesce(jsonb_object_agg(s.name, public.fn_run_sweep(s.name) - 'name'), '{}')
  from (select name from public.sweep_schedule where enabled order by name) s
$function$;

CREATE OR REPLACE FUNCTION public.fn_schedule_sweeps()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sweep public.sweep_schedule;
  v_jobs jsonb := '{}';
begin
  if to_regprocedure('cron.schedule(text,text,text)') is null then
    return jsonb_build_object('pg_cron', false, 'jobs', v_jobs);
  end if;
  for v_sweep in select * from public.sweep_schedule order by name loop
    if v_sweep.enabled then
      execute 'select cron.schedule($1, $2, $3)'
        using 'stagegate_' || v_sweep.name, public.fn_sweep_cron_schedule(v_sweep.interval),
              format('select public.fn_run_sweep(%L)', v_sweep.name);
      v_jobs := v_jobs || jsonb_build_object(v_sweep.name, public.fn_sweep_cron_schedule(v_sweep.interval));
    elsif to_regclass('cron.job') is not null then
      execute 'select cron.unschedule(jobid) from cron.job where jobname = $1' using 'stagegate_' || v_sweep.name;
    end if;
  end loop;
  return jsonb_build_object('pg_cron', true, 'jobs', v_jobs);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sd_context (
  p_sd public.strategic_directives_v2
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'sd', to_jsonb(p_sd),
    'prd', (select to_jsonb(p) from public.product_requirements_v2 p where p.sd_id = p_sd.id),
    'stories', coalesce((select jsonb_agg(to_jsonb(u) order by u.story_key)
                         from public.user_stories u where u.sd_id = p_sd.id), '[]'))
$function$;

CREATE OR REPLACE FUNCTION public.fn_sd_lock_key (
  p_sd_uuid uuid
)
  RETURNS bigint
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
begin
  return ('x' || left(replace(p_sd_uuid::text, '-', ''), 16))::bit(64)::bigint;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sd_state (
  p_sd_id text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
begin
  return (
    select jsonb_build_object(
      'sd_phase', s.current_phase, 'sd_status', s.status, 'transition_version', s.transition_version,
      'prd_id', p.id, 'prd_status', p.status,
      'user_stories', coalesce((select jsonb_object_agg(x.status, x.n)
                                from (select u.status, count(*) as n from public.user_stories u
                                      where u.sd_id = s.id group by u.status) x), '{}'))
    from public.strategic_directives_v2 s
    left join public.product_requirements_v2 p on p.sd_id = s.id
    where s.id = p_sd_id);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sd_threshold (
  p_sd_type text
)
  RETURNS numeric
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
begin
  return coalesce(
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = p_sd_type),
    (select t.gate_threshold from public.threshold_profiles t where t.sd_type = 'default'),
    85);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_set_validation_mode (
  p_scope  text,
  p_mode   text,
  p_reason text,
  p_force  boolean DEFAULT false
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_mode text := upper(btrim(p_mode));
  v_reason text := btrim(p_reason);
  v_row_mode text;
  v_old text;
  v_gate jsonb;
  v_forced boolean := false;
  v_change_id bigint;
  v_actor text;
  v_at timestamptz;
begin
  -- ---------------------------------------------------------------- validation
  perform public.fn_check_mode_scope(p_scope);
  if v_mode is null or v_mode not in ('OFF', 'WARN', 'ENFORCE') then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: mode must be OFF, WARN or ENFORCE (got %L)', left(p_mode, 50));
  end if;
  if v_reason is null or v_reason = '' or length(v_reason) > 500 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a reason (1..500 characters) is required for every mode change';
  end if;

  -- One mode change at a time, so the gate judges the mode it replaces.
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  select m.mode into v_row_mode from public.validation_modes m where m.scope = p_scope;
  v_old := public.fn_get_validation_mode(p_scope);
  v_gate := public.fn_promotion_gate(p_scope);
  if v_row_mode = v_mode then
    return jsonb_build_object('changed', false, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                              'forced', false, 'gate', v_gate, 'change_id', null);
  end if;

  -- ---------------------------------------------------------------- promotion gate
  if v_mode = 'ENFORCE' and v_old <> 'ENFORCE' and not (v_gate->>'ok')::boolean then
    if not coalesce(p_force, false) then
      raise exception using errcode = 'SG015',
        message = format('PROMOTION_BLOCKED: %s -> ENFORCE for scope %L refused: %s; pass force with a reason to override',
                         v_old, p_scope, array_to_string(array(select jsonb_array_elements_text(v_gate->'reasons')), '; ')),
        detail = v_gate::text;
    end if;
    v_forced := true;
  end if;

  -- ---------------------------------------------------------------- change (audited by trigger)
  perform set_config('stagegate.mode_change', jsonb_build_object(
    'reason', v_reason, 'forced', v_forced, 'gate', v_gate,
    'via', coalesce(nullif(current_setting('stagegate.mode_via', true), ''), 'fn_set_validation_mode'))::text, true);
  insert into public.validation_modes as m (scope, mode, note) values (p_scope, v_mode, v_reason)
  on conflict (scope) do update set mode = excluded.mode, note = excluded.note;
  perform set_config('stagegate.mode_change', '', true);
  select c.id, c.actor, c.at into v_change_id, v_actor, v_at
  from public.validation_mode_changes c where c.scope = p_scope order by c.id desc limit 1;

  return jsonb_build_object('changed', true, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                            'forced', v_forced, 'gate', v_gate, 'change_id', v_change_id, 'actor', v_actor, 'at', v_at);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_store_gate_result (
  p_attempt_id      uuid,
  p_gate_code       text,
  p_result          jsonb,
  p_idempotency_key text,
  p_duration_ms     integer,
  p_attempts        integer,
  p_orchestrated    boolean
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_attempt public.handoff_attempts;
  v_row public.sub_agent_execution_results;
  v_plan jsonb;
  v_skipped boolean;
begin
  if p_attempt_id is null or p_gate_code is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id and p_gate_code are required';
  end if;
  -- FOR SHARE: waits for a complete in flight, then sees the attempt's final status
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for share;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not exists (select 1 from public.leo_sub_agents s where s.code = p_gate_code) then
    raise exception using errcode = 'SG011', message = format('UNKNOWN_GATE: %L is not a registered sub-agent', p_gate_code);
  end if;

  update public.sub_agent_execution_results r
     set hit_count = r.hit_count + 1,
         metadata = r.metadata || jsonb_build_object('idempotent_hit', true, 'hit_count', r.hit_count + 1)
   where r.attempt_id = p_attempt_id and r.sub_agent_code = p_gate_code
  returning * into v_row;
  if found then
    return jsonb_build_object('result_id', v_row.id, 'idempotent_hit', true, 'result', public.fn_gate_result_json(v_row));
  end if;

  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: attempt %s is already %s; begin a new handoff to record new results', v_attempt.id, v_attempt.status);
  end if;
  perform public.fn_check_gate_result(p_gate_code, p_result);
  if p_attempts is not null and p_attempts < 0 or p_duration_ms is not null and p_duration_ms < 0 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempts and p_duration_ms must be >= 0';
  end if;

  select g into v_plan from jsonb_array_elements(v_attempt.gates) g where g->>'code' = p_gate_code;
  v_skipped := v_plan is null or (v_plan->>'skip')::boolean or coalesce((p_result->>'skipped')::boolean, false);

  insert into public.sub_agent_execution_results as r
    (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score, issues, warnings, fixes, skipped,
     skip_reason, error, attempts, duration_ms, idempotency_key, metadata)
  values (
    p_attempt_id, v_attempt.sd_id, p_gate_code,
    case when v_skipped then 'SKIPPED' when p_result->>'error' is not null then 'ERROR'
         when (p_result->>'passed')::boolean then 'PASS' else 'FAIL' end,
    (p_result->>'passed')::boolean, (p_result->>'score')::numeric, (p_result->>'maxScore')::numeric,
    coalesce(p_result->'issues', '[]'), coalesce(p_result->'warnings', '[]'), coalesce(p_result->'fixes', '[]'),
    v_skipped,
    case when v_plan is null then 'NOT_IN_PLAN' when (v_plan->>'skip')::boolean then v_plan->>'skip_reason'
         else p_result->>'skip_reason' end,
    p_result->>'error', coalesce(p_attempts, 1), p_duration_ms, p_idempotency_key,
    jsonb_build_object('orchestrated', p_orchestrated, 'idempotency_key', p_idempotency_key, 'idempotent_hit', false,
                       'session_id', v_attempt.session_id, 'phase', v_attempt.handoff_type))
  on conflict (attempt_id, sub_agent_code) do nothing
  returning * into v_row;
  if not found then
    -- a concurrent record of the same gate won; take the hit path
    return public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, p_orchestrated);
  end if;
  return jsonb_build_object('result_id', v_row.id, 'idempotent_hit', false, 'result', public.fn_gate_result_json(v_row));
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_breakers()
  RETURNS jsonb
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object('breakers_half_opened', public.fn_breaker_sweep())
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_cron_schedule (
  p_every interval
)
  RETURNS text
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  v_epoch numeric;
  s bigint;
begin
  -- plpgsql, not sql: an inlined CASE may fold extract(epoch from 'infinity')::bigint at plan time
  if p_every is null or not isfinite(p_every) then
    return null;
  end if;
  v_epoch := extract(epoch from p_every);
  if v_epoch <> trunc(v_epoch) or abs(v_epoch) > 1e12 then
    return null;
  end if;
  s := v_epoch::bigint;
  return case
    when s between 1 and 59 then format('%s seconds', s)
    when s between 60 and 3599 and s % 60 = 0 then case s / 60 when 1 then '* * * * *' else format('*/%s * * * *', s / 60) end
    when s between 3600 and 86399 and s % 3600 = 0 then case s / 3600 when 1 then '0 * * * *' else format('0 */%s * * *', s / 3600) end
    when s = 86400 then '0 0 * * *'
  end;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_expired_claims()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  delete from public.sd_claims c where c.expires_at <= now();
  get diagnostics v_count = row_count;
  return jsonb_build_object('expired_claims', v_count);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_handoff_responses()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_answer record;
  v_body jsonb;
  v_finished int := 0;
  v_dispatched int := 0;
  v_id uuid;
begin
  if to_regclass('net._http_response') is null then
    return jsonb_build_object('pg_net', false);
  end if;
  for v_answer in execute
    'select q.id, a.status_code, a.content, a.timed_out, a.error_msg
       from public.handoff_requests q join net._http_response a on a.id = q.net_request_id
      where q.status = ''running'' and q.locked_by = ''pg_net'''
  loop
    begin
      v_body := v_answer.content::jsonb;
    exception when others then
      v_body := jsonb_build_object('error', jsonb_build_object('code', 'NOT_JSON', 'message', left(coalesce(v_answer.error_msg, v_answer.content), 500)));
    end;
    if v_answer.timed_out or v_answer.status_code is null then
      v_body := jsonb_build_object('error', jsonb_build_object('code', 'NO_ANSWER', 'message', coalesce(v_answer.error_msg, 'timed out')));
    end if;
    perform public.fn_finish_handoff_request(v_answer.id, case when v_answer.timed_out then null else v_answer.status_code end, v_body);
    v_finished := v_finished + 1;
  end loop;
  perform public.fn_exhaust_handoff_requests();
  -- due retries, and requests whose answer never came (pg_net keeps answers for 6 hours)
  for v_id in
    select r.id from public.handoff_requests r
    where (r.status = 'pending' and r.run_after <= now()) or (r.status = 'running' and r.locked_until <= now())
    order by r.created_at
    for update skip locked
  loop
    if public.fn_dispatch_handoff_request(v_id) is not null then v_dispatched := v_dispatched + 1; end if;
  end loop;
  return jsonb_build_object('pg_net', true, 'answers_read', v_finished, 'dispatched', v_dispatched);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_idempotency (
  p_http_older_than interval DEFAULT '24:00:00'::interval
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_http int;
  v_webhooks int;
begin
  v_http := public.fn_idempotency_purge(p_http_older_than);
  -- dynamic: the webhook-id store belongs to another migration and may be absent
  if to_regprocedure('public.fn_purge_webhook_ids()') is not null then
    execute 'select public.fn_purge_webhook_ids()' into v_webhooks;
  end if;
  return jsonb_build_object('http_idempotency_keys', v_http, 'webhook_ids', v_webhooks);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_stuck_attempts (
  p_older_than interval DEFAULT '00:15:00'::interval
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  if p_older_than is null or p_older_than < interval '1 second' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_older_than must be at least 1 second (got %s)', p_older_than);
  end if;

  with stuck as (
    select a.*, gen_random_uuid() as new_audit_id, public.fn_sd_state(a.sd_id) as state,
           (select count(*) from jsonb_array_elements(a.gates) g where not (g->>'skip')::boolean) as planned,
           (select count(*) from public.sub_agent_execution_results r where r.attempt_id = a.id and not r.skipped) as recorded
    from public.handoff_attempts a
    where a.status = 'in_progress' and a.started_at < now() - p_older_than
    order by a.started_at
    for update skip locked
  ),
  logged as (
    select s.*, jsonb_build_object(
      'error_code', 'ABANDONED',
      'error_message', format('handoff attempt %s (%s of %s) was in progress for %s without completing; closed by the stuck-attempt sweep',
                              s.id, s.handoff_type, s.sd_id, date_trunc('second', now() - s.started_at)),
      'failed_step', case when s.recorded < s.planned then '2. Run gates' else '3. Complete' end,
      'pre_state', s.state,
      'partial_state', jsonb_build_object('gate_results_recorded', s.recorded, 'gates_to_run', s.planned,
                                          'state_changed', false, 'rolled_back', false),
      'recovery_action', format('No state was changed: %s is still in %s. Run the handoff again with a new request id; if it hangs again, check the gates'' timeouts and breakers (public.sub_agent_breaker_status).',
                                s.sd_id, s.from_phase)) as error
    from stuck s
  ),
  audit as (
    insert into public.sd_transition_audit
      (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
       error_details, error_message, started_at, completed_at)
    select l.new_audit_id, l.sd_id, l.sd_uuid, l.handoff_type, l.session_id, l.request_id, l.id, l.state, l.state, 'abandoned',
           l.error, l.error->>'error_message', l.started_at, clock_timestamp()
    from logged l
    returning attempt_id
  )
  update public.handoff_attempts a
     set status = 'abandoned', finished_at = clock_timestamp(), audit_id = l.new_audit_id,
         -- the shape of fn_complete_handoff's answer: a replay of this request id returns it
         result = jsonb_build_object(
           'verdict', 'failed', 'attempt_id', l.id, 'request_id', l.request_id, 'audit_id', l.new_audit_id,
           'sd_id', l.sd_id, 'sd_uuid', l.sd_uuid, 'sd_type', l.sd_type, 'handoff_type', l.handoff_type,
           'from_phase', l.from_phase, 'to_phase', l.from_phase, 'transition_version', l.sd_version,
           'score', null, 'threshold', null, 'failed_gate', null, 'would_reject', false,
           'issues', jsonb_build_array(l.error->>'error_message'), 'warnings', '[]'::jsonb,
           'abandoned', true, 'replay', false, 'error', l.error)
    from logged l
   where a.id = l.id and a.id in (select attempt_id from audit);
  get diagnostics v_count = row_count;
  return jsonb_build_object('abandoned_attempts', v_count, 'older_than', p_older_than::text);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_transition_notifications (
  p_limit integer DEFAULT 5000
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int := 0;
  v_payload jsonb;
begin
  if p_limit is null or p_limit < 1 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_limit must be a positive number, got %s', coalesce(p_limit::text, 'null'));
  end if;
  if not pg_try_advisory_xact_lock(hashtext('stagegate.transition_notifications')::bigint) then
    return jsonb_build_object('transition_notifications', 0, 'busy', true);
  end if;
  for v_payload in
    with batch as (
      delete from public.transition_notifications n
      where n.id in (select o.id from public.transition_notifications o order by o.id limit p_limit)
      returning n.id, n.payload
    )
    select b.payload from batch b order by b.id
  loop
    perform pg_notify('stagegate_transition', v_payload::text);
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('transition_notifications', v_count);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_troubled_breakers (
  p_codes text[]
)
  RETURNS text[]
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  return coalesce((
    select array_agg(b.sub_agent_code order by b.sub_agent_code)
    from public.sub_agent_breakers b
    where b.sub_agent_code = any (p_codes)
      and (b.state <> 'closed' or b.consecutive_failures > 0)), '{}');
end;
$function$;

CREATE OR REPLACE FUNCTION public.idempotency_check_fingerprint (
  p_fingerprint text
)
  RETURNS void
  LANGUAGE plpgsql
  IMMUTABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_fingerprint is null or p_fingerprint !~ '^[0-9a-f]{64}$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: fingerprint must be a lowercase sha256 hex digest (got %L)', left(p_fingerprint, 100));
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION public.idempotency_check_key (
  p_scope text,
  p_key   text
)
  RETURNS void
  LANGUAGE plpgsql
  IMMUTABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_scope is null or length(p_scope) not between 1 and 255 or p_scope !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: idempotency scope must be 1..255 printable characters (got %L)', left(p_scope, 300));
  end if;
  if p_key is null or length(p_key) not between 1 and 255 or p_key !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: idempotency key must be 1..255 printable characters (got %L)', left(p_key, 300));
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION public.metrics_histogram (
  p_values_ms integer[],
  p_bounds_ms integer[]
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'count', coalesce(cardinality(p_values_ms), 0),
    'sum_s', coalesce((select sum(v) from unnest(p_values_ms) v), 0) / 1000.0,
    -- one count per bucket (not cumulative), cardinality(p_bounds_ms) + 1 of them
    'buckets', (select jsonb_agg(coalesce(c.n, 0) order by g.i)
                from generate_series(0, cardinality(p_bounds_ms)) g(i)
                left join (select width_bucket(v - 1, p_bounds_ms) as i, count(*) as n
                           from unnest(p_values_ms) v group by 1) c on c.i = g.i))
$function$;

CREATE OR REPLACE FUNCTION public.normalize_handoff_type (
  p_input text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
begin
  return public.normalize_stage_name('handoff', p_input);
end;
$function$;

CREATE OR REPLACE FUNCTION public.normalize_stage (
  p_input text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
begin
  return public.normalize_stage_name('phase', p_input);
end;
$function$;

CREATE OR REPLACE FUNCTION public.normalize_stage_name (
  p_kind  text,
  p_input text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
declare
  -- Bracket body of the separator set: SEPARATOR_CODE_POINTS in shared/stages.ts.
  c_sep constant text :=
    '\t\n\v\f\r _./:=>\\|~\u00a0\u1680\u2000-\u200b\u2010-\u2015\u2028\u2029\u202f\u205f'
    '\u2192\u21d2\u2212\u2794\u279c\u27f6\u27f9\u3000\ufeff-';
  c_lower constant text := 'abcdefghijklmnopqrstuvwxyz';
  c_upper constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  v_invalid constant jsonb := jsonb_build_object('normalized', null, 'fixes', '[]'::jsonb, 'suggestions', '[]'::jsonb);
  v_len int;
  v_key text;
  v_value text;
  v_fixes text[] := '{}';
begin
  if p_input is null then
    return v_invalid;
  end if;

  -- The cap is in UTF-16 code units, as JS string length counts: astral characters count twice.
  v_len := char_length(p_input);
  if v_len > 200
     or (v_len > 100
         and v_len + (select count(*)::int from regexp_matches(p_input, '[\U00010000-\U0010FFFF]', 'g')) > 200) then
    return v_invalid;
  end if;

  select sv.value into v_value
  from public.stage_vocabulary sv
  where sv.kind = p_kind and sv.value = p_input;
  if found then
    return jsonb_build_object('normalized', v_value, 'fixes', '[]'::jsonb, 'suggestions', '[]'::jsonb);
  end if;

  v_key := regexp_replace(translate(p_input, c_lower, c_upper), '[^A-Z0-9]', '', 'g');
  if p_input !~ ('[^A-Za-z0-9' || c_sep || ']') then
    select s.canonical into v_value
    from public.stage_synonyms s
    where s.kind = p_kind and s.alias = v_key;
  end if;
  if v_value is null then
    return jsonb_set(v_invalid, '{suggestions}', coalesce(public.stage_suggestions(p_kind, v_key), '[]'::jsonb));
  end if;

  if p_input ~ ('^[' || c_sep || ']') or p_input ~ ('[' || c_sep || ']$') then
    v_fixes := v_fixes || 'trim'::text;
  end if;
  if p_input ~ '[a-z]' then
    v_fixes := v_fixes || 'case'::text;
  end if;
  if v_key <> translate(v_value, '_-', '') then
    v_fixes := v_fixes || 'synonym'::text;
  elsif translate(regexp_replace(p_input, '^[' || c_sep || ']+|[' || c_sep || ']+$', '', 'g'), c_lower, c_upper)
        <> v_value then
    v_fixes := v_fixes || 'separators'::text;
  end if;
  return jsonb_build_object('normalized', v_value, 'fixes', to_jsonb(v_fixes), 'suggestions', '[]'::jsonb);
end;
$function$;

CREATE OR REPLACE FUNCTION public.parse_stage_distribution (
  p_input jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
declare
  v_type text := coalesce(jsonb_typeof(p_input), 'null');
  v_reject text;
  v_result jsonb;
begin
  if v_type not in ('object', 'array', 'string') then
    v_reject := v_type;
  elsif v_type = 'array' and jsonb_array_length(p_input) > 10000 then
    v_reject := 'too-many-entries';
  elsif v_type = 'object' and (select count(*) from jsonb_object_keys(p_input)) > 10000 then
    v_reject := 'too-many-entries';
  end if;
  if v_reject is not null then
    return jsonb_build_object(
      'normalized', '{}'::jsonb,
      'invalidInputs', jsonb_build_array('#input:' || v_reject),
      'suggestions', jsonb_build_object('#input:' || v_reject, '[]'::jsonb),
      'sum', 0);
  end if;

  with entries as (
    -- idx orders invalid inputs: array position for arrays; 0 for object keys, which are then
    -- ordered by code point (collate "C"), as compareCodePoints does in the TypeScript.
    select e.key as name, e.value as count, 0::bigint as idx, 'string' as json_type
    from jsonb_each(p_input) e
    where v_type = 'object'
    union all
    select case when jsonb_typeof(a.elem) = 'string' then a.elem #>> '{}' end, '1'::jsonb, a.ord - 1, jsonb_typeof(a.elem)
    from jsonb_array_elements(case when v_type = 'array' then p_input else '[]'::jsonb end) with ordinality as a (elem, ord)
    union all
    select p_input #>> '{}', '1'::jsonb, 0, 'string'
    where v_type = 'string'
  ),
  judged as (
    select e.*,
           case when e.name is not null then public.normalize_stage(e.name) end as res,
           case when jsonb_typeof(e.count) = 'number'
                then (select n = trunc(n) and n between 0 and 2147483647 from (select e.count::numeric as n) c)
                else false end as count_ok
    from entries e
  ),
  accepted as (
    select j.res ->> 'normalized' as stage, j.count::numeric as n
    from judged j
    where j.res ->> 'normalized' is not null and j.count_ok
  ),
  rejected as (
    select distinct on (input) input, sugg, idx
    from (
      select coalesce(j.name, '#' || j.idx || ':' || j.json_type) as input,
             case when j.name is not null and j.res ->> 'normalized' is null then j.res -> 'suggestions'
                  else '[]'::jsonb end as sugg,
             j.idx
      from judged j
      where j.name is null or j.res ->> 'normalized' is null or not j.count_ok
    ) r
    order by input, idx
  )
  select jsonb_build_object(
    'normalized', coalesce((select jsonb_object_agg(t.stage, t.total)
                            from (select a.stage, sum(a.n)::bigint as total from accepted a group by a.stage) t),
                           '{}'::jsonb),
    'invalidInputs', coalesce((select jsonb_agg(r.input order by r.idx, r.input collate "C") from rejected r), '[]'::jsonb),
    'suggestions', coalesce((select jsonb_object_agg(r.input, r.sugg) from rejected r), '{}'::jsonb),
    'sum', coalesce((select sum(a.n)::bigint from accepted a), 0))
  into v_result;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION public.stage_edit_distance (
  p_a   text,
  p_b   text,
  p_max integer
)
  RETURNS integer
  LANGUAGE plpgsql
  IMMUTABLE
  PARALLEL SAFE
  STRICT
  SET search_path TO ''
  AS $function$
declare
  a bytea := convert_to(p_a, 'UTF8');
  b bytea := convert_to(p_b, 'UTF8');
  n int := length(a);
  m int := length(b);
  cap int := p_max + 1;
  prev int[];
  curr int[];
  lo int;
  hi int;
  row_min int;
  v int;
  ca int;
begin
  if abs(n - m) > p_max then
    return cap;
  end if;
  if n = 0 or m = 0 then
    return least(n + m, cap);
  end if;
  -- prev[j + 1] is the distance between a's first i - 1 bytes and b's first j bytes.
  prev := array_fill(cap, array[m + 1]);
  for j in 0 .. least(m, p_max) loop
    prev[j + 1] := j;
  end loop;
  curr := prev;
  for i in 1 .. n loop
    lo := greatest(1, i - p_max);
    hi := least(m, i + p_max);
    row_min := case when lo = 1 then least(i, cap) else cap end;
    curr[lo] := row_min;
    ca := get_byte(a, i - 1);
    for j in lo .. hi loop
      v := least(prev[j] + (ca <> get_byte(b, j - 1))::int, prev[j + 1] + 1, curr[j] + 1, cap);
      curr[j + 1] := v;
      if v < row_min then
        row_min := v;
      end if;
    end loop;
    -- Outside this row's band: out of reach for the next row.
    if hi < m then
      curr[hi + 2] := cap;
    end if;
    if row_min > p_max then
      return cap;
    end if;
    prev := curr;
  end loop;
  return prev[m + 1];
end;
$function$;

CREATE OR REPLACE FUNCTION public.stage_suggestions (
  p_kind text,
  p_key  text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  PARALLEL SAFE
  STRICT
  SET search_path TO ''
  AS $function$
begin
  if p_key = '' then
    return '[]'::jsonb;
  end if;
  return (
    select coalesce(jsonb_agg(best.canonical order by best.distance, best.position), '[]'::jsonb)
    from (
      select s.canonical, min(d.distance) as distance, v.position
      from public.stage_synonyms s
      join public.stage_vocabulary v on v.kind = s.kind and v.value = s.canonical
      cross join lateral (select least(3, length(s.alias) / 2) as max_distance) m
      -- The length test first: most aliases are out of reach without computing anything.
      cross join lateral (select case when abs(length(p_key) - length(s.alias)) <= m.max_distance
                                      then public.stage_edit_distance(p_key, s.alias, m.max_distance)
                                      else m.max_distance + 1 end as distance) d
      where s.kind = p_kind
        and s.suggest
        and d.distance <= m.max_distance
      group by s.canonical, v.position
      order by 2, 3
      limit 3
    ) best);
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg__set_updated_at()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  new.updated_at := now();
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_handoff_requests__dispatch()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if public.fn_dispatch_handoff_request(new.id) is null then
    perform pg_notify('stagegate_handoff_request', new.id::text);
  end if;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_handoff_requests__freeze()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if (new.id, new.sd_id, new.handoff_type, new.session_id) is distinct from (old.id, old.sd_id, old.handoff_type, old.session_id) then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: handoff request %s: id, sd_id, handoff_type and session_id cannot change; insert a new request', old.id);
  end if;
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_leo_sub_agents__check_dag()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg_product_requirements_v2__guard()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.prd_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: PRD %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.id, old.status, new.status);
  end if;
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_strategic_directives_v2__guard()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if (new.current_phase, new.status, new.transition_version) is distinct from
     (old.current_phase, old.status, old.transition_version)
     and not public.fn_in_transition() then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: current_phase/status/transition_version of strategic directive %L change only through a handoff; call public.fn_execute_handoff (or fn_begin_handoff + fn_complete_handoff)', old.id);
  end if;
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_sub_agent_breakers__record_transition()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sub text := auth.jwt() ->> 'sub';
begin
  new.updated_at := now();
  if new.state is distinct from old.state then
    new.last_transition_at := now();
    insert into public.sub_agent_breaker_events
      (sub_agent_code, from_state, to_state, reason, consecutive_failures, last_error, actor, actor_uid)
    values (
      new.sub_agent_code, old.state, new.state,
      coalesce(nullif(current_setting('stagegate.breaker_reason', true), ''), 'direct update'),
      new.consecutive_failures, new.last_error,
      -- current_user is this function's owner; the 'role' setting is the caller's SET ROLE.
      coalesce(nullif(current_setting('role', true), 'none'), session_user),
      case when v_sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_sub::uuid end);
  end if;
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_threshold_profiles__audit()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg_user_stories__guard()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.story_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: user story %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.story_key, old.status, new.status);
  end if;
  return new;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_validation_modes__audit()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_ctx jsonb := nullif(current_setting('stagegate.mode_change', true), '')::jsonb;
  v_scope text := coalesce(new.scope, old.scope);
  v_global text := (select m.mode from public.validation_modes m where m.scope = '*');
  v_old text;
  v_new text;
  v_sub text := auth.jwt() ->> 'sub';
  v_row public.validation_mode_changes;
begin
  -- Effective modes: a missing override inherits the global mode (ENFORCE when even that is gone).
  v_old := case when tg_op = 'INSERT' then case when v_scope = '*' then 'ENFORCE' else coalesce(v_global, 'ENFORCE') end
                else old.mode end;
  v_new := case when tg_op = 'DELETE' then case when v_scope = '*' then 'ENFORCE' else coalesce(v_global, 'ENFORCE') end
                else new.mode end;
  insert into public.validation_mode_changes
    (scope, operation, old_mode, new_mode, actor, actor_uid, reason, forced, via, gate)
  values (
    v_scope, tg_op, v_old, v_new,
    -- current_user is this function's owner; the 'role' setting is the caller's SET ROLE.
    coalesce(nullif(current_setting('role', true), 'none'), session_user),
    case when v_sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_sub::uuid end,
    coalesce(v_ctx ->> 'reason', 'direct write outside fn_set_validation_mode (no promotion gate)'),
    coalesce((v_ctx ->> 'forced')::boolean, false),
    coalesce(v_ctx ->> 'via', 'direct write'),
    v_ctx -> 'gate')
  returning * into v_row;

  perform pg_notify('stagegate_mode', jsonb_build_object(
    'id', v_row.id, 'scope', v_row.scope, 'old_mode', v_row.old_mode, 'new_mode', v_row.new_mode,
    'actor', v_row.actor, 'reason', v_row.reason, 'forced', v_row.forced, 'via', v_row.via, 'at', v_row.at)::text);
  -- One structured line in the server log (LOG is not sent to the client by default).
  raise log '%', jsonb_build_object(
    'ts', v_row.at, 'level', 'info', 'msg', 'validation mode changed', 'scope', v_row.scope,
    'old_mode', v_row.old_mode, 'new_mode', v_row.new_mode, 'actor', v_row.actor, 'actor_uid', v_row.actor_uid,
    'reason', v_row.reason, 'forced', v_row.forced, 'via', v_row.via, 'timestamp', v_row.at)::text;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_validation_modes__stamp()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  new.updated_at := now();
  new.updated_by := current_user;
  return new;
end;
$function$;

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_handoff_type_fkey" FOREIGN KEY (handoff_type) REFERENCES public.handoff_types(code);

ALTER TABLE "public"."handoff_types"
  ADD CONSTRAINT "handoff_types_to_phase_fkey" FOREIGN KEY (to_phase) REFERENCES public.sd_phases(phase);

ALTER TABLE "public"."stage_synonyms"
  ADD CONSTRAINT "stage_synonyms_kind_canonical_fkey" FOREIGN KEY (kind, CANONICAL) REFERENCES public.stage_vocabulary(kind, VALUE);

ALTER TABLE "public"."strategic_directives_v2"
  ADD CONSTRAINT "strategic_directives_v2_current_phase_fkey" FOREIGN KEY (current_phase) REFERENCES public.sd_phases(phase);

ALTER TABLE "public"."product_requirements_v2"
  ADD CONSTRAINT "product_requirements_v2_sd_id_fkey" FOREIGN KEY (sd_id) REFERENCES public.strategic_directives_v2(id) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE "public"."sd_claims"
  ADD CONSTRAINT "sd_claims_sd_id_fkey" FOREIGN KEY (sd_id) REFERENCES public.strategic_directives_v2(id) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE "public"."sub_agent_breakers"
  ADD CONSTRAINT "sub_agent_breakers_sub_agent_code_fkey" FOREIGN KEY (sub_agent_code) REFERENCES public.leo_sub_agents(code) ON UPDATE CASCADE ON DELETE CASCADE;

ALTER TABLE "public"."sub_agent_execution_results"
  ADD CONSTRAINT "sub_agent_execution_results_attempt_id_fkey" FOREIGN KEY (attempt_id) REFERENCES public.handoff_attempts(id) ON DELETE CASCADE;

ALTER TABLE "public"."strategic_directives_v2"
  ADD CONSTRAINT "strategic_directives_v2_sd_type_fkey" FOREIGN KEY (sd_type) REFERENCES public.threshold_profiles(sd_type) ON UPDATE CASCADE;

ALTER TABLE "public"."user_stories"
  ADD CONSTRAINT "user_stories_prd_id_fkey" FOREIGN KEY (prd_id) REFERENCES public.product_requirements_v2(id) ON UPDATE CASCADE ON DELETE SET NULL;

ALTER TABLE "public"."user_stories"
  ADD CONSTRAINT "user_stories_sd_id_fkey" FOREIGN KEY (sd_id) REFERENCES public.strategic_directives_v2(id) ON UPDATE CASCADE ON DELETE CASCADE;

CREATE VIEW "public"."sub_agent_breaker_status" WITH (security_invoker=true) AS  SELECT a.code AS sub_agent_code,
    a.kind,
    a.active,
    COALESCE(b.state, 'closed'::text) AS state,
    COALESCE(b.consecutive_failures, 0) AS consecutive_failures,
    COALESCE(b.consecutive_successes, 0) AS consecutive_successes,
    COALESCE(b.failure_threshold, 5) AS failure_threshold,
    COALESCE(b.success_threshold, 2) AS success_threshold,
    COALESCE(b.reset_ms, 60000) AS reset_ms,
    b.opened_at,
        CASE
            WHEN (b.state = 'open'::text) THEN (b.opened_at + make_interval(secs => (((b.reset_ms)::numeric / 1000.0))::double precision))
            ELSE NULL::timestamp with time zone
        END AS half_open_at,
    COALESCE(((b.state = 'half_open'::text) AND (b.half_open_probe_until > now())), false) AS probe_in_flight,
    b.last_error,
    b.last_failure_at,
    b.last_transition_at,
    ( SELECT count(*) AS count
           FROM public.sub_agent_breaker_events e
          WHERE ((e.sub_agent_code = a.code) AND (e.at > (now() - '24:00:00'::interval)))) AS transitions_24h
   FROM (public.leo_sub_agents a
     LEFT JOIN public.sub_agent_breakers b ON ((b.sub_agent_code = a.code)));

CREATE VIEW "public"."v_gate_validation_failure_rate" WITH (security_invoker=true) AS  SELECT ((created_at AT TIME ZONE 'UTC'::text))::date AS day,
    sub_agent_code,
    count(*) AS results,
    count(*) FILTER (WHERE (error ~~ 'invalid_result:%'::text)) AS invalid,
    count(*) FILTER (WHERE (jsonb_array_length(fixes) > 0)) AS normalized,
    count(*) FILTER (WHERE (verdict = 'FAIL'::text)) AS failed,
    count(*) FILTER (WHERE (verdict = 'ERROR'::text)) AS errored,
    round(((100.0 * (count(*) FILTER (WHERE (error ~~ 'invalid_result:%'::text)))::numeric) / (count(*))::numeric), 2) AS validation_failure_rate_pct,
    round(((100.0 * (count(*) FILTER (WHERE (verdict = ANY (ARRAY['FAIL'::text, 'ERROR'::text]))))::numeric) / (count(*))::numeric), 2) AS gate_failure_rate_pct
   FROM public.sub_agent_execution_results r
  WHERE (NOT skipped)
  GROUP BY (((created_at AT TIME ZONE 'UTC'::text))::date), sub_agent_code;

CREATE VIEW "public"."v_handoff_duration" WITH (security_invoker=true) AS  SELECT ((created_at AT TIME ZONE 'UTC'::text))::date AS day,
    handoff_type,
    from_phase,
    to_phase,
    count(*) AS handoffs,
    round(avg(execution_time_ms), 1) AS avg_ms,
    percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((execution_time_ms)::double precision)) AS p50_ms,
    percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY ((execution_time_ms)::double precision)) AS p95_ms,
    max(execution_time_ms) AS max_ms
   FROM public.sd_phase_handoffs h
  WHERE (execution_time_ms IS NOT NULL)
  GROUP BY (((created_at AT TIME ZONE 'UTC'::text))::date), handoff_type, from_phase, to_phase;

CREATE VIEW "public"."v_idempotent_hit_rate" WITH (security_invoker=true) AS  SELECT 'sub_agent_result'::text AS source,
    ((r.created_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS records,
    count(*) FILTER (WHERE ((r.metadata ->> 'idempotent_hit'::text) = 'true'::text)) AS hit_records,
    COALESCE(sum(r.hit_count), (0)::bigint) AS duplicate_calls,
    round(((100.0 * (count(*) FILTER (WHERE ((r.metadata ->> 'idempotent_hit'::text) = 'true'::text)))::numeric) / (count(*))::numeric), 2) AS hit_rate_pct
   FROM public.sub_agent_execution_results r
  GROUP BY (((r.created_at AT TIME ZONE 'UTC'::text))::date)
UNION ALL
 SELECT 'http'::text AS source,
    ((k.created_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS records,
    count(*) FILTER (WHERE (k.hits > 0)) AS hit_records,
    COALESCE(sum(k.hits), (0)::bigint) AS duplicate_calls,
    round(((100.0 * (count(*) FILTER (WHERE (k.hits > 0)))::numeric) / (count(*))::numeric), 2) AS hit_rate_pct
   FROM public.http_idempotency_keys k
  GROUP BY (((k.created_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW "public"."v_latest_failed_transitions" WITH (security_invoker=true) AS  SELECT created_at,
    sd_id,
    transition_type,
    error_message,
    (error_details ->> 'error_code'::text) AS error_code,
    (error_details ->> 'failed_step'::text) AS failed_step,
    (error_details ->> 'recovery_action'::text) AS recovery_action,
    session_id,
    request_id,
    attempt_id
   FROM public.sd_transition_audit a
  WHERE (status = 'failed'::text)
  ORDER BY created_at DESC
 LIMIT 50;

CREATE VIEW "public"."v_orchestration_speed" WITH (security_invoker=true) AS  WITH per_attempt AS (
         SELECT r.attempt_id,
            min(r.created_at) AS first_at,
            count(*) AS executions,
            sum(r.duration_ms) AS gate_ms,
            avg(r.execution_time) AS avg_time_sec,
            max(r.execution_time) AS max_time_sec
           FROM public.sub_agent_execution_results r
          WHERE (((r.metadata ->> 'orchestrated'::text) = 'true'::text) AND (NOT r.skipped) AND (r.duration_ms IS NOT NULL))
          GROUP BY r.attempt_id
        )
 SELECT ((p.first_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS attempts,
    sum(p.executions) AS executions,
    round((sum((p.avg_time_sec * (p.executions)::numeric)) / NULLIF(sum(p.executions), (0)::numeric)), 3) AS avg_time_sec,
    max(p.max_time_sec) AS max_time_sec,
    round(avg(((p.gate_ms)::numeric / NULLIF((EXTRACT(epoch FROM (a.finished_at - a.started_at)) * (1000)::numeric), (0)::numeric))), 2) AS parallel_speedup
   FROM (per_attempt p
     JOIN public.handoff_attempts a ON ((a.id = p.attempt_id)))
  GROUP BY (((p.first_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW "public"."v_transition_success_rate" WITH (security_invoker=true) AS  SELECT ((created_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) FILTER (WHERE (status = 'completed'::text)) AS completed,
    count(*) FILTER (WHERE (status = 'rejected'::text)) AS rejected,
    count(*) FILTER (WHERE (status = 'failed'::text)) AS failed,
    count(*) FILTER (WHERE (would_reject OR (score < threshold))) AS would_reject,
    count(*) FILTER (WHERE (status = ANY (ARRAY['completed'::text, 'rejected'::text, 'failed'::text]))) AS judged,
    round(((100.0 * (count(*) FILTER (WHERE (status = 'completed'::text)))::numeric) / (NULLIF(count(*) FILTER (WHERE (status = ANY (ARRAY['completed'::text, 'failed'::text]))), 0))::numeric), 2) AS success_rate_pct,
    round(((100.0 * (count(*) FILTER (WHERE (status = 'failed'::text)))::numeric) / (NULLIF(count(*) FILTER (WHERE (status = ANY (ARRAY['completed'::text, 'failed'::text]))), 0))::numeric), 2) AS failure_rate_pct,
    round(((100.0 * (count(*) FILTER (WHERE (would_reject OR (score < threshold))))::numeric) / (NULLIF(count(*) FILTER (WHERE (status = ANY (ARRAY['completed'::text, 'rejected'::text, 'failed'::text]))), 0))::numeric), 2) AS would_reject_rate_pct
   FROM public.sd_transition_audit a
  GROUP BY (((created_at AT TIME ZONE 'UTC'::text))::date);

CREATE INDEX handoff_attempts_in_progress_idx ON public.handoff_attempts USING btree (started_at)
  WHERE (status = 'in_progress'::text);

CREATE INDEX handoff_attempts_sd_uuid_idx ON public.handoff_attempts USING btree (sd_uuid);

CREATE INDEX handoff_requests_net_idx ON public.handoff_requests USING btree (net_request_id)
  WHERE (net_request_id IS NOT NULL);

CREATE INDEX handoff_requests_pending_idx ON public.handoff_requests USING btree (run_after)
  WHERE (status = 'pending'::text);

CREATE INDEX handoff_requests_running_idx ON public.handoff_requests USING btree (locked_until)
  WHERE (status = 'running'::text);

CREATE INDEX http_idempotency_keys_created_at ON public.http_idempotency_keys USING btree (created_at);

CREATE INDEX ops_webhook_ids_ts ON public.ops_webhook_ids USING btree (webhook_ts);

CREATE INDEX sd_phase_handoffs_sd_id_idx ON public.sd_phase_handoffs USING btree (sd_id);

CREATE INDEX sd_transition_audit_created_idx ON public.sd_transition_audit USING btree (created_at DESC);

CREATE INDEX sd_transition_audit_sd_id_idx ON public.sd_transition_audit USING btree (sd_id, created_at DESC);

CREATE INDEX stage_backfill_log_run_idx ON public.stage_backfill_log USING btree (run_id, target, outcome);

CREATE INDEX strategic_directives_v2_sd_type_idx ON public.strategic_directives_v2 USING btree (sd_type);

CREATE INDEX sub_agent_breaker_events_code_at ON public.sub_agent_breaker_events USING btree (sub_agent_code, at DESC);

CREATE INDEX sub_agent_execution_results_key_idx ON public.sub_agent_execution_results USING btree (idempotency_key)
  WHERE (idempotency_key IS NOT NULL);

CREATE INDEX unknown_inputs_at ON public.unknown_inputs USING btree (at);

CREATE INDEX user_stories_prd_id_idx ON public.user_stories USING btree (prd_id)
  WHERE (prd_id IS NOT NULL);

CREATE INDEX user_stories_sd_id_idx ON public.user_stories USING btree (sd_id);

CREATE INDEX validation_mode_changes_scope_at ON public.validation_mode_changes USING btree (scope, at DESC);

CREATE TRIGGER _100_freeze
  BEFORE UPDATE ON public.handoff_requests
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_handoff_requests__freeze();

CREATE TRIGGER _900_dispatch
  AFTER INSERT ON public.handoff_requests
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_handoff_requests__dispatch();

CREATE TRIGGER tg_leo_sub_agents__check_dag
  AFTER INSERT OR DELETE OR UPDATE OF depends_on, code ON public.leo_sub_agents
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_leo_sub_agents__check_dag();

CREATE TRIGGER tg_leo_sub_agents__updated_at
  BEFORE UPDATE ON public.leo_sub_agents
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER tg_product_requirements_v2__guard
  BEFORE UPDATE ON public.product_requirements_v2
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_product_requirements_v2__guard();

CREATE TRIGGER tg_product_requirements_v2__updated_at
  BEFORE UPDATE ON public.product_requirements_v2
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER tg_sd_transition_audit__updated_at
  BEFORE UPDATE ON public.sd_transition_audit
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER tg_strategic_directives_v2__guard
  BEFORE UPDATE ON public.strategic_directives_v2
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_strategic_directives_v2__guard();

CREATE TRIGGER tg_strategic_directives_v2__updated_at
  BEFORE UPDATE ON public.strategic_directives_v2
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER _500_record_transition
  BEFORE UPDATE ON public.sub_agent_breakers
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_sub_agent_breakers__record_transition();

CREATE TRIGGER tg_sub_agent_execution_results__updated_at
  BEFORE UPDATE ON public.sub_agent_execution_results
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER tg_threshold_profiles__audit
  AFTER INSERT OR DELETE OR UPDATE ON public.threshold_profiles
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_threshold_profiles__audit();

CREATE TRIGGER tg_threshold_profiles__updated_at
  BEFORE UPDATE ON public.threshold_profiles
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER tg_user_stories__guard
  BEFORE UPDATE ON public.user_stories
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_user_stories__guard();

CREATE TRIGGER tg_user_stories__updated_at
  BEFORE UPDATE ON public.user_stories
  FOR EACH ROW
  EXECUTE FUNCTION public.tg__set_updated_at();

CREATE TRIGGER _900_audit
  AFTER INSERT OR DELETE ON public.validation_modes
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_validation_modes__audit();

CREATE TRIGGER _901_audit_update
  AFTER UPDATE ON public.validation_modes
  FOR EACH ROW
  WHEN ((old.mode IS DISTINCT FROM new.mode))
  EXECUTE FUNCTION public.tg_validation_modes__audit();

CREATE TRIGGER tg_validation_modes__stamp
  BEFORE INSERT OR UPDATE ON public.validation_modes
  FOR EACH ROW
  EXECUTE FUNCTION public.tg_validation_modes__stamp();

CREATE POLICY "stage_synonyms_read" ON "public"."stage_synonyms"
  FOR SELECT
  TO "authenticated", "service_role"
  USING (true);

CREATE POLICY "stage_vocabulary_read" ON "public"."stage_vocabulary"
  FOR SELECT
  TO "authenticated", "service_role"
  USING (true);

COMMENT ON COLUMN "public"."leo_sub_agents"."handoff_types" IS 'Handoff types this gate runs for; empty = all.';

COMMENT ON COLUMN "public"."leo_sub_agents"."sd_types" IS 'SD types this gate runs for; empty = all.';

COMMENT ON FUNCTION "public"."breaker_lock"(text) IS 'Internal to the fn_breaker_* RPCs: validates the code and returns its breaker row locked FOR UPDATE, creating it closed on first use.';

COMMENT ON FUNCTION "public"."breaker_reason"(text) IS 'Internal: the reason the transition trigger records for the next state change in this transaction.';

COMMENT ON FUNCTION "public"."fn_atomic_exec_to_plan_transition"(text, text, text, text) IS 'Seed entry point: complete the EXEC-TO-PLAN attempt begun under p_request_id (gate results recorded under it): SD -> EXEC_COMPLETE, PRD -> verification, stories -> validated, atomically. p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_atomic_lead_to_plan_transition"(text, text, text, text) IS 'Seed entry point: complete the LEAD-TO-PLAN attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_atomic_plan_to_exec_transition"(text, text, text, text) IS 'Seed entry point: complete the PLAN-TO-EXEC attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_atomic_plan_to_lead_transition"(text, text, text, text) IS 'Seed entry point: complete the PLAN-TO-LEAD attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_backfill_stage_batch"(text, integer, text) IS 'Normalise the next p_limit rows of one target (strategic_directives_v2 | sd_phase_handoffs | leo_sub_agents) after the run''s checkpoint, in one transaction with the checkpoint. Returns {run_id, target, done, scanned, updated, unknown: [{key, column, old}], last_key, batches, totals}.';

COMMENT ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer) IS 'Begin a handoff: resolve the SD (key or uuid), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free), freeze the gate plan (after skip rules) and a context snapshot. Same p_request_id returns the same attempt with replay=true. Returns {attempt_id, request_id, status, replay, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';

COMMENT ON FUNCTION "public"."fn_breaker_acquire"(text, integer) IS 'Ask the breaker of sub-agent p_code for permission to call it. Returns {allowed, state[, probe][, retry_at]}. closed: allowed. open: refused until reset_ms after opened_at, then half_open with this caller as the one probe (lease p_probe_lease_ms, use the gate timeout). half_open: refused while a probe lease is live. Raises SG011 UNKNOWN_GATE for an unregistered code.';

COMMENT ON FUNCTION "public"."fn_breaker_record"(text, boolean, text) IS 'Record the outcome of a sub-agent call. closed: failures count up to failure_threshold -> open, a success resets the count. half_open: a failure -> open (timer restarts); success_threshold successes -> closed, fewer release the probe lease. open: ignored. Returns {state}.';

COMMENT ON FUNCTION "public"."fn_breaker_reset"(text, text) IS 'Manual override: close the breaker of p_code and clear its counters. The transition is recorded with p_reason and the caller (role, JWT sub). Returns {state, previous_state, changed}.';

COMMENT ON FUNCTION "public"."fn_breaker_sweep"() IS 'Move every open breaker whose reset time has elapsed to half_open (no probe in flight yet); returns how many moved. For the scheduled sweep.';

COMMENT ON FUNCTION "public"."fn_check_invariants"() IS 'Checks the whole database and returns every violation (invariant, subject, detail): SD phase/version match the last completed transition; version counts completed transitions; PRD/story statuses that only a handoff sets are held only after one did; the audit chain (each completed audit''s directive pre_state equals the previous post_state); one terminal audit row per finished attempt; accepted handoff records and completed audits pair up; no orphan sub-agent results. Empty = consistent.';

COMMENT ON FUNCTION "public"."fn_check_skip_conditions"(text, text[]) IS 'Skip decisions for a list of validators and an SD type, from public.gate_skip_rules (the single source of truth). One row per validator: should_skip and reason_code (NON_APPLICABLE_SD_TYPE or LIGHTWEIGHT_SD_TYPE).';

COMMENT ON FUNCTION "public"."fn_claim_handoff_request"(text, interval, integer) IS 'Claim up to p_limit runnable handoff requests (pending and due, or running with an expired lease) for p_worker for p_lease, FOR UPDATE SKIP LOCKED. Running rows out of tries become error ATTEMPTS_EXHAUSTED. Returns the claimed rows.';

COMMENT ON FUNCTION "public"."fn_claim_sd"(text, text, integer) IS 'Claim (or renew) an SD for a session for p_lease_seconds (default 900). Raises SG005 CLAIMED_BY_OTHER_SESSION while another session holds an unexpired lease.';

COMMENT ON FUNCTION "public"."fn_claim_webhook_id"(text, timestamp with time zone) IS 'Claims a webhook-id: true the first time, false when it was seen before (a replay). Refuses (SG001) a timestamp older than validation_mode_settings.webhook_tolerance, the window fn_purge_webhook_ids keeps ids for. Call it in the transaction of the effect.';

COMMENT ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) IS 'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, transition_version, replay, error}.';

COMMENT ON FUNCTION "public"."fn_demote_validation_mode"(text, text) IS 'Moves ENFORCE to WARN for a scope (''*'' = the global mode and every enforcing override), with a reason; a scope not in ENFORCE is unchanged. Returns {changed, changes: [fn_set_validation_mode answers]}.';

COMMENT ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) IS 'Hosted: POST the request to <functions_url>/handoff with pg_net (Idempotency-Key handoff-request:<id>, service-role key from Vault) and mark it running. Returns the pg_net request id, or null when dispatch is not configured or pg_net is absent. Raises SG016 DISPATCH_NOT_CONFIGURED when the Vault secret is missing.';

COMMENT ON FUNCTION "public"."fn_evaluate_sql_gate"(uuid, text) IS 'Run a registered sql gate (target: a public.fn_gate_* function (jsonb) returns jsonb) over the attempt''s context snapshot and return its raw result. Does not record it: the caller records it with fn_record_gate_result.';

COMMENT ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) IS 'Run a whole handoff in one call: begin, record p_gate_results (JSON array of {code, passed, score, maxScore, issues, warnings}, normalised as seed pattern 7: pass/max_score aliases, coerced passed, defaults; a result for a gate outside the plan is stored as skipped and ignored), evaluate the plan''s sql gates not supplied, complete. Same p_request_id returns the first result (replay=true). Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_exhaust_handoff_requests"() IS 'Running handoff requests with an expired lease and no tries left become status error, code ATTEMPTS_EXHAUSTED. Returns how many. Called by fn_claim_handoff_request (local consumer) and fn_sweep_handoff_responses (pg_net) before they pick rows to run again.';

COMMENT ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) IS 'Write the handoff function''s answer (HTTP status, JSON body; status null = no answer) back to the request: 200 -> done with verdict; 429/5xx/SD_BUSY/IDEMPOTENCY_IN_FLIGHT/DB_UNAVAILABLE/no answer -> pending again after a backoff (1, 2, 4 ... 60 s) until max_attempts, then error ATTEMPTS_EXHAUSTED; anything else -> error. A request already done or error is left as it is. Returns {id, status, changed, attempts, run_after}.';

COMMENT ON FUNCTION "public"."fn_get_validation_mode"(text) IS 'Validation mode (OFF, WARN, ENFORCE) for an SD type: its override if any, else the global mode (scope *), else ENFORCE.';

COMMENT ON FUNCTION "public"."fn_idempotency_abandon"(text, text) IS 'Forget an in-flight key whose request failed in a way that must not be replayed (5xx, database unavailable), so the client may retry with the same key. A completed record is kept. Returns whether a record was deleted.';

COMMENT ON FUNCTION "public"."fn_idempotency_begin"(text, text, text, integer) IS 'Start a request under an Idempotency-Key. Returns {outcome, response_status, response_body, ...}: new (this request owns the key for p_lease_ms; took_over when an expired in-flight lease was taken), replay (stored response, hits counted), mismatch (key used with another fingerprint -> 422), in_flight (live lease, retry_after_ms -> 409).';

COMMENT ON FUNCTION "public"."fn_idempotency_complete"(text, text, text, integer, jsonb) IS 'Store the response of the request that owns (scope, key): only an in-flight record with the same fingerprint is updated, otherwise nothing changes.';

COMMENT ON FUNCTION "public"."fn_idempotency_purge"(interval) IS 'Delete idempotency records created more than p_older_than ago (default 24 hours), except in-flight ones with a live lease. Returns how many were deleted. For the scheduled sweep.';

COMMENT ON FUNCTION "public"."fn_metrics_snapshot"() IS 'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, attempts, unknown inputs; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';

COMMENT ON FUNCTION "public"."fn_promotion_gate"(text) IS 'Canary numbers for promoting a scope (''*'' or an sd_type) to ENFORCE over validation_mode_settings.canary_window: {ok, reasons, window, handoffs, would_reject, would_reject_rate, unknown_inputs, requests, unknown_rate, min_handoffs, max_would_reject_rate, max_unknown_rate}. Read only.';

COMMENT ON FUNCTION "public"."fn_purge_webhook_ids"() IS 'Deletes webhook ids whose signed timestamp is older than the tolerance plus one minute (fn_claim_webhook_id refuses those timestamps). Returns the number deleted. Run by the idempotency sweep (sweep_schedule).';

COMMENT ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) IS 'Record one normalised gate result ({passed, score, maxScore, issues, warnings, fixes?, skipped?, skip_reason?, error?}; checked, SG010 INVALID_GATE_RESULT) for an attempt. Idempotent per (attempt, gate): a repeat returns the stored result with idempotent_hit=true and counts the hit. Returns {result_id, idempotent_hit, result}.';

COMMENT ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text) IS 'Counts one request whose handoff_type/stage/phase input could not be normalised (kind handoff_type, stage or phase); read by fn_promotion_gate''s unknown-input rate.';

COMMENT ON FUNCTION "public"."fn_release_sd"(text, text) IS 'Release the SD if p_session_id holds it. Returns {released, held_by}; releasing a claim held by another session changes nothing.';

COMMENT ON FUNCTION "public"."fn_retry_handoff_request"(uuid) IS 'Put a request in status error back to pending with its tries reset. Safe: the retry uses the same Idempotency-Key, so a handoff that did run is replayed, not repeated.';

COMMENT ON FUNCTION "public"."fn_run_sweep"(text) IS 'Run the sweep p_name from sweep_schedule and record last_run_at, last_duration_ms, last_result and last_error on its row. Errors are caught and returned as {ok: false, error}. Returns {name, ok, result, error}.';

COMMENT ON FUNCTION "public"."fn_run_sweeps"() IS 'Run every enabled sweep once, now. Returns {<name>: {ok, result, error}} (for example result.expired_claims, result.abandoned_attempts).';

COMMENT ON FUNCTION "public"."fn_schedule_sweeps"() IS 'Schedule (or reschedule) every enabled sweep with pg_cron as job stagegate_<name>, unschedule disabled ones. Returns {pg_cron: false} where pg_cron is not installed (the local stack schedules them itself).';

COMMENT ON FUNCTION "public"."fn_set_validation_mode"(text, text, text, boolean) IS 'The one way to change a validation mode (scope ''*'' or an sd_type; OFF, WARN, ENFORCE) with a reason. A move to ENFORCE passes the promotion gate (fn_promotion_gate) or raises SG015 PROMOTION_BLOCKED with the rates, the count and the window in the message and the numbers as JSON detail; p_force overrides it and the change is audited forced = true. Audited in validation_mode_changes, NOTIFY stagegate_mode, one JSON LOG line. Returns {changed, scope, old_mode, new_mode, forced, gate, change_id, actor, at}.';

COMMENT ON FUNCTION "public"."fn_sweep_breakers"() IS 'Move open breakers whose reset timeout elapsed to half_open (fn_breaker_sweep). Returns {breakers_half_opened}.';

COMMENT ON FUNCTION "public"."fn_sweep_cron_schedule"(interval) IS 'The pg_cron schedule for a sweep interval (''30 seconds'', ''*/5 * * * *'', ''0 * * * *''), or null when pg_cron cannot express it.';

COMMENT ON FUNCTION "public"."fn_sweep_expired_claims"() IS 'Delete session claims whose lease has expired. Returns {expired_claims}. Scheduled by sweep_schedule ''expired_claims''.';

COMMENT ON FUNCTION "public"."fn_sweep_handoff_responses"() IS 'Hosted (pg_net): write pg_net''s answers for running requests back through fn_finish_handoff_request, then re-post due retries and requests whose answer was lost. Returns {pg_net: false} where pg_net is absent. Returns {pg_net, answers_read, dispatched}.';

COMMENT ON FUNCTION "public"."fn_sweep_idempotency"(interval) IS 'Purge HTTP Idempotency-Key records older than p_http_older_than (default 24 hours, live leases kept) and, if public.fn_purge_webhook_ids() exists, webhook ids past their window. Returns {http_idempotency_keys, webhook_ids (null when there is no webhook store)}.';

COMMENT ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) IS 'Mark handoff attempts in_progress for longer than p_older_than (default 15 minutes) as abandoned, each with one audit row of status abandoned carrying the Spartan error log (error_code ABANDONED, failed_step, pre_state, partial_state, recovery_action). Returns {abandoned_attempts, older_than}.';

COMMENT ON FUNCTION "public"."fn_sweep_transition_notifications"(integer) IS 'Send NOTIFY stagegate_transition for up to p_limit pending rows of transition_notifications, oldest first, and delete them, in one transaction. Returns {transition_notifications: count sent}. Scheduled by sweep_schedule ''transition_notifications'' (every second).';

COMMENT ON FUNCTION "public"."fn_troubled_breakers"(text[]) IS 'Of p_codes, the sub-agents whose breaker is open, half-open, or closed with failures counted: callers must use fn_breaker_acquire before running them and fn_breaker_record after. The others (closed with no failures, or no breaker yet) are admitted without a call, and a success needs no record.';

COMMENT ON FUNCTION "public"."idempotency_check_fingerprint"(text) IS 'Internal: raises SG001 INVALID_INPUT unless the fingerprint is 64 lowercase hex characters.';

COMMENT ON FUNCTION "public"."idempotency_check_key"(text, text) IS 'Internal: raises SG001 INVALID_INPUT unless scope and key are 1..255 printable ASCII characters.';

COMMENT ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) IS 'Internal to fn_metrics_snapshot: {count, sum_s, buckets} of millisecond values against millisecond bounds; buckets[i] counts values in (bounds[i-1], bounds[i]], the last one the values above every bound.';

COMMENT ON FUNCTION "public"."normalize_handoff_type"(text) IS 'Handoff type -> {"normalized": "EXEC-TO-PLAN" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeHandoffType.';

COMMENT ON FUNCTION "public"."normalize_stage"(text) IS 'Phase/stage name -> {"normalized": "EXEC" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeStage in shared/stages.ts.';

COMMENT ON FUNCTION "public"."parse_stage_distribution"(jsonb) IS 'Stage distribution -> {normalized, invalidInputs, suggestions, sum}; same answer as parseStageDistribution in shared/stages.ts.';

COMMENT ON TABLE "public"."handoff_request_dispatch" IS 'pg_net dispatch of handoff_requests on hosted Supabase: the functions URL and the Vault secret name of the service-role key. See docs/runbook.md, "Deploy".';

COMMENT ON TABLE "public"."handoff_requests" IS 'Insert {sd_id, handoff_type, session_id} to run a handoff; read status (pending|running|done|error), verdict and error back. Executed exactly once (Idempotency-Key handoff-request:<id>).';

COMMENT ON TABLE "public"."http_idempotency_keys" IS 'Idempotency-Key records per (scope, key); scope = function name + caller, so two callers never share a key. Kept 24 h (fn_idempotency_purge).';

COMMENT ON TABLE "public"."ops_webhook_ids" IS 'webhook-id values the ops webhook has acted on, with their signed timestamps; purged by fn_purge_webhook_ids.';

COMMENT ON TABLE "public"."stage_backfill_checkpoints" IS 'Progress of public.fn_backfill_stage_batch per (run, target): last primary key committed, counters, done.';

COMMENT ON TABLE "public"."stage_backfill_log" IS 'Every value the stage backfill changed (old -> new) and every value it left alone because no normaliser understood it.';

COMMENT ON TABLE "public"."stage_synonyms" IS 'Squashed keys (ASCII letters upper-cased, separators removed) accepted for each canonical value; suggest marks the aliases that "did you mean" compares against. Mirror of STAGE_ALIASES in shared/stages.ts.';

COMMENT ON TABLE "public"."stage_vocabulary" IS 'Canonical phase (= stage) names and handoff types; position breaks suggestion ties.';

COMMENT ON TABLE "public"."sub_agent_breakers" IS 'One circuit breaker per sub-agent (row created on first use). Tune failure_threshold, success_threshold and reset_ms per row; change state only through fn_breaker_* RPCs.';

COMMENT ON TABLE "public"."sweep_schedule" IS 'The single source of the sweeps'' intervals, for pg_cron (hosted) and stack/scheduler.ts (local). After changing a row on hosted Supabase run select public.fn_schedule_sweeps().';

COMMENT ON TABLE "public"."threshold_profiles" IS 'Minimum weighted gate score (0-100) per SD type; the row ''default'' applies to nothing by itself, it documents the fallback.';

COMMENT ON TABLE "public"."transition_notifications" IS 'Outbox of NOTIFY stagegate_transition payloads, one per accepted transition, written by fn_complete_handoff and sent and deleted by fn_sweep_transition_notifications.';

COMMENT ON TABLE "public"."validation_mode_changes" IS 'Every change of public.validation_modes: old and new effective mode, actor (role and auth.uid()), reason, forced, via (fn_set_validation_mode, ops-webhook, direct write) and the promotion-gate numbers at that moment.';

COMMENT ON TABLE "public"."validation_mode_settings" IS 'Promotion-gate settings (one row): canary window, highest would-reject and unknown-input rates that still allow WARN -> ENFORCE, fewest judged handoffs to judge by, webhook timestamp tolerance.';

COMMENT ON VIEW "public"."sub_agent_breaker_status" IS 'Circuit breaker of every registered sub-agent (closed when never used), with when an open one may probe again and its transitions in the last 24 h.';

COMMENT ON VIEW "public"."v_gate_validation_failure_rate" IS 'Per UTC day and sub-agent (skipped gates left out): results, invalid (failed the gate-result contract; alert > 10%), normalized (accepted after fixes), FAIL and ERROR verdicts, and their rates.';

COMMENT ON VIEW "public"."v_handoff_duration" IS 'Per UTC day and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max.';

COMMENT ON VIEW "public"."v_idempotent_hit_rate" IS 'Per source (sub_agent_result, http) and UTC day of the first record: records, records hit again, duplicate calls, hit_rate_pct (runbook target < 10%, alert > 50%). HTTP keys are purged after 24 h, so only recent days show for http.';

COMMENT ON VIEW "public"."v_latest_failed_transitions" IS 'The 50 most recent failed transitions with the Spartan error log (error_code, failed_step, recovery_action), newest first.';

COMMENT ON VIEW "public"."v_orchestration_speed" IS 'Per UTC day: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only).';

COMMENT ON VIEW "public"."v_transition_success_rate" IS 'Per UTC day: completed, rejected, failed and would-reject (would_reject or score below threshold) audit rows; success_rate_pct = completed / (completed + failed) (runbook: > 95%), failure_rate_pct (alert > 5%), would_reject_rate_pct = would_reject / judged.';

REVOKE ALL ON FUNCTION "public"."breaker_lock"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."breaker_lock"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."breaker_reason"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."breaker_reason"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_atomic_exec_to_plan_transition"(text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_atomic_exec_to_plan_transition"(text, text, text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_atomic_lead_to_plan_transition"(text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_atomic_lead_to_plan_transition"(text, text, text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_exec_transition"(text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_atomic_plan_to_exec_transition"(text, text, text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_lead_transition"(text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_atomic_plan_to_lead_transition"(text, text, text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_attempt_answer"(public.handoff_attempts, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_attempt_answer"(public.handoff_attempts, boolean) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_backfill_stage_batch"(text, integer, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_backfill_stage_batch"(text, integer, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_breaker_acquire"(text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_breaker_acquire"(text, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_breaker_record"(text, boolean, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_breaker_reset"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_breaker_reset"(text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_breaker_sweep"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_breaker_sweep"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_gate_result"(text, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_gate_result"(text, jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_invariants"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_mode_scope"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_mode_scope"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_check_skip_conditions"(text, text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_skip_conditions"(text, text[]) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_claim_handoff_request"(text, interval, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_claim_handoff_request"(text, interval, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_claim_sd"(text, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_claim_sd"(text, text, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_claim_webhook_id"(text, timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_claim_webhook_id"(text, timestamp WITH time zone) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_complete_by_request"(text, text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_complete_by_request"(text, text, text, text, text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_demote_validation_mode"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_demote_validation_mode"(text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_evaluate_sql_gate"(uuid, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_evaluate_sql_gate"(uuid, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_exhaust_handoff_requests"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_exhaust_handoff_requests"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_filled"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_filled"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_prd_complete"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_prd_complete"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_result_json"(public.sub_agent_execution_results) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_result_json"(public.sub_agent_execution_results) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_gate_score"(jsonb, boolean, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_score"(jsonb, boolean, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_sd_defined"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_sd_defined"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_done"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_stories_done"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_have_acceptance_criteria"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_stories_have_acceptance_criteria"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_validated"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_gate_stories_validated"(jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_get_validation_mode"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_get_validation_mode"(text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_handoff_gates"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_handoff_gates"(text, text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_abandon"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_idempotency_abandon"(text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_begin"(text, text, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_idempotency_begin"(text, text, text, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_complete"(text, text, text, integer, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_idempotency_complete"(text, text, text, integer, jsonb) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_purge"(interval) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_idempotency_purge"(interval) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_in_transition"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_in_transition"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_judge_attempt"(public.handoff_attempts) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_judge_attempt"(public.handoff_attempts) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_metrics_snapshot"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_metrics_snapshot"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_normalise_gate_result"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_normalise_gate_result"(jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_normalise_handoff_type"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_normalise_handoff_type"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_promotion_gate"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_promotion_gate"(text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_purge_webhook_ids"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_purge_webhook_ids"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_raise_sd_moved"(uuid, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_raise_sd_moved"(uuid, text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_release_sd"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_release_sd"(text, text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_resolve_sd"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_resolve_sd"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_retry_handoff_request"(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_retry_handoff_request"(uuid) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_run_sweep"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_run_sweep"(text) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_run_sweeps"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_run_sweeps"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_schedule_sweeps"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_schedule_sweeps"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sd_context"(public.strategic_directives_v2) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sd_context"(public.strategic_directives_v2) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_sd_lock_key"(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sd_lock_key"(uuid) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_sd_state"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sd_state"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_sd_threshold"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sd_threshold"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_set_validation_mode"(text, text, text, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_set_validation_mode"(text, text, text, boolean) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_store_gate_result"(uuid, text, jsonb, text, integer, integer, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_store_gate_result"(uuid, text, jsonb, text, integer, integer, boolean) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_sweep_breakers"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_breakers"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_cron_schedule"(interval) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_cron_schedule"(interval) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_claims"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_expired_claims"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_handoff_responses"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_handoff_responses"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_idempotency"(interval) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_idempotency"(interval) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_transition_notifications"(integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_transition_notifications"(integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_troubled_breakers"(text[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_troubled_breakers"(text[]) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."idempotency_check_fingerprint"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."idempotency_check_fingerprint"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."idempotency_check_key"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."idempotency_check_key"(text, text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) TO "postgres";

REVOKE ALL ON FUNCTION "public"."normalize_handoff_type"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."normalize_handoff_type"(text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."normalize_stage"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."normalize_stage"(text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."normalize_stage_name"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."normalize_stage_name"(text, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."parse_stage_distribution"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."parse_stage_distribution"(jsonb) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."stage_edit_distance"(text, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."stage_edit_distance"(text, text, integer) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."stage_suggestions"(text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."stage_suggestions"(text, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."tg__set_updated_at"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg__set_updated_at"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__dispatch"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_handoff_requests__dispatch"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__freeze"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_handoff_requests__freeze"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_leo_sub_agents__check_dag"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_leo_sub_agents__check_dag"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_product_requirements_v2__guard"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_product_requirements_v2__guard"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_strategic_directives_v2__guard"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_strategic_directives_v2__guard"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_sub_agent_breakers__record_transition"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_sub_agent_breakers__record_transition"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_threshold_profiles__audit"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_threshold_profiles__audit"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_user_stories__guard"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_user_stories__guard"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__audit"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_validation_modes__audit"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__stamp"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_validation_modes__stamp"() TO "postgres";

-- Table grants as GRANT ALL, not the privilege list pg-delta wrote on PostgreSQL 17 (it has MAINTAIN,
-- which PostgreSQL 15 rejects): the same privileges on 17, and the baseline applies on 15 (issue 12).
GRANT ALL ON TABLE "public"."gate_skip_rules" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."handoff_attempts" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."handoff_request_dispatch" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."handoff_requests" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."handoff_types" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."http_idempotency_keys" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."leo_sub_agents" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."ops_webhook_ids" TO "postgres";

REVOKE ALL ON TABLE "public"."ops_webhook_ids" FROM "service_role";

GRANT SELECT ON TABLE "public"."ops_webhook_ids" TO "service_role";

GRANT ALL ON TABLE "public"."product_requirements_v2" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sd_claims" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sd_phase_handoffs" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sd_phases" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sd_transition_audit" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sd_type_classes" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."stage_backfill_checkpoints" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."stage_backfill_log" TO "postgres", "service_role";

REVOKE ALL ON TABLE "public"."stage_synonyms" FROM "authenticated";

GRANT SELECT ON TABLE "public"."stage_synonyms" TO "authenticated";

GRANT ALL ON TABLE "public"."stage_synonyms" TO "postgres", "service_role";

REVOKE ALL ON TABLE "public"."stage_vocabulary" FROM "authenticated";

GRANT SELECT ON TABLE "public"."stage_vocabulary" TO "authenticated";

GRANT ALL ON TABLE "public"."stage_vocabulary" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."strategic_directives_v2" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sub_agent_breaker_events" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sub_agent_breakers" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sub_agent_execution_results" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."sweep_schedule" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."threshold_profile_audit" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."threshold_profiles" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."transition_notifications" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."unknown_inputs" TO "postgres";

REVOKE ALL ON TABLE "public"."unknown_inputs" FROM "service_role";

GRANT SELECT ON TABLE "public"."unknown_inputs" TO "service_role";

GRANT ALL ON TABLE "public"."user_stories" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."validation_mode_changes" TO "postgres";

REVOKE ALL ON TABLE "public"."validation_mode_changes" FROM "service_role";

GRANT SELECT ON TABLE "public"."validation_mode_changes" TO "service_role";

GRANT ALL ON TABLE "public"."validation_mode_settings" TO "postgres";

REVOKE ALL ON TABLE "public"."validation_mode_settings" FROM "service_role";

GRANT SELECT, UPDATE ON TABLE "public"."validation_mode_settings" TO "service_role";

GRANT ALL ON TABLE "public"."validation_modes" TO "postgres";

REVOKE DELETE, INSERT, TRUNCATE, UPDATE ON TABLE "public"."validation_modes" FROM "service_role";

GRANT ALL ON TABLE "public"."sub_agent_breaker_status" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_gate_validation_failure_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_idempotent_hit_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_latest_failed_transitions" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_orchestration_speed" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_transition_success_rate" TO "postgres", "service_role";

ALTER TABLE "public"."sweep_schedule"
  ADD CONSTRAINT "sweep_schedule_interval_check" CHECK ((public.fn_sweep_cron_schedule("interval") IS NOT NULL));

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."breaker_lock"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."breaker_lock"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."breaker_lock"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."breaker_reason"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."breaker_reason"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."breaker_reason"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_atomic_exec_to_plan_transition"(text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_atomic_exec_to_plan_transition"(text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_atomic_lead_to_plan_transition"(text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_atomic_lead_to_plan_transition"(text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_exec_transition"(text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_exec_transition"(text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_lead_transition"(text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_atomic_plan_to_lead_transition"(text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_attempt_answer"(public.handoff_attempts, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_attempt_answer"(public.handoff_attempts, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_attempt_answer"(public.handoff_attempts, boolean) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_backfill_stage_batch"(text, integer, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_backfill_stage_batch"(text, integer, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_breaker_acquire"(text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_breaker_acquire"(text, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_breaker_reset"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_breaker_reset"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_breaker_sweep"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_breaker_sweep"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_gate_result"(text, jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_gate_result"(text, jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_gate_result"(text, jsonb) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_mode_scope"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_mode_scope"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_mode_scope"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_skip_conditions"(text, text[]) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_skip_conditions"(text, text[]) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_claim_handoff_request"(text, interval, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_claim_handoff_request"(text, interval, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_claim_sd"(text, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_claim_sd"(text, text, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_claim_webhook_id"(text, timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_claim_webhook_id"(text, timestamp WITH time zone) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_complete_by_request"(text, text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_complete_by_request"(text, text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_complete_by_request"(text, text, text, text, text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_demote_validation_mode"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_demote_validation_mode"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_dispatch_handoff_request"(uuid) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_evaluate_sql_gate"(uuid, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_evaluate_sql_gate"(uuid, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_exhaust_handoff_requests"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_exhaust_handoff_requests"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_filled"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_filled"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_prd_complete"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_prd_complete"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_result_json"(public.sub_agent_execution_results) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_result_json"(public.sub_agent_execution_results) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_result_json"(public.sub_agent_execution_results) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_gate_score"(jsonb, boolean, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_score"(jsonb, boolean, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_sd_defined"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_sd_defined"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_done"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_done"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_have_acceptance_criteria"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_have_acceptance_criteria"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_validated"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_gate_stories_validated"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_get_validation_mode"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_get_validation_mode"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_handoff_gates"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_handoff_gates"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_handoff_gates"(text, text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_abandon"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_abandon"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_begin"(text, text, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_begin"(text, text, text, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_complete"(text, text, text, integer, jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_complete"(text, text, text, integer, jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_purge"(interval) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_idempotency_purge"(interval) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_in_transition"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_in_transition"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_judge_attempt"(public.handoff_attempts) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_judge_attempt"(public.handoff_attempts) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_judge_attempt"(public.handoff_attempts) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_metrics_snapshot"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_metrics_snapshot"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_normalise_gate_result"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_normalise_gate_result"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_normalise_gate_result"(jsonb) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_normalise_handoff_type"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_normalise_handoff_type"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_normalise_handoff_type"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_promotion_gate"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_promotion_gate"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_purge_webhook_ids"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_purge_webhook_ids"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_raise_sd_moved"(uuid, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_raise_sd_moved"(uuid, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_raise_sd_moved"(uuid, text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_release_sd"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_release_sd"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_resolve_sd"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_resolve_sd"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_resolve_sd"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_retry_handoff_request"(uuid) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_retry_handoff_request"(uuid) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_run_sweep"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_run_sweep"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_run_sweeps"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_run_sweeps"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_schedule_sweeps"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_schedule_sweeps"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sd_context"(public.strategic_directives_v2) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sd_context"(public.strategic_directives_v2) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sd_context"(public.strategic_directives_v2) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sd_lock_key"(uuid) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sd_lock_key"(uuid) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sd_lock_key"(uuid) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sd_state"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sd_state"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sd_state"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sd_threshold"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sd_threshold"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sd_threshold"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_set_validation_mode"(text, text, text, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_set_validation_mode"(text, text, text, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_store_gate_result"(uuid, text, jsonb, text, integer, integer, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_store_gate_result"(uuid, text, jsonb, text, integer, integer, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_store_gate_result"(uuid, text, jsonb, text, integer, integer, boolean) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_breakers"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_breakers"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_cron_schedule"(interval) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_cron_schedule"(interval) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_claims"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_claims"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_handoff_responses"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_handoff_responses"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_idempotency"(interval) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_idempotency"(interval) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_transition_notifications"(integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_transition_notifications"(integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_troubled_breakers"(text[]) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_troubled_breakers"(text[]) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."idempotency_check_fingerprint"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."idempotency_check_fingerprint"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."idempotency_check_fingerprint"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."idempotency_check_key"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."idempotency_check_key"(text, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."idempotency_check_key"(text, text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_histogram"(integer[], integer[]) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."normalize_handoff_type"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."normalize_stage"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."normalize_stage_name"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."parse_stage_distribution"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."stage_edit_distance"(text, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."stage_suggestions"(text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg__set_updated_at"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg__set_updated_at"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg__set_updated_at"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__dispatch"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__dispatch"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__dispatch"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__freeze"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__freeze"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_handoff_requests__freeze"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_leo_sub_agents__check_dag"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_leo_sub_agents__check_dag"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_leo_sub_agents__check_dag"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_product_requirements_v2__guard"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_product_requirements_v2__guard"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_product_requirements_v2__guard"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_strategic_directives_v2__guard"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_strategic_directives_v2__guard"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_strategic_directives_v2__guard"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_sub_agent_breakers__record_transition"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_sub_agent_breakers__record_transition"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_sub_agent_breakers__record_transition"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_threshold_profiles__audit"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_threshold_profiles__audit"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_threshold_profiles__audit"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_user_stories__guard"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_user_stories__guard"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_user_stories__guard"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__audit"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__audit"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__audit"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__stamp"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__stamp"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_validation_modes__stamp"() FROM "service_role";

REVOKE ALL ON TABLE "public"."gate_skip_rules" FROM "anon";

REVOKE ALL ON TABLE "public"."gate_skip_rules" FROM "authenticated";

REVOKE ALL ON TABLE "public"."handoff_attempts" FROM "anon";

REVOKE ALL ON TABLE "public"."handoff_attempts" FROM "authenticated";

REVOKE ALL ON TABLE "public"."handoff_request_dispatch" FROM "anon";

REVOKE ALL ON TABLE "public"."handoff_request_dispatch" FROM "authenticated";

REVOKE ALL ON TABLE "public"."handoff_requests" FROM "anon";

REVOKE ALL ON TABLE "public"."handoff_requests" FROM "authenticated";

REVOKE ALL ON TABLE "public"."handoff_types" FROM "anon";

REVOKE ALL ON TABLE "public"."handoff_types" FROM "authenticated";

REVOKE ALL ON TABLE "public"."http_idempotency_keys" FROM "anon";

REVOKE ALL ON TABLE "public"."http_idempotency_keys" FROM "authenticated";

REVOKE ALL ON TABLE "public"."leo_sub_agents" FROM "anon";

REVOKE ALL ON TABLE "public"."leo_sub_agents" FROM "authenticated";

REVOKE ALL ON TABLE "public"."ops_webhook_ids" FROM "anon";

REVOKE ALL ON TABLE "public"."ops_webhook_ids" FROM "authenticated";

REVOKE ALL ON TABLE "public"."product_requirements_v2" FROM "anon";

REVOKE ALL ON TABLE "public"."product_requirements_v2" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sd_claims" FROM "anon";

REVOKE ALL ON TABLE "public"."sd_claims" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sd_phase_handoffs" FROM "anon";

REVOKE ALL ON TABLE "public"."sd_phase_handoffs" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sd_phases" FROM "anon";

REVOKE ALL ON TABLE "public"."sd_phases" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sd_transition_audit" FROM "anon";

REVOKE ALL ON TABLE "public"."sd_transition_audit" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sd_type_classes" FROM "anon";

REVOKE ALL ON TABLE "public"."sd_type_classes" FROM "authenticated";

REVOKE ALL ON TABLE "public"."stage_backfill_checkpoints" FROM "anon";

REVOKE ALL ON TABLE "public"."stage_backfill_checkpoints" FROM "authenticated";

REVOKE ALL ON TABLE "public"."stage_backfill_log" FROM "anon";

REVOKE ALL ON TABLE "public"."stage_backfill_log" FROM "authenticated";

REVOKE ALL ON TABLE "public"."stage_synonyms" FROM "anon";

REVOKE ALL ON TABLE "public"."stage_vocabulary" FROM "anon";

REVOKE ALL ON TABLE "public"."strategic_directives_v2" FROM "anon";

REVOKE ALL ON TABLE "public"."strategic_directives_v2" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sub_agent_breaker_events" FROM "anon";

REVOKE ALL ON TABLE "public"."sub_agent_breaker_events" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sub_agent_breakers" FROM "anon";

REVOKE ALL ON TABLE "public"."sub_agent_breakers" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sub_agent_execution_results" FROM "anon";

REVOKE ALL ON TABLE "public"."sub_agent_execution_results" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sweep_schedule" FROM "anon";

REVOKE ALL ON TABLE "public"."sweep_schedule" FROM "authenticated";

REVOKE ALL ON TABLE "public"."threshold_profile_audit" FROM "anon";

REVOKE ALL ON TABLE "public"."threshold_profile_audit" FROM "authenticated";

REVOKE ALL ON TABLE "public"."threshold_profiles" FROM "anon";

REVOKE ALL ON TABLE "public"."threshold_profiles" FROM "authenticated";

REVOKE ALL ON TABLE "public"."transition_notifications" FROM "anon";

REVOKE ALL ON TABLE "public"."transition_notifications" FROM "authenticated";

REVOKE ALL ON TABLE "public"."unknown_inputs" FROM "anon";

REVOKE ALL ON TABLE "public"."unknown_inputs" FROM "authenticated";

REVOKE ALL ON TABLE "public"."user_stories" FROM "anon";

REVOKE ALL ON TABLE "public"."user_stories" FROM "authenticated";

REVOKE ALL ON TABLE "public"."validation_mode_changes" FROM "anon";

REVOKE ALL ON TABLE "public"."validation_mode_changes" FROM "authenticated";

REVOKE ALL ON TABLE "public"."validation_mode_settings" FROM "anon";

REVOKE ALL ON TABLE "public"."validation_mode_settings" FROM "authenticated";

REVOKE ALL ON TABLE "public"."validation_modes" FROM "anon";

REVOKE ALL ON TABLE "public"."validation_modes" FROM "authenticated";

REVOKE ALL ON TABLE "public"."sub_agent_breaker_status" FROM "anon";

REVOKE ALL ON TABLE "public"."sub_agent_breaker_status" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_gate_validation_failure_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_gate_validation_failure_rate" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "anon";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_idempotent_hit_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_idempotent_hit_rate" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_latest_failed_transitions" FROM "anon";

REVOKE ALL ON TABLE "public"."v_latest_failed_transitions" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "anon";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_transition_success_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_transition_success_rate" FROM "authenticated";
