SET local check_function_bodies = off;

ALTER TABLE "public"."handoff_attempts"
  DROP CONSTRAINT "handoff_attempts_request_id_key";

DROP FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer);

DROP FUNCTION "public"."fn_breaker_record"(text, boolean, text);

DROP FUNCTION "public"."fn_record_unknown_input"(text, text, text, text);

CREATE TABLE "public"."handoff_request_events" (
  "id"           bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "kind"         text                     NOT NULL,
  "reason"       text                     NOT NULL,
  "handoff_type" text,
  "at"           timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "handoff_request_events_kind_check" CHECK ((kind = ANY (ARRAY['replay'::text, 'dry_run'::text]))),
  CONSTRAINT "handoff_request_events_pkey" PRIMARY KEY (id),
  CONSTRAINT "handoff_request_events_reason_check" CHECK (((length(reason) >= 1) AND (length(reason) <= 40)))
);

ALTER TABLE "public"."handoff_request_events"
  ENABLE ROW LEVEL SECURITY;

ALTER TABLE "public"."handoff_attempts"
  ADD COLUMN "inputs_hash" text;

ALTER TABLE "public"."handoff_attempts"
  ADD COLUMN "dry_run" boolean NOT NULL DEFAULT false;

ALTER TABLE "public"."handoff_attempts"
  ADD COLUMN "superseded_at" timestamp WITH time zone;

ALTER TABLE "public"."sub_agent_breakers"
  ADD COLUMN "failure_attempts" uuid[] NOT NULL DEFAULT '{}'::uuid[];

ALTER TABLE "public"."unknown_inputs"
  ADD COLUMN "caller" text;

ALTER TABLE "public"."unknown_inputs"
  ADD COLUMN "window_start" timestamp WITH time zone;

ALTER TABLE "public"."unknown_inputs"
  ADD COLUMN "hits" integer NOT NULL DEFAULT 1;

