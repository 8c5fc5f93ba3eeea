-- Hand-written: the rows the product starts with, which a schema diff does not carry (table data
-- is not part of supabase/schemas/). The default workflow, thresholds, skip rules and sql gates;
-- the stage vocabulary and synonyms (equal to STAGE_ALIASES in shared/stages.ts, checked by
-- tests/db/stages-parity.test.ts); the promotion gate's settings row; the sweep intervals.
-- Rows, not code: change them with ordinary DML in a new hand-written migration (threshold
-- changes are audited by trigger).

insert into public.sd_phases (phase, ordinal, description) values
  ('LEAD', 10, 'LEAD approves the directive'),
  ('PLAN', 20, 'PLAN writes the PRD and user stories'),
  ('EXEC', 30, 'EXEC implements'),
  ('EXEC_IMPLEMENTATION', 35, 'EXEC implementing (name used by the seed runbook)'),
  ('EXEC_COMPLETE', 40, 'EXEC handed back to PLAN for verification'),
  ('VERIFICATION', 45, 'PLAN verifying'),
  ('COMPLETED', 50, 'handed to LEAD, done');

-- security..orchestrator and default are the seed plan's numbers; docs and process are the seed's
-- documentation-only types and get documentation's threshold (the plan gives none for them).
insert into public.threshold_profiles (sd_type, gate_threshold, description) values
  ('security', 90, 'highest bar'),
  ('feature', 85, 'standard bar'),
  ('infrastructure', 80, 'reasonable bar'),
  ('bugfix', 75, 'lighter bar'),
  ('documentation', 60, 'documentation only'),
  ('docs', 60, 'alias of documentation'),
  ('process', 60, 'process change, documentation only'),
  ('orchestrator', 70, 'coordinates child SDs'),
  ('default', 85, 'fallback for a type without a profile');

insert into public.handoff_types (code, from_phases, to_phase, sd_status, prd_status, story_status, description) values
  ('LEAD-TO-PLAN', '{LEAD}', 'PLAN', 'active', null, null, 'LEAD approved the directive; PLAN writes the PRD'),
  ('PLAN-TO-EXEC', '{PLAN}', 'EXEC', 'in_progress', 'in_progress', null, 'PRD and stories ready; EXEC implements'),
  ('EXEC-TO-PLAN', '{EXEC,EXEC_IMPLEMENTATION}', 'EXEC_COMPLETE', null, 'verification', 'validated', 'implementation done; PLAN verifies'),
  ('PLAN-TO-LEAD', '{EXEC_COMPLETE,VERIFICATION}', 'COMPLETED', 'completed', 'completed', 'completed', 'verified; LEAD signs off');

-- The starting mode is not a change of mode: no audit row, notification or log line for it.
alter table public.validation_modes disable trigger _900_audit;
insert into public.validation_modes (scope, mode, note) values ('*', 'ENFORCE', 'global default');
alter table public.validation_modes enable trigger _900_audit;

-- Lightweight: small or non-code directives that need no file scope, exploration audit or
-- execution plan: bugfix, documentation, docs, process, orchestrator (an orchestrator's children
-- carry those). Doc-only: the seed's documentation, docs, process, which have no code to test.
insert into public.sd_type_classes (class_name, sd_type) values
  ('lightweight', 'bugfix'), ('lightweight', 'documentation'), ('lightweight', 'docs'),
  ('lightweight', 'process'), ('lightweight', 'orchestrator'),
  ('doc_only', 'documentation'), ('doc_only', 'docs'), ('doc_only', 'process');

insert into public.gate_skip_rules (applies_to, validator_code, reason_code, note) values
  ('lightweight', 'FILE_SCOPE', 'LIGHTWEIGHT_SD_TYPE', 'seed pattern 8, check 2'),
  ('lightweight', 'EXPLORATION_AUDIT', 'LIGHTWEIGHT_SD_TYPE', 'seed pattern 8, check 2'),
  ('lightweight', 'EXECUTION_PLAN', 'LIGHTWEIGHT_SD_TYPE', 'seed pattern 8, check 2'),
  ('doc_only', 'TESTING', 'NON_APPLICABLE_SD_TYPE', 'seed pattern 8, check 3'),
  ('doc_only', 'GITHUB', 'NON_APPLICABLE_SD_TYPE', 'seed pattern 8, check 3'),
  ('doc_only', 'REGRESSION', 'NON_APPLICABLE_SD_TYPE', 'seed pattern 8, check 3');

