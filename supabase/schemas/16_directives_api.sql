-- The directives API behind the console (supabase/functions/directives): the workflow as the
-- console draws it, a filtered and keyset-paginated list with counts per phase, one directive
-- with its whole history, creating a directive with its PRD and stories in one call, and editing
-- content.
--
-- Every function here is SECURITY INVOKER except fn_workflow: the edge function runs them under
-- the caller's identity (role and request.jwt.claims set for the transaction, as PostgREST does),
-- so what a caller may see or change is decided by the grants and row-level security of the
-- tables, in one place, and not again here. fn_workflow is the exception because the workflow's
-- configuration (phases, handoff types, thresholds) is not secret and its tables are closed to
-- signed-in users.
--
-- Phase, status and transition_version are never written here: the create leaves them at their
-- defaults, the edit refuses them by name (INVALID_INPUT) before the guard triggers of
-- 02_directives.sql would (DIRECT_UPDATE_REFUSED).

-- Keyset pagination of the list: newest first, ties broken by the key.
create index if not exists strategic_directives_v2_created_id_idx
  on public.strategic_directives_v2 (created_at desc, id desc);

-- ============================================================================================
-- The workflow as data: phases in order, handoff types, the threshold of every SD type.
-- ============================================================================================
create or replace function public.fn_workflow() returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object(
    'phases', (select coalesce(jsonb_agg(jsonb_build_object('phase', p.phase, 'ordinal', p.ordinal, 'description', p.description)
                                        order by p.ordinal), '[]') from public.sd_phases p),
    'handoff_types', (select coalesce(jsonb_agg(jsonb_build_object('code', t.code, 'from_phases', to_jsonb(t.from_phases),
                                                                   'to_phase', t.to_phase, 'description', t.description)
                                               order by t.code), '[]') from public.handoff_types t),
    'thresholds', (select coalesce(jsonb_object_agg(t.sd_type, t.gate_threshold), '{}') from public.threshold_profiles t),
    -- who is asking: the signed-in user's teams and roles (none for the service role)
    'me', (select jsonb_build_object('user_id', a.user_id, 'role', a.role,
             'teams', (select coalesce(jsonb_agg(jsonb_build_object('team_id', m.team_id, 'team', t.name, 'role', m.role) order by t.name), '[]')
                       from public.team_members m join public.teams t on t.id = m.team_id where m.user_id = a.user_id))
           from stagegate_private.current_actor() a));
$$;
comment on function public.fn_workflow() is
  'The workflow as the console draws it: {phases: [{phase, ordinal, description}], handoff_types: [{code, from_phases, to_phase, description}], thresholds: {sd_type: threshold}, me: {user_id, role, teams: [{team_id, team, role}]}}. Configuration, not secret: readable by every signed-in caller.';

-- ============================================================================================
-- List: filters, keyset pagination, counts per phase.
-- ============================================================================================
-- p_filter: {phase, sd_type, team, text, after: {created_at, id}}, every key optional. The counts
-- per phase apply every filter except phase and the cursor, so a board shows all its columns.
create or replace function public.fn_list_directives(p_filter jsonb default '{}', p_limit int default 50)
returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_filter jsonb := coalesce(p_filter, '{}');
  v_unknown text[];
  v_phase text;
  v_sd_type text;
  v_team text;
  v_text text;
  v_pattern text;
  v_after_at timestamptz;
  v_after_id text;
  v_items jsonb;
  v_counts jsonb;
  v_last jsonb;