ALTER TABLE "public"."unknown_inputs"
  ADD COLUMN "sd_id" text;

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
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
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
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
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
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
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
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('PLAN-TO-LEAD', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

CREATE OR REPLACE FUNCTION public.fn_attempt_live_for (
  p_gates jsonb
)
  RETURNS interval
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select make_interval(secs => 10 + coalesce(sum(
           coalesce((g->>'timeout_ms')::numeric, 60000) * (1 + greatest(coalesce((g->>'max_retries')::numeric, 0), 0))), 0) / 1000.0)
  from jsonb_array_elements(case when jsonb_typeof(p_gates) = 'array' then p_gates else '[]'::jsonb end) g
  where not coalesce((g->>'skip')::boolean, false)
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
  perform public.fn_check_text('p_target', p_target), public.fn_check_text('p_run_id', p_run_id);  -- sqlfix: no control characters (fn_check_text)
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
  p_expected_version integer DEFAULT NULL::integer,
  p_dry_run          boolean DEFAULT false
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
  v_holder public.sd_claims;
  v_open public.handoff_attempts;
  v_hash text;
  v_reason text;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_handoff_type', p_handoff_type),
          public.fn_check_text('p_request_id', p_request_id), public.fn_check_text('p_session_id', p_session_id);
  if p_expected_version is not null and p_expected_version < 0 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_expected_version must be a transition_version (0 or more), got %s', p_expected_version);
  end if;
  if p_dry_run is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_dry_run must be true or false';
  end if;

  -- ---------------------------------------------------------------- replay (sqlfix: by inputs)
  select * into v_attempt from public.handoff_attempts a
  where a.request_id = p_request_id and a.superseded_at is null;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    if v_attempt.status = 'in_progress' then
      return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
    end if;
    v_reason := case v_attempt.status when 'completed' then 'accepted' end;
    if v_attempt.status in ('rejected', 'failed') then
      select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
      if not found or public.fn_handoff_inputs_hash(v_sd, v_attempt.handoff_type) = v_attempt.inputs_hash then
        v_reason := 'unchanged_inputs';
      end if;
    end if;
    if v_reason is not null then
      insert into public.handoff_request_events (kind, reason, handoff_type) values ('replay', v_reason, v_attempt.handoff_type);
      return public.fn_attempt_answer(v_attempt, true) || jsonb_build_object('replay_reason', v_reason);
    end if;
    -- The answer no longer holds for these inputs: the request id passes to a new attempt.
    update public.handoff_attempts a set superseded_at = clock_timestamp()
    where a.id = v_attempt.id and a.superseded_at is null;
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  -- sqlfix: fail fast. Another begin of this SD holds it for a few ms; refusing at once instead of
  -- queueing on the claim row keeps a burst's refusals as fast as one handoff. The two-key lock
  -- space cannot collide with fn_complete_handoff's one-key lock on the SD.
  if not p_dry_run and not pg_try_advisory_xact_lock(1397178949, hashtext(v_sd.uuid::text)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another request is beginning a handoff of strategic directive %L; retry shortly', v_sd.id);
  end if;
  -- sqlfix: one live attempt per SD. A second one could only run its gates to lose at complete
  -- (SD_BUSY or ALREADY_TRANSITIONED); refusing it here answers in milliseconds. An attempt
  -- counts as live for as long as its gates could still be running (fn_attempt_live_for); after
  -- that a crashed one no longer blocks (the same request id resumes it at any time).
  if not p_dry_run then
    select * into v_open from public.handoff_attempts a
    where a.sd_uuid = v_sd.uuid and a.status = 'in_progress' and not a.dry_run
      and a.started_at > now() - public.fn_attempt_live_for(a.gates)
    order by a.started_at limit 1;
    if found then
      raise exception using errcode = 'SG006',
        message = format('SD_BUSY: strategic directive %L has a handoff in progress (attempt %s, %s, request id %L, session %L, since %s); retry when it has finished, or retry that request id to resume it',
                         v_sd.id, v_open.id, v_open.handoff_type, v_open.request_id, v_open.session_id, v_open.started_at);
    end if;
  end if;
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
  if p_dry_run then
    -- sqlfix: a dry run takes no claim, but is refused where the real run would be.
    select * into v_holder from public.sd_claims c
    where c.sd_id = v_sd.id and c.expires_at > now() and c.session_id <> p_session_id;
    if found then
      raise exception using errcode = 'SG005',
        message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by session %L until %s',
                         v_sd.id, v_holder.session_id, v_holder.expires_at);
    end if;
  else
    perform public.fn_claim_sd(v_sd.id, p_session_id);
  end if;

  -- ---------------------------------------------------------------- open the attempt
  v_hash := public.fn_handoff_inputs_hash(v_sd, v_type.code);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates,
     inputs_hash, dry_run)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type),
     v_hash, p_dry_run)
  on conflict (request_id) where superseded_at is null do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
    return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
  end if;
  return public.fn_attempt_answer(v_attempt, false) || jsonb_build_object('replay_reason', null, 'dry_run', p_dry_run);
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
  perform public.fn_check_text('p_code', p_code);  -- sqlfix: no control characters (fn_check_text)
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
  p_code       text,
  p_success    boolean,
  p_error      text    DEFAULT NULL::text,
  p_attempt_id uuid    DEFAULT NULL::uuid
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
  perform public.fn_check_text('p_code', p_code), public.fn_check_text('p_error', p_error, true);

  -- Fast path, no lock and no write: the common case of a success on a healthy closed breaker.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and p_success and v_row.state = 'closed' and v_row.consecutive_failures = 0 then
    return jsonb_build_object('state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    if p_success then
      update public.sub_agent_breakers b set consecutive_failures = 0, failure_attempts = '{}' where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed');
    end if;
    -- sqlfix: a retry within one attempt is not another failure of the agent
    if p_attempt_id is not null and p_attempt_id = any (v_row.failure_attempts) then
      update public.sub_agent_breakers b set last_error = v_error, last_failure_at = now() where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed', 'consecutive_failures', v_row.consecutive_failures, 'counted', false);
    end if;
    if v_row.consecutive_failures + 1 < v_row.failure_threshold then
      update public.sub_agent_breakers b
        set consecutive_failures = v_row.consecutive_failures + 1, last_error = v_error, last_failure_at = now(),
            -- fewer than failure_threshold (<= 1000) entries: opening empties it
            failure_attempts = case when p_attempt_id is null then b.failure_attempts else b.failure_attempts || p_attempt_id end
        where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed', 'consecutive_failures', v_row.consecutive_failures + 1);
    end if;
    perform public.breaker_reason(format('%s consecutive failures', v_row.consecutive_failures + 1));
    update public.sub_agent_breakers b
      set state = 'open', opened_at = now(), consecutive_failures = v_row.consecutive_failures + 1,
          consecutive_successes = 0, last_error = v_error, last_failure_at = now(), failure_attempts = '{}'
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
            half_open_probe_until = null, failure_attempts = '{}'
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
  perform public.fn_check_text('p_code', p_code), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
  perform public.breaker_reason('manual reset' || coalesce(': ' || left(nullif(btrim(p_reason), ''), 500), ''));
  update public.sub_agent_breakers b
    set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
        half_open_probe_until = null
    where b.sub_agent_code = p_code;
  perform public.breaker_reason(null);
  return jsonb_build_object('state', 'closed', 'previous_state', v_row.state, 'changed', v_row.state <> 'closed');
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_check_text (
  p_arg       text,
  p_value     text,
  p_free_text boolean DEFAULT false
)
  RETURNS void
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  v_at int;
begin
  if p_value is null then
    return;
  end if;
  v_at := case when p_free_text then regexp_instr(p_value, '[\x01-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]')
               else regexp_instr(p_value, '[\x01-\x1F\x7F-\x9F]') end;
  if v_at > 0 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: %s contains a control character (U+%s at position %s)',
                       p_arg, lpad(to_hex(ascii(substr(p_value, v_at, 1))), 4, '0'), v_at);
  end if;