insert into public.leo_sub_agents (code, name, kind, target, depends_on, weight, required, handoff_types) values
  ('SD_DEFINED', 'Directive has description, scope and success criteria', 'sql', 'public.fn_gate_sd_defined', '{}', 1, true, '{LEAD-TO-PLAN}'),
  ('PRD_COMPLETE', 'PRD exists with its required sections', 'sql', 'public.fn_gate_prd_complete', '{}', 1, true, '{PLAN-TO-EXEC}'),
  ('STORIES_HAVE_ACCEPTANCE_CRITERIA', 'Every user story has acceptance criteria', 'sql',
   'public.fn_gate_stories_have_acceptance_criteria', '{PRD_COMPLETE}', 1, true, '{PLAN-TO-EXEC}'),
  ('STORIES_DONE', 'Every user story is done', 'sql', 'public.fn_gate_stories_done', '{}', 1, true, '{EXEC-TO-PLAN}'),
  ('STORIES_VALIDATED', 'Every user story was validated', 'sql', 'public.fn_gate_stories_validated', '{}', 1, true, '{PLAN-TO-LEAD}');

insert into public.stage_vocabulary (kind, value, position)
values
  ('phase', 'LEAD', 0),
  ('phase', 'PLAN', 1),
  ('phase', 'EXEC', 2),
  ('phase', 'EXEC_IMPLEMENTATION', 3),
  ('phase', 'EXEC_COMPLETE', 4),
  ('phase', 'VERIFICATION', 5),
  ('phase', 'COMPLETED', 6),
  ('handoff', 'LEAD-TO-PLAN', 0),
  ('handoff', 'PLAN-TO-EXEC', 1),
  ('handoff', 'EXEC-TO-PLAN', 2),
  ('handoff', 'PLAN-TO-LEAD', 3);

insert into public.stage_synonyms (kind, alias, canonical, suggest)
select 'phase', replace(value, '_', ''), value, true
from public.stage_vocabulary
where kind = 'phase'
union all
select 'phase', alias, canonical, true
from (values
  ('LEADER', 'LEAD'), ('LEADERSHIP', 'LEAD'), ('APPROVAL', 'LEAD'),
  ('PLANNING', 'PLAN'), ('PLANNER', 'PLAN'),
  ('EXECUTE', 'EXEC'), ('EXECUTION', 'EXEC'), ('EXECUTING', 'EXEC'),
  ('IMPLEMENT', 'EXEC'), ('IMPLEMENTATION', 'EXEC'), ('IMPL', 'EXEC'),
  ('EXECIMPL', 'EXEC_IMPLEMENTATION'),
  ('EXECDONE', 'EXEC_COMPLETE'), ('EXECCOMPLETED', 'EXEC_COMPLETE'), ('EXECUTIONCOMPLETE', 'EXEC_COMPLETE'),
  ('VERIFY', 'VERIFICATION'), ('VERIFYING', 'VERIFICATION'), ('VALIDATION', 'VERIFICATION'), ('VALIDATE', 'VERIFICATION'),
  ('COMPLETE', 'COMPLETED'), ('DONE', 'COMPLETED'), ('FINISHED', 'COMPLETED'), ('CLOSED', 'COMPLETED')
) as synonyms (alias, canonical);

-- A handoff key is <from side><joiner><to side>, each side any alias of the phase named in the
-- type: IMPLEMENTATION2PLANNING is EXEC-TO-PLAN. Only the plain-name forms are suggestible, so a
-- typo costs 12 edit distances, not 180.
insert into public.stage_synonyms (kind, alias, canonical, suggest)
select 'handoff', f.alias || j.joiner || t.alias, h.value, f.alias = f.canonical and t.alias = t.canonical
from public.stage_vocabulary h
join public.stage_synonyms f on f.kind = 'phase' and f.canonical = split_part(h.value, '-TO-', 1)
join public.stage_synonyms t on t.kind = 'phase' and t.canonical = split_part(h.value, '-TO-', 2)
cross join (values ('TO'), ('2'), ('')) as j (joiner)
where h.kind = 'handoff';

insert into public.validation_mode_settings default values;

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('expired_claims', 'public.fn_sweep_expired_claims', '1 minute', 'delete session claims whose lease expired'),
  ('stuck_attempts', 'public.fn_sweep_stuck_attempts', '5 minutes', 'abandon attempts in progress for more than 15 minutes, with an abandoned audit row'),
  ('idempotency', 'public.fn_sweep_idempotency', '1 hour', 'purge Idempotency-Key records older than 24 h and expired webhook ids'),
  ('breakers', 'public.fn_sweep_breakers', '30 seconds', 'move open breakers past their reset timeout to half-open');

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('handoff_responses', 'public.fn_sweep_handoff_responses', '10 seconds',
   'hosted: read pg_net answers into handoff_requests and re-post due retries (nothing to do without pg_net)');

insert into public.sweep_schedule (name, sql_function, interval, description) values
  ('transition_notifications', 'public.fn_sweep_transition_notifications', '1 second',
   'send the NOTIFY stagegate_transition of accepted transitions from the outbox');
