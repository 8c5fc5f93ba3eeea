-- Validation modes (ENFORCE / WARN / OFF, global and per SD type), every change audited, notified
-- and logged; the promotion gate and its settings; the unknown-input counter the gate reads; the
-- ops webhook's replay protection.
--
-- A mode changes through public.fn_set_validation_mode, the only writer that service_role keeps
-- (15_grants_and_policies.sql revokes direct writes). The audit itself is a trigger on
-- validation_modes, so even a superuser's direct UPDATE is recorded, notified and logged —
-- without a reason and without the promotion gate, which the audit row then says.
--
-- Errors (table in 01_workflow.sql, continued here):
--   SG015 PROMOTION_BLOCKED  a move to ENFORCE refused by the canary gate (rates, count, window)
--
-- The promotion gate. Definitions (over the canary window, validation_mode_settings.canary_window,
-- 30 min default):
--   judged handoffs   terminal rows of sd_transition_audit created in the window (one per
--                     completed attempt; dry runs roll back and leave none), for the scope: all of
--                     them for '*', those whose attempt's sd_type is the scope otherwise.
--   would-reject      judged handoffs that ENFORCE would refuse on the threshold: would_reject
--                     (WARN) or score below the threshold recorded with them (so OFF and ENFORCE
--                     periods count too).
--   unknown inputs    rows of unknown_inputs in the window (the handoff function records every
--                     request it answers UNKNOWN_HANDOFF_TYPE); for a scope other than '*', those
--                     of that sd_type or of no known sd_type.
--   requests          judged handoffs + unknown inputs: every request that either reached a
--                     verdict or was refused because its input could not be normalised.
--   would-reject rate = would-reject / judged handoffs; unknown-input rate = unknown / requests.
-- A move to ENFORCE from WARN or OFF is refused (SG015 PROMOTION_BLOCKED) while either rate is
-- above its maximum (0.5%) or fewer than min_handoffs (20) were judged. p_force overrides it; the
-- change is then audited forced = true with the numbers that would have refused it.
--
-- Replay protection for the ops webhook (Standard Webhooks): each webhook-id is accepted once.
-- The function claims the id in the same transaction as the effect, so a request that fails
-- leaves no id behind and its sender may retry it with the same id; a request that succeeded
-- (changed something or not) cannot be replayed.
--
-- Retention: an id may go once its signed timestamp is older than the tolerance plus a minute of
-- clock margin — a replay of it then fails the timestamp check (401) before reaching this table.
-- The webhook timestamp window belongs to the database: fn_claim_webhook_id refuses a timestamp
-- older than the same tolerance fn_purge_webhook_ids uses, so whatever the setting and whatever
-- window a caller checks, an id is never forgotten while a replay of it could still be accepted.

-- One global mode (scope '*') and optional per-SD-type overrides.
-- ENFORCE: below threshold blocks. WARN: passes, verdict says would_reject. OFF: no threshold check.
create table public.validation_modes (
  scope text primary key check (scope = '*' or scope ~ '^[a-z][a-z0-9_-]{0,39}$'),
  mode text not null check (mode in ('OFF', 'WARN', 'ENFORCE')),
  note text not null default '',
  updated_by text not null default current_user,
  updated_at timestamptz not null default now()
);

create or replace function public.tg_validation_modes__stamp() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  new.updated_by := current_user;
  return new;
end;
$$;

create trigger tg_validation_modes__stamp before insert or update on public.validation_modes
  for each row execute function public.tg_validation_modes__stamp();

-- One row: the canary gate's knobs. Changing them is itself a rule change, so keep it in SQL.
create table public.validation_mode_settings (
  id boolean primary key default true check (id),
  canary_window interval not null default interval '30 minutes'
    check (canary_window between interval '1 minute' and interval '7 days'),
  max_would_reject_rate numeric not null default 0.005 check (max_would_reject_rate between 0 and 1),
  max_unknown_rate numeric not null default 0.005 check (max_unknown_rate between 0 and 1),
  min_handoffs int not null default 20 check (min_handoffs >= 0),
  -- Standard Webhooks timestamp tolerance. A stored webhook-id may be purged once its signed
  -- timestamp is older than this plus a margin: a replay of it would be refused as stale anyway.
  webhook_tolerance interval not null default interval '5 minutes'
    check (webhook_tolerance between interval '30 seconds' and interval '1 hour'),
  updated_at timestamptz not null default now()
);
comment on table public.validation_mode_settings is
  'Promotion-gate settings (one row): canary window, highest would-reject and unknown-input rates that still allow WARN -> ENFORCE, fewest judged handoffs to judge by, webhook timestamp tolerance.';

