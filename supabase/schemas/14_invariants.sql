-- The whole database checked against the promises the handoff engine makes; every test that
-- drives handoffs ends by asserting this returns no rows. Read-only; each row names one violation.
--
-- The audit chain compares what only handoffs change (phase, status, version): story counts and
-- the PRD status legitimately change between handoffs (EXEC marks stories done, a PRD goes
-- draft -> ready), but nothing else may move the directive between two completed transitions.
-- scripts/backup-restore-smoke.ts uses this same rule.
--
-- A window (#18): fn_check_invariants(p_since) checks what changed since p_since: the directives
-- with a transition since then (each against its whole audit history, so the chain and the
-- version count stay exact), the attempts begun, the handoff records, audits and results written
-- since then; null checks everything. The default, fn_check_invariants(), is the last day, what a
-- periodic check wants; its cost follows the day's traffic, not the history's size.

create or replace function public.fn_check_invariants(p_since timestamptz default now() - interval '1 day')
returns table (invariant text, subject text, detail jsonb)
-- PL/pgSQL, not SQL: its query is planned with p_since's value (a custom plan). A SQL function's
-- plan guesses that created_at >= p_since keeps a third of every table, hashes whole tables, and
-- the last day's check grew with the history (6 ms empty, 150 ms at 100k, 870 ms at 1M).
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  return query
  -- The directives to check: all, or those with a transition in the window, each with its whole
  -- audit history (on the sd_id index). Two branches each, one of them switched off by p_since:
  -- an OR here would turn the IN into a per-row subplan.
  with sds as materialized (
    select s.* from public.strategic_directives_v2 s where p_since is null
    union all
    select s.* from public.strategic_directives_v2 s
    where p_since is not null
      -- an array, not IN: the planner hashes all directives for an IN of a few thousand keys
      and s.id = any (array(select distinct a.sd_id from public.sd_transition_audit a where a.created_at >= p_since))
  ), audits as materialized (
    select a.* from public.sd_transition_audit a where p_since is null
    union all
    select a.* from public.sd_transition_audit a
    where p_since is not null and a.sd_id = any (array(select s.id from sds s))  -- one index scan per partition
  ),
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  last_done as materialized (
    select distinct on (a.sd_uuid) a.sd_uuid, a.post_state, a.transition_type
    from audits a
    where a.status = 'completed'
    order by a.sd_uuid, a.completed_at desc, a.created_at desc
  )
  select 'sd_matches_last_transition', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'transition_version', s.transition_version,
                            'audit_phase', l.post_state->>'sd_phase', 'audit_version', l.post_state->'transition_version')
  from sds s
  join last_done l on l.sd_uuid = s.uuid
  where s.current_phase is distinct from l.post_state->>'sd_phase'
     or s.transition_version is distinct from (l.post_state->>'transition_version')::int

  union all
  -- 2. transition_version counts the completed transitions of the SD.
  select 'version_counts_transitions', s.id,
         jsonb_build_object('transition_version', s.transition_version, 'completed_audits', count(a.id))
  from sds s
  left join audits a on a.sd_uuid = s.uuid and a.status = 'completed'
  group by s.id, s.transition_version
  having s.transition_version <> count(a.id)

  union all
  -- 3. The PRD and stories are in the statuses the workflow says for the SD's phase: a status only
  --    a handoff can set is held exactly when the last transition set it.
  select 'prd_status_matches_phase', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'prd_status', p.status, 'expected', t.prd_status)
  from sds s
  join last_done l on l.sd_uuid = s.uuid
  join public.handoff_types t on t.code = l.transition_type
  join public.product_requirements_v2 p on p.sd_id = s.id
  where t.prd_status is not null and p.status is distinct from t.prd_status

  union all
  select 'story_status_needs_handoff', u.sd_id || '/' || u.story_key,
         jsonb_build_object('status', u.status, 'sd_phase', s.current_phase)
  from public.user_stories u
  join sds s on s.id = u.sd_id
  where u.status in (select t.story_status from public.handoff_types t where t.story_status is not null)
    and not exists (
      select 1 from public.sd_transition_audit a join public.handoff_types t on t.code = a.transition_type
      where a.sd_id = s.id and a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

  union all
  -- 4. The audit chain: each completed transition starts where the previous one ended, for the
  --    directive's phase, status and version (only handoffs change them; PRD and story statuses
  --    also change by everyday work between handoffs).
  select 'audit_chain', c.sd_id,
         jsonb_build_object('audit_id', c.id, 'pre_state', c.pre_state, 'previous_post_state', c.prev_post)
  from (
    select a.id, a.sd_id, a.pre_state, a.created_at,
           lag(a.post_state) over (partition by a.sd_uuid order by a.completed_at, a.created_at) as prev_post
    from audits a where a.status = 'completed'
  ) c
  where c.prev_post is not null and c.created_at >= coalesce(p_since, '-infinity')
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  -- an attempt's audit rows are written after it began: the window prunes the audit's partitions
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
                                        and a.created_at >= coalesce(p_since, '-infinity')
  where h.started_at >= coalesce(p_since, '-infinity')
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned', 'expired') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse (both are written
  --    by one transaction, with one created_at).
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select h.* from public.sd_phase_handoffs h where h.status = 'accepted' and h.created_at >= coalesce(p_since, '-infinity')) r
  full join (select x.* from public.sd_transition_audit x where x.status = 'completed' and x.created_at >= coalesce(p_since, '-infinity')) a
    on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  left join public.handoff_attempts h on h.id = r.attempt_id
    -- the window's results belong to few attempts: fetch those by key, not all of them (null: all)
    and (p_since is null or h.id = any (array(select distinct x.attempt_id from public.sub_agent_execution_results x
                                               where x.created_at >= p_since)))
  where r.created_at >= coalesce(p_since, '-infinity')
    and (h.id is null or h.sd_id <> r.sd_id
         or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code));
end;
$$;
comment on function public.fn_check_invariants(timestamptz) is
  'Checks what changed since p_since (default: the last day; null: the whole database) and returns every violation (invariant, subject, detail): SD phase/version match the last completed transition; version counts completed transitions; PRD/story statuses that only a handoff sets are held only after one did; the audit chain (each completed audit''s directive pre_state equals the previous post_state); one terminal audit row per finished attempt; accepted handoff records and completed audits pair up; no orphan sub-agent results. The directives checked are those with a transition since p_since, each against its whole history. Empty = consistent.';

revoke all on function public.fn_check_invariants(timestamptz) from public, anon, authenticated;
grant execute on function public.fn_check_invariants(timestamptz) to service_role;