end;
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
  perform public.fn_check_text('p_worker', p_worker);  -- sqlfix: no control characters (fn_check_text)
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
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
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
  perform public.fn_check_text('p_id', p_id);  -- sqlfix: no control characters (fn_check_text)
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
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
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
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
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
  perform public.fn_check_text('p_gate_code', p_gate_code);  -- sqlfix: no control characters (fn_check_text)
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
    -- sqlfix: says why it replayed (accepted | unchanged_inputs)
    return (v_begin->'result') || jsonb_build_object('replay', true, 'replay_reason', v_begin->'replay_reason');
  end if;
  v_attempt_id := (v_begin->>'attempt_id')::uuid;

  for v_item in select * from jsonb_array_elements(coalesce(p_gate_results, '[]')) loop
    v_code := upper(v_item->>'code');
    if v_code is null then
      raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate result without a code: %s', v_item);
    end if;
    perform public.fn_check_text('p_gate_results[].code', v_code);
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

CREATE OR REPLACE FUNCTION public.fn_finish_dry_run (
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
  v_answer jsonb;
  v_state text;
  v_message text;
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not v_attempt.dry_run then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: attempt %s is not a dry run; complete it with fn_complete_handoff', p_attempt_id);
  end if;
  -- The verdict of the very SQL a real completion runs, in a subtransaction rolled back by the
  -- raise: no transition, no audit row, no handoff record survive it.
  begin
    update public.handoff_attempts a set dry_run = false where a.id = p_attempt_id;
    v_answer := public.fn_complete_handoff(p_attempt_id, p_expected_version);
    raise exception using errcode = 'SGDRY', message = 'dry run: roll back';
  exception
    when sqlstate 'SGDRY' then
      null;
    when others then
      -- a refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …): answered, not raised, so the
      -- attempt is still deleted below (a raise would roll the delete back too)
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
  end;
  delete from public.handoff_attempts a where a.id = p_attempt_id;  -- its results go with it (cascade)
  insert into public.handoff_request_events (kind, reason, handoff_type)
  values ('dry_run', coalesce(v_answer->>'verdict', 'refused'), v_attempt.handoff_type);
  if v_state is not null then
    return jsonb_build_object('dry_run', true, 'error', jsonb_build_object('sqlstate', v_state, 'message', v_message));
  end if;
  return v_answer || jsonb_build_object('dry_run', true, 'audit_id', null);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_handoff_inputs_hash (
  p_sd           public.strategic_directives_v2,
  p_handoff_type text
)
  RETURNS text
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select encode(sha256(convert_to(jsonb_build_array(
    public.fn_sd_context(p_sd),
    public.fn_handoff_gates(p_handoff_type, p_sd.sd_type),
    public.fn_sd_threshold(p_sd.sd_type),
    public.fn_get_validation_mode(p_sd.sd_type))::text, 'UTF8')), 'hex')
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
    where not a.dry_run  -- sqlfix: a dry run is nobody's open attempt
  ), requests as materialized (
    -- sqlfix: requests that left no attempt: replays of a finished request id, dry runs
    select e.kind, e.reason, e.at > now() - c_window as recent from public.handoff_request_events e
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
    -- sqlfix: a client retrying a finished handoff (HTTP derived request id or SQL request id)
    'handoff_request_replays', coalesce((
      select jsonb_object_agg(x.reason, x.n)
      from (select q.reason, count(*) as n from requests q where q.kind = 'replay' group by 1) x), '{}'::jsonb),
    'dry_runs', (select count(*) from requests q where q.kind = 'dry_run'),
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
        -- sqlfix: replays of a finished request id / (those + attempts begun), last hour
        'handoff_request_replay', (select q.n::numeric / nullif(q.n + a.n, 0)
                                   from (select count(*) as n from requests q where q.kind = 'replay' and q.recent) q,
                                        (select count(*) as n from public.handoff_attempts h
                                         where h.started_at > now() - c_window and not h.dry_run) a),
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
  select public.fn_check_text('p_gate_code', p_gate_code), public.fn_check_text('p_idempotency_key', p_idempotency_key);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true)