create table public.validation_mode_changes (
  id bigint generated always as identity primary key,
  scope text not null,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  -- Effective modes for the scope (an override's absence means the global mode applies).
  old_mode text check (old_mode in ('OFF', 'WARN', 'ENFORCE')),
  new_mode text check (new_mode in ('OFF', 'WARN', 'ENFORCE')),
  actor text not null,
  actor_uid uuid,
  reason text not null,
  forced boolean not null default false,
  via text not null,
  gate jsonb,
  at timestamptz not null default clock_timestamp(),
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger'))
);
comment on column public.validation_mode_changes.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.validation_mode_changes.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.validation_mode_changes.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
create trigger _050_stamp_actor before insert on public.validation_mode_changes
  for each row execute function stagegate_private.tg__stamp_actor();
comment on table public.validation_mode_changes is
  'Every change of public.validation_modes: old and new effective mode, actor (role and auth.uid()), reason, forced, via (fn_set_validation_mode, ops-webhook, direct write) and the promotion-gate numbers at that moment.';
create index validation_mode_changes_scope_at on public.validation_mode_changes (scope, at desc);

-- A handoff request whose stage or handoff-type input could not be normalised (the handoff
-- function answers UNKNOWN_HANDOFF_TYPE). Counted by the promotion gate's unknown-input rate.
create table public.unknown_inputs (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('handoff_type', 'stage', 'phase')),
  input text not null check (length(input) <= 200),
  sd_type text,
  source text not null default 'handoff' check (length(source) <= 100),
  at timestamptz not null default clock_timestamp(),
  -- sqlfix (#15): one row is one signal per (kind, caller, 10-minute window), not one request
  caller text check (caller ~ '^[0-9a-f]{64}$'),
  window_start timestamptz,
  hits int not null default 1 check (hits >= 1),
  sd_id text check (length(sd_id) <= 200)
);
create index unknown_inputs_at on public.unknown_inputs (at);
create unique index unknown_inputs_signal on public.unknown_inputs (kind, caller, window_start);
comment on column public.unknown_inputs.caller is
  'sha256 (hex) of the caller (the JWT''s role and sub for the handoff function; the database role for a SQL caller). One row per (kind, caller, window_start): a signal, not a request.';
comment on column public.unknown_inputs.hits is 'Requests this signal stands for (the first and its repeats in the window).';

-- The RPC hands its context (reason, forced, gate numbers, via) to the trigger through this
-- transaction-local setting, as the breaker RPCs do with stagegate.breaker_reason.
create or replace function public.tg_validation_modes__audit() returns trigger
language plpgsql security definer set search_path = '' as $$
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
$$;

create trigger _900_audit after insert or delete on public.validation_modes
  for each row execute function public.tg_validation_modes__audit();

create trigger _901_audit_update after update on public.validation_modes
  for each row when (old.mode is distinct from new.mode) execute function public.tg_validation_modes__audit();

create or replace function public.fn_check_mode_scope(p_scope text) returns void
language plpgsql immutable set search_path = '' as $$
begin
  if p_scope is null or not (p_scope = '*' or p_scope ~ '^[a-z][a-z0-9_-]{0,39}$') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: scope must be ''*'' (global) or an sd_type such as ''feature'' (got %L)', left(p_scope, 100));
  end if;
end;
$$;

create or replace function public.fn_promotion_gate(p_scope text default '*') returns jsonb
language plpgsql stable security definer set search_path = '' as $$
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
$$;
comment on function public.fn_promotion_gate(text) is
  'Canary numbers for promoting a scope (''*'' or an sd_type) to ENFORCE over validation_mode_settings.canary_window: {ok, reasons, window, handoffs, would_reject, would_reject_rate, unknown_inputs, requests, unknown_rate, min_handoffs, max_would_reject_rate, max_unknown_rate}. Read only.';

create or replace function public.fn_set_validation_mode(p_scope text, p_mode text, p_reason text, p_force boolean default false)
returns jsonb
language plpgsql security definer set search_path = '' as $$
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
$$;
comment on function public.fn_set_validation_mode(text, text, text, boolean) is
  'The one way to change a validation mode (scope ''*'' or an sd_type; OFF, WARN, ENFORCE) with a reason. A move to ENFORCE passes the promotion gate (fn_promotion_gate) or raises SG015 PROMOTION_BLOCKED with the rates, the count and the window in the message and the numbers as JSON detail; p_force overrides it and the change is audited forced = true. Audited in validation_mode_changes, NOTIFY stagegate_mode, one JSON LOG line. Returns {changed, scope, old_mode, new_mode, forced, gate, change_id, actor, at}.';

-- An alert fired: every ENFORCE under the scope goes to WARN ('*' also demotes the overrides that
-- enforce). Never promotes; a scope not enforcing is left alone.
create or replace function public.fn_demote_validation_mode(p_scope text, p_reason text) returns jsonb
language plpgsql security definer set search_path = '' as $$
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
$$;
comment on function public.fn_demote_validation_mode(text, text) is
  'Moves ENFORCE to WARN for a scope (''*'' = the global mode and every enforcing override), with a reason; a scope not in ENFORCE is unchanged. Returns {changed, changes: [fn_set_validation_mode answers]}.';

create or replace function public.fn_record_unknown_input(
  p_kind text, p_input text, p_sd_type text default null, p_source text default 'handoff',
  p_caller text default null, p_sd_id text default null, p_require_sd boolean default false) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_sd_type text := p_sd_type;
  v_new boolean;
begin
  perform public.fn_check_text('p_kind', p_kind), public.fn_check_text('p_source', p_source),
          public.fn_check_text('p_sd_type', p_sd_type), public.fn_check_text('p_sd_id', p_sd_id);
  if p_kind is null or p_kind not in ('handoff_type', 'stage', 'phase') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_kind must be handoff_type, stage or phase (got %L)', left(p_kind, 100));
  end if;
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
$$;
comment on function public.fn_record_unknown_input(text, text, text, text, text, text, boolean) is
  'Counts a request whose handoff_type/stage/phase input could not be normalised (kind handoff_type, stage or phase) as one signal per caller (p_caller, default the database role) and 10-minute window: repeats raise unknown_inputs.hits, not the row count that fn_promotion_gate and stagegate_unknown_inputs_total read. Nothing is counted when p_sd_id names no directive, or when p_require_sd and no p_sd_id is given. Returns true for a new signal.';
-- The length bounds are written as two comparisons, not `between 1 and 255`: PostgreSQL keeps
-- `x between a and b and y` as a nested AND, which the CLI's diff prints with parentheses that
-- parse back flat, so a generated migration would never match this definition (the drift test
-- saw it as a changed CHECK on every diff). Flat comparisons round-trip.
create table public.ops_webhook_ids (
  id text primary key check (length(id) >= 1 and length(id) <= 255 and id ~ '^[ -~]+$'),
  webhook_ts timestamptz not null,
  received_at timestamptz not null default clock_timestamp()
);
comment on table public.ops_webhook_ids is
  'webhook-id values the ops webhook has acted on, with their signed timestamps; purged by fn_purge_webhook_ids.';
create index ops_webhook_ids_ts on public.ops_webhook_ids (webhook_ts);

create or replace function public.fn_claim_webhook_id(p_id text, p_timestamp timestamptz) returns boolean
language plpgsql security definer set search_path = '' as $$
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
$$;
comment on function public.fn_claim_webhook_id(text, timestamptz) is
  'Claims a webhook-id: true the first time, false when it was seen before (a replay). Refuses (SG001) a timestamp older than validation_mode_settings.webhook_tolerance, the window fn_purge_webhook_ids keeps ids for. Call it in the transaction of the effect.';

create or replace function public.fn_purge_webhook_ids() returns int
language plpgsql security definer set search_path = '' as $$
declare
  v_deleted int;
begin
  delete from public.ops_webhook_ids w
  where w.webhook_ts < now() - (select s.webhook_tolerance from public.validation_mode_settings s) - interval '1 minute';
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
-- The ops webhook does not purge on every request; the hourly 'idempotency' sweep does.
comment on function public.fn_purge_webhook_ids() is
  'Deletes webhook ids whose signed timestamp is older than the tolerance plus one minute (fn_claim_webhook_id refuses those timestamps). Returns the number deleted. Run by the idempotency sweep (sweep_schedule).';
