-- Batched backfill of stored phase, stage and handoff-type values through the normalisers of
-- 20261125020000_stage_normalization.sql. scripts/backfill-stages.ts drives it; a SQL user can
-- too: `select public.fn_backfill_stage_batch('sd_phase_handoffs', 500);` until "done" is true.
--
-- Each call is one batch in one transaction: it takes the checkpoint row FOR UPDATE (so two
-- runners of the same run take turns instead of racing), rewrites the next p_limit rows in
-- primary-key order, logs every change and every value it could not understand, and moves the
-- checkpoint, all or nothing. Killing the runner loses at most the batch in flight, and running
-- again resumes after the last committed batch; normalising is idempotent, so a batch done twice
-- changes nothing the second time.
--
-- Targets (the stored names we found):
--   strategic_directives_v2  current_phase            (phase; only to a phase registered in sd_phases)
--   sd_phase_handoffs        from_phase, to_phase     (phase)   handoff_type (handoff type)
--   leo_sub_agents           handoff_types[]          (handoff type, element by element)
-- Left alone on purpose: sd_transition_audit (an audit log is not rewritten) and handoff_attempts
-- (handoff_type is a foreign key, its phases are copied from the SD, so both are canonical).

create table public.stage_backfill_checkpoints (
  run_id text not null check (length(run_id) between 1 and 100),
  target text not null,
  last_key text,
  batches int not null default 0,
  rows_scanned bigint not null default 0,
  rows_updated bigint not null default 0,
  unknown_values bigint not null default 0,
  done boolean not null default false,
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (run_id, target)
);
comment on table public.stage_backfill_checkpoints is
  'Progress of public.fn_backfill_stage_batch per (run, target): last primary key committed, counters, done.';

create table public.stage_backfill_log (
  id bigint generated always as identity primary key,
  run_id text not null,
  target text not null,
  row_key text not null,
  column_name text not null,
  old_value text,
  new_value text,
  outcome text not null check (outcome in ('updated', 'unknown')),
  logged_at timestamptz not null default now()
);
create index stage_backfill_log_run_idx on public.stage_backfill_log (run_id, target, outcome);
comment on table public.stage_backfill_log is
  'Every value the stage backfill changed (old -> new) and every value it left alone because no normaliser understood it.';

alter table public.stage_backfill_checkpoints enable row level security;
alter table public.stage_backfill_log enable row level security;

create function public.fn_backfill_stage_batch(p_target text, p_limit int default 500, p_run_id text default 'default')
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
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
$$;
comment on function public.fn_backfill_stage_batch(text, int, text) is
  'Normalise the next p_limit rows of one target (strategic_directives_v2 | sd_phase_handoffs | leo_sub_agents) after the run''s checkpoint, in one transaction with the checkpoint. Returns {run_id, target, done, scanned, updated, unknown: [{key, column, old}], last_key, batches, totals}.';

revoke all on table public.stage_backfill_checkpoints, public.stage_backfill_log from public, anon, authenticated;
grant all on table public.stage_backfill_checkpoints, public.stage_backfill_log to service_role;
revoke execute on function public.fn_backfill_stage_batch(text, int, text) from public, anon, authenticated;
grant execute on function public.fn_backfill_stage_batch(text, int, text) to service_role;