$function$;

CREATE OR REPLACE FUNCTION public.fn_record_unknown_input (
  p_kind       text,
  p_input      text,
  p_sd_type    text    DEFAULT NULL::text,
  p_source     text    DEFAULT 'handoff'::text,
  p_caller     text    DEFAULT NULL::text,
  p_sd_id      text    DEFAULT NULL::text,
  p_require_sd boolean DEFAULT false
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sd_type text := p_sd_type;
  v_new boolean;
begin
  perform public.fn_check_text('p_kind', p_kind), public.fn_check_text('p_source', p_source),
          public.fn_check_text('p_sd_type', p_sd_type), public.fn_check_text('p_sd_id', p_sd_id);
  if p_sd_id is not null then
    select s.sd_type into v_sd_type from public.strategic_directives_v2 s
    where s.id = p_sd_id or (p_sd_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.uuid = p_sd_id::uuid)
    limit 1;
    if not found then
      return false;  -- a request about no directive steers nothing
    end if;
  elsif p_require_sd then
    return false;
  end if;
  insert into public.unknown_inputs as u (kind, input, sd_type, source, caller, window_start, sd_id)
  values (p_kind,
          -- the input is evidence for a human; control characters are shown, not stored
          left(regexp_replace(coalesce(p_input, ''), '[\x01-\x1F\x7F-\x9F]', '?', 'g'), 200),
          left(v_sd_type, 40), left(coalesce(p_source, 'handoff'), 100),
          encode(sha256(convert_to(coalesce(p_caller, 'sql:' || session_user), 'UTF8')), 'hex'),
          date_bin('10 minutes', clock_timestamp(), timestamptz '2000-01-01 00:00:00+00'), left(p_sd_id, 200))
  on conflict (kind, caller, window_start) do update set hits = u.hits + 1
  returning (xmax = 0) into v_new;
  return v_new;
end;
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
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  delete from public.sd_claims c where c.sd_id = v_sd.id and c.session_id = p_session_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select c.session_id into v_held_by from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false, 'held_by', v_held_by);
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
  perform public.fn_check_text('p_name', p_name);  -- sqlfix: no control characters (fn_check_text)
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
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_mode', p_mode), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
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
  v_events int;
begin
  v_http := public.fn_idempotency_purge(p_http_older_than);
  -- sqlfix: the request counters age out with the HTTP keys
  delete from public.handoff_request_events e where e.at < now() - p_http_older_than;
  get diagnostics v_events = row_count;
  -- dynamic: the webhook-id store belongs to another migration and may be absent
  if to_regprocedure('public.fn_purge_webhook_ids()') is not null then
    execute 'select public.fn_purge_webhook_ids()' into v_webhooks;
  end if;
  return jsonb_build_object('http_idempotency_keys', v_http, 'webhook_ids', v_webhooks, 'handoff_request_events', v_events);
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
  v_dry int;
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
      and not a.dry_run  -- sqlfix: a dry run left by a crash is deleted below, never audited
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
  -- sqlfix: dry runs whose fn_finish_dry_run never came (the function crashed): nothing to audit
  delete from public.handoff_attempts a
  where a.dry_run and a.status = 'in_progress' and a.started_at < now() - p_older_than;
  get diagnostics v_dry = row_count;
  return jsonb_build_object('abandoned_attempts', v_count, 'deleted_dry_runs', v_dry, 'older_than', p_older_than::text);
end;
$function$;

CREATE OR REPLACE FUNCTION public.tg_handoff_attempts__dry_run_guard()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  raise exception using errcode = 'SG001',
    message = format('INVALID_INPUT: attempt %s is a dry run; it cannot be completed, only judged by fn_finish_dry_run', old.id);