begin
  -- ------------------------------------------------------------------ validation
  if jsonb_typeof(v_filter) <> 'object' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_filter must be a JSON object';
  end if;
  select array_agg(k) into v_unknown from jsonb_object_keys(v_filter) k
  where k not in ('phase', 'sd_type', 'team', 'text', 'after');
  if v_unknown is not null then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: unknown filter %s (allowed: phase, sd_type, team, text, after)', array_to_string(v_unknown, ', '));
  end if;
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_limit must be between 1 and 200 (got %s)', p_limit);
  end if;
  v_phase := nullif(v_filter ->> 'phase', '');
  v_sd_type := nullif(v_filter ->> 'sd_type', '');
  v_team := nullif(v_filter ->> 'team', '');
  v_text := nullif(btrim(v_filter ->> 'text'), '');
  if length(v_text) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: text filter is at most 200 characters';
  end if;
  -- the text is matched literally: escape LIKE's wildcards
  v_pattern := '%' || replace(replace(replace(v_text, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  if v_filter ? 'after' then
    if jsonb_typeof(v_filter -> 'after') <> 'object' or not (v_filter -> 'after' ?& array['created_at', 'id']) then
      raise exception using errcode = 'SG001', message = 'INVALID_INPUT: after must be {created_at, id} from next_cursor';
    end if;
    v_after_at := (v_filter -> 'after' ->> 'created_at')::timestamptz;
    v_after_id := v_filter -> 'after' ->> 'id';
  end if;

  -- ------------------------------------------------------------------ the page
  with page as (
    select s.* from public.strategic_directives_v2 s
    where (v_phase is null or s.current_phase = v_phase)
      and (v_sd_type is null or s.sd_type = v_sd_type)
      and (v_team is null or s.team_id = v_team::uuid)
      and (v_text is null or s.id ilike v_pattern or s.title ilike v_pattern or coalesce(s.description, '') ilike v_pattern)
      and (v_after_at is null or (s.created_at, s.id) < (v_after_at, v_after_id))
    order by s.created_at desc, s.id desc
    limit p_limit
  )
  select coalesce(jsonb_agg(public.fn_directive_summary(page) order by page.created_at desc, page.id desc), '[]'),
         (array_agg(jsonb_build_object('created_at', page.created_at, 'id', page.id) order by page.created_at, page.id))[1]
  into v_items, v_last
  from page;

  select coalesce(jsonb_object_agg(c.current_phase, c.n), '{}') into v_counts
  from (
    select s.current_phase, count(*) as n from public.strategic_directives_v2 s
    where (v_sd_type is null or s.sd_type = v_sd_type)
      and (v_team is null or s.team_id = v_team::uuid)
      and (v_text is null or s.id ilike v_pattern or s.title ilike v_pattern or coalesce(s.description, '') ilike v_pattern)
    group by s.current_phase
  ) c;

  return jsonb_build_object(
    'items', v_items,
    'counts', v_counts,
    'next_cursor', case when jsonb_array_length(v_items) = p_limit then v_last end);
end;
$$;
comment on function public.fn_list_directives(jsonb, int) is
  'Directives the caller may read, newest first: {items, counts (per phase, every filter but phase and the cursor), next_cursor (pass as p_filter.after; null on the last page)}. p_filter: {phase, sd_type, team, text, after}.';

-- Whether a directive waits for people: a handoff attempt of it awaiting approval (16_approvals)
-- or the status pending_approval. Runs as the caller: an attempt they may not read does not count.
create or replace function stagegate_private.fn_directive_awaiting_approval(p_sd_uuid uuid, p_status text) returns boolean
language sql stable set search_path = '' as $$
  select p_status = 'pending_approval'
      or exists (select 1 from public.handoff_attempts a where a.sd_uuid = p_sd_uuid and a.status = 'awaiting_approval')
$$;

-- One row of the list: the directive without its bulky fields, its threshold, its latest handoff
-- record and whether it waits for an approval.
create or replace function public.fn_directive_summary(p_sd public.strategic_directives_v2) returns jsonb
language sql stable set search_path = '' as $$
  select (to_jsonb(p_sd) - 'description' - 'scope' - 'success_criteria' - 'metadata')
    || jsonb_build_object(
      'threshold', (public.fn_workflow() -> 'thresholds' -> p_sd.sd_type),
      'awaiting_approval', stagegate_private.fn_directive_awaiting_approval(p_sd.uuid, p_sd.status),
      'last_handoff', (select jsonb_build_object('handoff_type', h.handoff_type, 'status', h.status, 'score', h.score,
                                                 'threshold', h.threshold, 'created_at', h.created_at)
                       from public.sd_phase_handoffs h where h.sd_uuid = p_sd.uuid
                       order by h.created_at desc limit 1));
$$;

-- ============================================================================================
-- One directive with its whole history.
-- ============================================================================================
create or replace function public.fn_directive_history(p_sd text) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2;
  v_workflow jsonb := public.fn_workflow();
  v_me record;
begin
  if p_sd is null or btrim(p_sd) = '' or length(p_sd) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_sd (a directive key or uuid, 1-200 characters) is required';
  end if;
  -- not fn_resolve_sd: that one is the definer RPCs' helper; here RLS decides what is found
  if p_sd ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_sd from public.strategic_directives_v2 s where s.uuid = p_sd::uuid;
  else
    select * into v_sd from public.strategic_directives_v2 s where s.id = p_sd;
  end if;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L not found', p_sd);
  end if;
  select * into v_me from stagegate_private.current_actor();

  return jsonb_build_object(
    'directive', to_jsonb(v_sd) || jsonb_build_object(
      'threshold', v_workflow -> 'thresholds' -> v_sd.sd_type,
      'awaiting_approval', stagegate_private.fn_directive_awaiting_approval(v_sd.uuid, v_sd.status),
      -- whether the caller may edit its content: the expression of the update policies (15)
      'can_edit', v_me.privileged or v_sd.team_id in (select stagegate_private.my_team_ids('{LEAD,PLAN}'))),
    'prd', (select to_jsonb(p) from public.product_requirements_v2 p where p.sd_id = v_sd.id),
    'stories', (select coalesce(jsonb_agg(to_jsonb(u) order by u.story_key), '[]') from public.user_stories u where u.sd_id = v_sd.id),
    'next_handoffs', (select coalesce(jsonb_agg(t -> 'code'), '[]') from jsonb_array_elements(v_workflow -> 'handoff_types') t
                      where t -> 'from_phases' ? v_sd.current_phase),
    -- every attempt, newest first: its verdict (the handoff record), each gate's recorded result,
    -- and who asked (every column of the attempt but its context snapshot)
    'attempts', (
      select coalesce(jsonb_agg(
        (to_jsonb(a) - 'context' - 'gates' - 'result')
        || jsonb_build_object(
          'plan', a.gates,
          'verdict', coalesce(h.status, a.result ->> 'verdict'),
          'score', coalesce(h.score, (a.result ->> 'score')::numeric),
          'threshold', coalesce(h.threshold, (a.result ->> 'threshold')::numeric),
          'validation_mode', coalesce(h.validation_mode, a.result ->> 'validation_mode'),
          'failed_gate', h.failed_gate,
          'execution_time_ms', h.execution_time_ms,
          'requested_by', stagegate_private.fn_person(a.actor_id),
          'gates', (select coalesce(jsonb_agg(jsonb_build_object(
                      'code', r.sub_agent_code, 'verdict', r.verdict, 'passed', r.passed, 'score', r.score,
                      'max_score', r.max_score, 'duration_ms', r.duration_ms, 'attempts', r.attempts,
                      'issues', r.issues, 'warnings', r.warnings, 'skipped', r.skipped, 'skip_reason', r.skip_reason,
                      'error', r.error, 'recorded_at', r.created_at) order by r.created_at, r.sub_agent_code), '[]')
                    from public.sub_agent_execution_results r where r.attempt_id = a.id))
        order by a.started_at desc), '[]')
      from public.handoff_attempts a
      left join public.sd_phase_handoffs h on h.attempt_id = a.id
      where a.sd_uuid = v_sd.uuid),
    -- the audit chain, oldest first: each row's pre and post state say where it moved the SD
    'audit', (
      select coalesce(jsonb_agg(to_jsonb(t) || jsonb_build_object('actor', stagegate_private.fn_person(t.actor_id))
                                order by t.created_at, t.id), '[]')
      from public.sd_transition_audit t
      where t.sd_uuid = v_sd.uuid or (t.sd_uuid is null and t.sd_id = v_sd.id)),
    -- every handoff that waited for people (16_approvals), newest first: who asked and when, what
    -- it still needs, each decision with who made it, and whether the caller may decide it now
    -- (can_decide; cannot_decide says why not, with the code fn_decide_approval would answer)
    'approvals', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'attempt_id', a.id, 'handoff_type', a.handoff_type, 'status', a.status, 'verdict', a.result ->> 'verdict',
        'from_phase', a.from_phase, 'to_phase', a.to_phase,
        'requested_by', stagegate_private.fn_person(a.actor_id), 'requested_at', a.started_at,
        'deadline', a.approval_deadline, 'settled_at', a.finished_at,
        'approvals_needed', a.result -> 'approvals' -> 'approvals_needed',
        'approver_roles', coalesce(a.result -> 'approvals' -> 'approver_roles', 'null'),
        'gates', (select coalesce(jsonb_agg(g - 'approved_by' order by t.ord), '[]')
                  from jsonb_array_elements(coalesce(a.result -> 'approvals' -> 'gates', '[]')) with ordinality as t(g, ord)),
        'decisions', (select coalesce(jsonb_agg(jsonb_build_object(
                        'by', stagegate_private.fn_person(d.approver_id), 'role', d.approver_role, 'decision', d.decision,
                        'comment', d.comment, 'decided_at', d.decided_at) order by d.decided_at), '[]')
                      from public.approval_decisions d where d.attempt_id = a.id),
        'my_decision', mine.decision,
        'can_decide', r.refusal is null,
        'cannot_decide', r.refusal - 'sqlstate')
        order by a.started_at desc), '[]')
      from public.handoff_attempts a
      left join public.approval_decisions mine on mine.attempt_id = a.id and mine.approver_id = v_me.user_id
      cross join lateral (select case
          when a.status <> 'awaiting_approval' then jsonb_build_object('code', 'APPROVAL_CLOSED',
            'message', format('APPROVAL_CLOSED: attempt %s is %s, not awaiting approval', a.id, a.status))
          when mine.id is not null then jsonb_build_object('code', 'ALREADY_DECIDED',
            'message', format('ALREADY_DECIDED: you decided %s at %s; a decision is made once', mine.decision, mine.decided_at))
          else stagegate_private.fn_approval_refusal(a, v_me.user_id,
                 (select m.role from public.team_members m where m.team_id = a.team_id and m.user_id = v_me.user_id), v_me.role)
        end as refusal) r
      where a.sd_uuid = v_sd.uuid and a.approval_deadline is not null),
    -- overrides of this directive's rejected handoffs (16_approvals): who, why, what they overrode
    'overrides', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', o.id, 'attempt_id', o.attempt_id, 'overridden_attempt_id', o.overridden_attempt_id, 'handoff_type', o.handoff_type,
        'by', stagegate_private.fn_person(o.actor_id), 'role', o.role, 'reason', o.reason, 'score', o.score,
        'threshold', o.threshold, 'failed_gate', o.failed_gate, 'created_at', o.created_at) order by o.created_at desc), '[]')
      from public.handoff_overrides o
      join public.handoff_attempts a on a.id = o.attempt_id
      where a.sd_uuid = v_sd.uuid));
