-- Validation modes, part 2: every change audited, notified and logged; the promotion gate's
-- settings; the unknown-input counter the gate reads.
--
-- A mode changes through public.fn_set_validation_mode (next migration), the only writer that
-- service_role keeps (the grants migration revokes direct writes). The audit itself is a trigger
-- on validation_modes, so even a superuser's direct UPDATE is recorded, notified and logged —
-- without a reason and without the promotion gate, which the audit row then says.
--
-- Errors (table in 20261125010000_core_config.sql, continued here):
--   SG015 PROMOTION_BLOCKED  a move to ENFORCE refused by the canary gate (rates, count, window)

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
insert into public.validation_mode_settings default values;
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
  at timestamptz not null default clock_timestamp()
);
create index validation_mode_changes_scope_at on public.validation_mode_changes (scope, at desc);
comment on table public.validation_mode_changes is
  'Every change of public.validation_modes: old and new effective mode, actor (role and auth.uid()), reason, forced, via (fn_set_validation_mode, ops-webhook, direct write) and the promotion-gate numbers at that moment.';

-- A handoff request whose stage or handoff-type input could not be normalised (the handoff
-- function answers UNKNOWN_HANDOFF_TYPE). Counted by the promotion gate's unknown-input rate.
create table public.unknown_inputs (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('handoff_type', 'stage', 'phase')),
  input text not null check (length(input) <= 200),
  sd_type text,
  source text not null default 'handoff' check (length(source) <= 100),
  at timestamptz not null default clock_timestamp()
);
create index unknown_inputs_at on public.unknown_inputs (at);

-- The RPC hands its context (reason, forced, gate numbers, via) to the trigger through this
-- transaction-local setting, as the breaker RPCs do with stagegate.breaker_reason.
create function public.tg_validation_modes__audit() returns trigger
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