end;
$function$;

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_inputs_hash_check" CHECK ((inputs_hash ~ '^[0-9a-f]{64}$'::text));

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_superseded_finished" CHECK (((superseded_at IS NULL) OR (status <> 'in_progress'::text)));

ALTER TABLE "public"."sub_agent_breakers"
  ADD CONSTRAINT "sub_agent_breakers_failure_attempts_check" CHECK ((cardinality(failure_attempts) <= 1000));

ALTER TABLE "public"."unknown_inputs"
  ADD CONSTRAINT "unknown_inputs_caller_check" CHECK ((caller ~ '^[0-9a-f]{64}$'::text));

ALTER TABLE "public"."unknown_inputs"
  ADD CONSTRAINT "unknown_inputs_hits_check" CHECK ((hits >= 1));

ALTER TABLE "public"."unknown_inputs"
  ADD CONSTRAINT "unknown_inputs_sd_id_check" CHECK ((length(sd_id) <= 200));

CREATE UNIQUE INDEX handoff_attempts_request_id_key ON public.handoff_attempts USING btree (request_id)
  WHERE (superseded_at IS NULL);

CREATE INDEX handoff_request_events_at ON public.handoff_request_events USING btree (at);

CREATE UNIQUE INDEX unknown_inputs_signal ON public.unknown_inputs USING btree (kind, caller, window_start);

CREATE TRIGGER _100_dry_run_guard
  BEFORE UPDATE ON public.handoff_attempts
  FOR EACH ROW
  WHEN ((old.dry_run AND new.dry_run AND (new.status <> 'in_progress'::text)))
  EXECUTE FUNCTION public.tg_handoff_attempts__dry_run_guard();

COMMENT ON COLUMN "public"."handoff_attempts"."dry_run" IS 'A dry run: no claim, deleted by fn_finish_dry_run (or the stuck-attempt sweep); never completed for real.';

COMMENT ON COLUMN "public"."handoff_attempts"."inputs_hash" IS 'sha256 (hex) of what the verdict depends on, taken at begin: fn_handoff_inputs_hash. A retry of a rejected request id replays only while it is unchanged.';

COMMENT ON COLUMN "public"."handoff_attempts"."superseded_at" IS 'Set when a retry of this request id ran anew because the inputs changed (or the attempt ended without a verdict); the request id then belongs to the newer attempt.';

COMMENT ON COLUMN "public"."sub_agent_breakers"."failure_attempts" IS 'The distinct attempts among the current consecutive failures (reset by a success): a failure of an attempt already listed does not count again.';

COMMENT ON COLUMN "public"."unknown_inputs"."caller" IS 'sha256 (hex) of the caller (the JWT''s role and sub for the handoff function; the database role for a SQL caller). One row per (kind, caller, window_start): a signal, not a request.';

COMMENT ON COLUMN "public"."unknown_inputs"."hits" IS 'Requests this signal stands for (the first and its repeats in the window).';

COMMENT ON FUNCTION "public"."fn_attempt_live_for"(jsonb) IS 'How long an attempt with this gate plan may still be running its gates: every gate''s timeout times its tries, one after another, plus 10 s. fn_begin_handoff refuses a second attempt of the SD (SD_BUSY) while one is this young.';

COMMENT ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) IS 'Begin a handoff: resolve the SD (key or uuid), refuse at once while another begin of the SD runs or another attempt of it is live (SG006 SD_BUSY; live = younger than fn_attempt_live_for of its plan), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free; a dry run only checks it), freeze the gate plan (after skip rules), a context snapshot and the inputs hash. Same p_request_id: the same attempt while it runs (replay_reason in_progress), its answer when it was accepted (accepted) or rejected or failed on the same inputs (unchanged_inputs); otherwise (inputs changed, or abandoned) the old attempt is superseded and a new one begins. p_dry_run: no claim; finish it with fn_finish_dry_run. Returns {attempt_id, request_id, status, replay, replay_reason, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';

COMMENT ON FUNCTION "public"."fn_breaker_record"(text, boolean, text, uuid) IS 'Record the outcome of a sub-agent call. closed: failures count up to failure_threshold -> open, once per p_attempt_id (retries within one handoff attempt count once; without an attempt every call counts), a success resets the count. half_open: a failure -> open (timer restarts); success_threshold successes -> closed, fewer release the probe lease. open: ignored. Returns {state}.';

