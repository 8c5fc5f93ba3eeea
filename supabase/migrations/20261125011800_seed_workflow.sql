-- The default workflow, thresholds, skip rules and sql gates. Rows, not code: change them with
-- ordinary DML (threshold changes are audited by trigger).

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

insert into public.validation_modes (scope, mode, note) values ('*', 'ENFORCE', 'global default');

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