end;
$$;
comment on function public.fn_directive_history(text) is
  'One directive the caller may read (with can_edit), its PRD, stories, the handoff types it can take next, every attempt (verdict, score vs threshold, each gate''s result, duration and issues, who asked: requested_by), the audit chain (each row''s actor), the handoffs that waited for approval (decisions, can_decide, cannot_decide) and overrides. People are {user_id, name, email} (stagegate_private.fn_person).';

-- ============================================================================================
-- Create a directive with its PRD and stories: one call, one transaction.
-- ============================================================================================
create or replace function public.fn_create_directive(p_directive jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_in jsonb := p_directive;
  v_prd jsonb;
  v_story jsonb;
  v_id text;
  v_prd_id text;
  v_unknown text[];
  v_team uuid;
  v_teams uuid[];
begin
  -- ------------------------------------------------------------------ validation
  if v_in is null or jsonb_typeof(v_in) <> 'object' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_directive must be a JSON object';
  end if;
  select array_agg(k) into v_unknown from jsonb_object_keys(v_in) k
  where k not in ('id', 'title', 'description', 'scope', 'success_criteria', 'sd_type', 'priority', 'metadata', 'team_id', 'prd', 'stories');
  if v_unknown is not null then
    raise exception using errcode = 'SG001', message = format(
      'INVALID_INPUT: %s cannot be set when creating a directive (phase, status and version start at their defaults and change only through handoffs)',
      array_to_string(v_unknown, ', '));
  end if;
  if coalesce(btrim(v_in ->> 'title'), '') = '' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: title is required';
  end if;
  if v_in ? 'sd_type' and not (public.fn_workflow() -> 'thresholds' ? (v_in ->> 'sd_type')) then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: unknown sd_type %L (known: %s)', v_in ->> 'sd_type',
      (select string_agg(k, ', ' order by k) from jsonb_object_keys(public.fn_workflow() -> 'thresholds') k));
  end if;
  v_prd := v_in -> 'prd';
  if v_prd is not null and jsonb_typeof(v_prd) <> 'object' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: prd must be an object';
  end if;
  if v_in ? 'stories' and jsonb_typeof(v_in -> 'stories') <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: stories must be an array';
  end if;
  -- The team: as given; else, for a signed-in user, the one team where they are LEAD or PLAN;
  -- else (the service role, a SQL user) the default team. Whether the caller may create in that
  -- team is the insert policy's decision below, not this function's.
  v_team := nullif(v_in ->> 'team_id', '')::uuid;
  if v_team is null and (select a.user_id from stagegate_private.current_actor() a) is not null then
    select array_agg(t) into v_teams from stagegate_private.my_team_ids('{LEAD,PLAN}') t;
    if cardinality(v_teams) > 1 then
      raise exception using errcode = 'SG001', message = format(
        'INVALID_INPUT: team_id is required: you are LEAD or PLAN in %s teams', cardinality(v_teams));
    end if;
    v_team := v_teams[1];
  end if;
  v_id := coalesce(v_in ->> 'id', 'SD-' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 10)));

  -- ------------------------------------------------------------------ the directive
  begin
    insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, priority, metadata, team_id)
    values (v_id, btrim(v_in ->> 'title'), v_in ->> 'description', v_in ->> 'scope',
            coalesce(v_in -> 'success_criteria', '[]'), coalesce(v_in ->> 'sd_type', 'feature'),
            coalesce(v_in ->> 'priority', 'medium'), coalesce(v_in -> 'metadata', '{}'),
            coalesce(v_team, '00000000-0000-4000-8000-000000000001'));
  exception
    when unique_violation then
      raise exception using errcode = 'SG030', message = format('DIRECTIVE_EXISTS: strategic directive %L already exists', v_id);
    when insufficient_privilege then
      -- the insert policy: only LEAD and PLAN members create directives, in their own teams
      raise exception using errcode = '42501', message = format(
        'FORBIDDEN: only a LEAD or PLAN member of team %s may create a directive in it', coalesce(v_team, '00000000-0000-4000-8000-000000000001'));
  end;

  -- ------------------------------------------------------------------ PRD and stories
  if v_prd is not null then
    v_prd_id := coalesce(v_prd ->> 'id', 'PRD-' || substr(v_id, 4));
    begin
      insert into public.product_requirements_v2 (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
      values (v_prd_id, v_id, btrim(v_prd ->> 'title'), v_prd ->> 'executive_summary',
              coalesce(v_prd -> 'functional_requirements', '[]'), coalesce(v_prd -> 'acceptance_criteria', '[]'),
              coalesce(v_prd -> 'test_scenarios', '[]'));
    exception when unique_violation then
      raise exception using errcode = 'SG030', message = format('DIRECTIVE_EXISTS: PRD %L already exists', v_prd_id);
    end;
  end if;
  for v_story in select * from jsonb_array_elements(coalesce(v_in -> 'stories', '[]')) loop
    begin
      insert into public.user_stories (story_key, sd_id, prd_id, title, acceptance_criteria)
      values (v_story ->> 'story_key', v_id, v_prd_id, btrim(v_story ->> 'title'), coalesce(v_story -> 'acceptance_criteria', '[]'));
    exception when unique_violation then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: story_key %L appears twice', v_story ->> 'story_key');
    end;
  end loop;

  return public.fn_directive_history(v_id);
exception
  -- a NOT NULL or CHECK on the caller's data: a 400 naming the column, never a half-created directive
  when not_null_violation or check_violation then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %s', sqlerrm);
end;
$$;
comment on function public.fn_create_directive(jsonb) is
  'Creates a directive with its PRD and user stories in one transaction: {id?, title, description?, scope?, success_criteria?, sd_type?, priority?, metadata?, prd?: {id?, title, executive_summary?, functional_requirements?, acceptance_criteria?, test_scenarios?}, stories?: [{story_key, title, acceptance_criteria?}]}. Phase, status and version start at their defaults. Returns fn_directive_history of the new directive.';

-- ============================================================================================
-- Edit content: never phase, status, version, type or team.
-- ============================================================================================
create or replace function public.fn_update_directive(p_sd text, p_patch jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2;
  v_part jsonb;
  v_story jsonb;
  v_unknown text[];
  v_n int;
begin
  -- ------------------------------------------------------------------ validation
  if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_patch must be a JSON object';
  end if;
  select array_agg(k) into v_unknown from (
    select k from jsonb_object_keys(p_patch) k where k not in ('directive', 'prd', 'stories')
    union all
    select 'directive.' || k from jsonb_object_keys(coalesce(nullif(p_patch -> 'directive', 'null'), '{}')) k
      where k not in ('title', 'description', 'scope', 'success_criteria', 'priority', 'metadata')
    union all
    select 'prd.' || k from jsonb_object_keys(coalesce(nullif(p_patch -> 'prd', 'null'), '{}')) k
      where k not in ('title', 'executive_summary', 'functional_requirements', 'acceptance_criteria', 'test_scenarios')
  ) u;
  if v_unknown is not null then
    raise exception using errcode = 'SG001', message = format(
      'INVALID_INPUT: %s cannot be edited (content only: phase, status and version change only through handoffs)', array_to_string(v_unknown, ', '));
  end if;
  if p_patch ? 'stories' and jsonb_typeof(p_patch -> 'stories') <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: stories must be an array of {story_key, title?, acceptance_criteria?}';
  end if;
  -- the directive the caller may read (RLS); the UPDATEs below meet its write policies
  perform public.fn_directive_history(p_sd);
  select s.* into v_sd from public.strategic_directives_v2 s
  where s.id = p_sd or (p_sd ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.uuid = p_sd::uuid);

  -- ------------------------------------------------------------------ the changes
  v_part := p_patch -> 'directive';
  if v_part is not null and v_part <> '{}' then
    update public.strategic_directives_v2 s set
      title = case when v_part ? 'title' then btrim(v_part ->> 'title') else s.title end,
      description = case when v_part ? 'description' then v_part ->> 'description' else s.description end,
      scope = case when v_part ? 'scope' then v_part ->> 'scope' else s.scope end,
      success_criteria = case when v_part ? 'success_criteria' then v_part -> 'success_criteria' else s.success_criteria end,
      priority = case when v_part ? 'priority' then v_part ->> 'priority' else s.priority end,
      metadata = case when v_part ? 'metadata' then v_part -> 'metadata' else s.metadata end
    where s.uuid = v_sd.uuid;
    get diagnostics v_n = row_count;
    if v_n = 0 then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read %L but not edit it', v_sd.id);
    end if;
  end if;
  v_part := p_patch -> 'prd';
  if v_part is not null and v_part <> '{}' then
    update public.product_requirements_v2 p set
      title = case when v_part ? 'title' then btrim(v_part ->> 'title') else p.title end,
      executive_summary = case when v_part ? 'executive_summary' then v_part ->> 'executive_summary' else p.executive_summary end,
      functional_requirements = case when v_part ? 'functional_requirements' then v_part -> 'functional_requirements' else p.functional_requirements end,
      acceptance_criteria = case when v_part ? 'acceptance_criteria' then v_part -> 'acceptance_criteria' else p.acceptance_criteria end,
      test_scenarios = case when v_part ? 'test_scenarios' then v_part -> 'test_scenarios' else p.test_scenarios end
    where p.sd_id = v_sd.id;
    get diagnostics v_n = row_count;
    if v_n = 0 and exists (select 1 from public.product_requirements_v2 p where p.sd_id = v_sd.id) then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read the PRD of %L but not edit it', v_sd.id);
    elsif v_n = 0 then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %L has no PRD to edit', v_sd.id);
    end if;
  end if;
  for v_story in select * from jsonb_array_elements(coalesce(p_patch -> 'stories', '[]')) loop
    if jsonb_typeof(v_story) <> 'object' or exists (select 1 from jsonb_object_keys(v_story) k where k not in ('story_key', 'title', 'acceptance_criteria')) then
      raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a story edit is {story_key, title?, acceptance_criteria?}';
    end if;
    update public.user_stories u set
      title = case when v_story ? 'title' then btrim(v_story ->> 'title') else u.title end,
      acceptance_criteria = case when v_story ? 'acceptance_criteria' then v_story -> 'acceptance_criteria' else u.acceptance_criteria end
    where u.sd_id = v_sd.id and u.story_key = v_story ->> 'story_key';
    get diagnostics v_n = row_count;
    if v_n = 0 and exists (select 1 from public.user_stories u where u.sd_id = v_sd.id and u.story_key = v_story ->> 'story_key') then
      raise exception using errcode = '42501', message = format('FORBIDDEN: you may read story %L of %L but not edit it', v_story ->> 'story_key', v_sd.id);
    elsif v_n = 0 then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %L has no story %L', v_sd.id, v_story ->> 'story_key');
    end if;
  end loop;

  return public.fn_directive_history(v_sd.id);
exception
  when not_null_violation or check_violation then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %s', sqlerrm);
end;
$$;
comment on function public.fn_update_directive(text, jsonb) is
  'Edits the content of a directive, its PRD and its stories in one transaction: {directive?: {title, description, scope, success_criteria, priority, metadata}, prd?: {title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios}, stories?: [{story_key, title?, acceptance_criteria?}]}. Phase, status, version, type and team are refused. Returns fn_directive_history.';

-- ============================================================================================
-- Grants: signed-in users and the service role call these; the tables' grants and policies
-- decide the rest.
-- ============================================================================================
revoke all on function
  public.fn_workflow(),
  public.fn_list_directives(jsonb, int),
  public.fn_directive_summary(public.strategic_directives_v2),
  public.fn_directive_history(text),
  public.fn_create_directive(jsonb),
  public.fn_update_directive(text, jsonb)
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_workflow(),
  public.fn_list_directives(jsonb, int),
  public.fn_directive_summary(public.strategic_directives_v2),
  public.fn_directive_history(text),
  public.fn_create_directive(jsonb),
  public.fn_update_directive(text, jsonb)
to authenticated, service_role;

-- a helper of the two above, in the unexposed schema: it runs as the caller (RLS decides)
revoke all on function stagegate_private.fn_directive_awaiting_approval(uuid, text) from public, anon;
grant execute on function stagegate_private.fn_directive_awaiting_approval(uuid, text) to authenticated, service_role;

-- Creating: LEAD and PLAN members create directives, with their PRD and stories, in their own
-- teams (fn_create_directive runs as the caller, so these decide). The columns granted are the
-- content and the keys: phase, status and version take their defaults.
grant insert (id, title, description, scope, success_criteria, sd_type, priority, metadata, team_id)
  on table public.strategic_directives_v2 to authenticated;
grant insert (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
  on table public.product_requirements_v2 to authenticated;
grant insert (story_key, sd_id, prd_id, title, acceptance_criteria) on table public.user_stories to authenticated;
create policy "leads and planners create their team's directives" on public.strategic_directives_v2
  for insert to authenticated with check (team_id in (select stagegate_private.my_team_ids('{LEAD,PLAN}')));
create policy "leads and planners create their team's PRDs" on public.product_requirements_v2
  for insert to authenticated with check (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')));
create policy "leads and planners create their team's stories" on public.user_stories
  for insert to authenticated with check (sd_id in (select stagegate_private.my_sd_ids('{LEAD,PLAN}')));