COMMENT ON FUNCTION "public"."fn_check_text"(text, text, boolean) IS 'Raises SG001 INVALID_INPUT naming p_arg when p_value holds a control character (C0, DEL, C1; with p_free_text, tab, LF and CR are allowed). Called first by every RPC that stores or looks up caller text.';

COMMENT ON FUNCTION "public"."fn_execute_handoff"(text, text, text, text, jsonb) IS 'Run a whole handoff in one call: begin, record p_gate_results (JSON array of {code, passed, score, maxScore, issues, warnings}, normalised as seed pattern 7: pass/max_score aliases, coerced passed, defaults; a result for a gate outside the plan is stored as skipped and ignored), evaluate the plan''s sql gates not supplied, complete. Same p_request_id returns the first result (replay=true, replay_reason accepted|unchanged_inputs) while it still holds: a rejection is judged again once the SD, its PRD or stories, the gate plan, threshold or mode changed. Returns the fn_complete_handoff answer.';

COMMENT ON FUNCTION "public"."fn_finish_dry_run"(uuid, integer) IS 'Judge a dry-run attempt (fn_begin_handoff with p_dry_run) with fn_complete_handoff''s own SQL inside a subtransaction that is rolled back, then delete the attempt and its gate results and count it (handoff_request_events kind dry_run). A refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …) is answered as {dry_run: true, error: {sqlstate, message}} (the attempt is deleted all the same). Returns the verdict with dry_run=true and audit_id null.';

COMMENT ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) IS 'sha256 (hex) of the inputs a verdict depends on: the context snapshot (SD, PRD, stories), the gate plan (registry and skip rules), the threshold and the validation mode of the SD type. jsonb prints keys in a fixed order, so equal inputs give equal hashes.';

COMMENT ON FUNCTION "public"."fn_metrics_snapshot"() IS 'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';

COMMENT ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text, text, text, boolean) IS 'Counts a request whose handoff_type/stage/phase input could not be normalised (kind handoff_type, stage or phase) as one signal per caller (p_caller, default the database role) and 10-minute window: repeats raise unknown_inputs.hits, not the row count that fn_promotion_gate and stagegate_unknown_inputs_total read. Nothing is counted when p_sd_id names no directive, or when p_require_sd and no p_sd_id is given. Returns true for a new signal.';

COMMENT ON FUNCTION "public"."fn_sweep_stuck_attempts"(interval) IS 'Mark handoff attempts in_progress for longer than p_older_than (default 15 minutes) as abandoned, each with one audit row of status abandoned carrying the Spartan error log (error_code ABANDONED, failed_step, pre_state, partial_state, recovery_action); delete dry-run attempts as old (no audit: a dry run leaves nothing). Returns {abandoned_attempts, deleted_dry_runs, older_than}.';

COMMENT ON TABLE "public"."handoff_request_events" IS 'Counters of requests that leave no attempt behind: replays of a finished request id (kind replay, reason accepted|unchanged_inputs) and dry runs (kind dry_run, reason = verdict). Insert-only, so concurrent retries never wait on each other; purged after 24 h by the idempotency sweep.';

REVOKE ALL ON FUNCTION "public"."fn_attempt_live_for"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_attempt_live_for"(jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text, uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_breaker_record"(text, boolean, text, uuid) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_text"(text, text, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_text"(text, text, boolean) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_finish_dry_run"(uuid, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_finish_dry_run"(uuid, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text, text, text, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text, text, text, boolean) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."tg_handoff_attempts__dry_run_guard"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_handoff_attempts__dry_run_guard"() TO "postgres";

GRANT ALL ON TABLE "public"."handoff_request_events" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_attempt_live_for"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_attempt_live_for"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_attempt_live_for"(jsonb) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text, uuid) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_breaker_record"(text, boolean, text, uuid) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_text"(text, text, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_text"(text, text, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_text"(text, text, boolean) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_finish_dry_run"(uuid, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_finish_dry_run"(uuid, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash"(public.strategic_directives_v2, text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text, text, text, boolean) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_unknown_input"(text, text, text, text, text, text, boolean) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_handoff_attempts__dry_run_guard"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_handoff_attempts__dry_run_guard"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_handoff_attempts__dry_run_guard"() FROM "service_role";

REVOKE ALL ON TABLE "public"."handoff_request_events" FROM "anon";

REVOKE ALL ON TABLE "public"."handoff_request_events" FROM "authenticated";
