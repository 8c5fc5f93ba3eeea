-- Stage, phase and handoff-type normalisation: the SQL twin of shared/stages.ts, and the batched
-- backfill of stored values through it.
--
-- normalize_stage(text), normalize_handoff_type(text) and parse_stage_distribution(jsonb) give
-- exactly the answers of normalizeStage, normalizeHandoffType and parseStageDistribution;
-- tests/db/stages-parity.test.ts proves it over generated inputs and also checks that the rows
-- of stage_synonyms equal STAGE_ALIASES in the TypeScript. A new synonym therefore needs both a
-- new data migration and an edit of PHASE_SYNONYMS, or the parity test fails. (The rows are in
-- the hand-written migration 20261125000100_seed_data.sql.)
--
-- Rules shared with the TypeScript (see the header of shared/stages.ts):
--   * longer than 200 UTF-16 code units: invalid, no suggestions (bounds the cost);
--   * only ASCII letters are case-folded (translate, never upper(): upper() folds 'ß', 'ﬁ' and
--     friends by locale, JS toUpperCase() by Unicode, and they disagree);
--   * separator characters are dropped, any other character is foreign: invalid, though the
--     remaining letters and digits still earn suggestions;
--   * suggestions: bounded Levenshtein from the squashed key to each suggestible alias, kept
--     when distance <= least(3, length(alias) / 2), best distance per canonical value, ordered by
--     distance then canonical position, at most 3.
-- The database must be UTF8 (char_length counts characters, the regexes see code points).
--
-- stage_suggestions, normalize_stage and normalize_handoff_type are PL/pgSQL, not LANGUAGE sql
-- with a SET clause, which Postgres neither inlines nor keeps a plan for (before 18): every call
-- would plan its query again, about half a millisecond for the suggestion join. As PL/pgSQL they
-- keep their plans for the session.
--
-- Batched backfill of stored phase, stage and handoff-type values through the normalisers.
-- scripts/backfill-stages.ts drives it; a SQL user can too:
-- `select public.fn_backfill_stage_batch('sd_phase_handoffs', 500);` until "done" is true.
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

create table public.stage_vocabulary (
  kind text not null check (kind in ('phase', 'handoff')),
  value text not null check (value ~ '^[A-Z]+([_-][A-Z]+)*$'),
  position int not null,
  primary key (kind, value),
  unique (kind, position)
);
comment on table public.stage_vocabulary is
  'Canonical phase (= stage) names and handoff types; position breaks suggestion ties.';
alter table public.stage_vocabulary enable row level security;

create table public.stage_synonyms (
  kind text not null,
  alias text not null check (alias ~ '^[A-Z0-9]{1,200}$'),
  canonical text not null,
  suggest boolean not null,
  primary key (kind, alias),
  foreign key (kind, canonical) references public.stage_vocabulary (kind, value)
);
comment on table public.stage_synonyms is
  'Squashed keys (ASCII letters upper-cased, separators removed) accepted for each canonical value; '
  'suggest marks the aliases that "did you mean" compares against. Mirror of STAGE_ALIASES in shared/stages.ts.';
alter table public.stage_synonyms enable row level security;

create policy stage_vocabulary_read on public.stage_vocabulary for select to authenticated, service_role using (true);

create policy stage_synonyms_read on public.stage_synonyms for select to authenticated, service_role using (true);

-- Reads bytes, not characters (keys are ASCII: A-Z and 0-9 only, so a byte is a character; substr()
-- would walk the string from its start on every call), and fills only the band |i - j| <= p_max,
-- like boundedLevenshtein in the TypeScript.
-- ============================================================================================
-- Edit distance. fuzzystrmatch is not used: hosted Supabase installs it into schema
-- "extensions", a plain Postgres into whatever schema it is created in, and with
-- search_path = '' we would have to name that schema. Keys are short ASCII strings, so a
-- PL/pgSQL two-row DP with an early exit is cheap enough.
-- ============================================================================================
create or replace function public.stage_edit_distance(p_a text, p_b text, p_max int)
returns int
language plpgsql
immutable strict parallel safe
set search_path = ''
as $$
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
$$;

create or replace function public.stage_suggestions(p_kind text, p_key text)
returns jsonb
language plpgsql
stable strict parallel safe
set search_path = ''
as $$
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
$$;

-- ============================================================================================
-- One name of one kind -> { normalized, fixes, suggestions }.
-- ============================================================================================
create or replace function public.normalize_stage_name(p_kind text, p_input text)
returns jsonb
language plpgsql
stable parallel safe
set search_path = ''
as $$
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
$$;

create or replace function public.normalize_stage(p_input text)
returns jsonb
language plpgsql
stable parallel safe
set search_path = ''
as $$
begin
  return public.normalize_stage_name('phase', p_input);
end;
$$;
comment on function public.normalize_stage(text) is
  'Phase/stage name -> {"normalized": "EXEC" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeStage in shared/stages.ts.';

create or replace function public.normalize_handoff_type(p_input text)
returns jsonb
language plpgsql
stable parallel safe
set search_path = ''
as $$
begin
  return public.normalize_stage_name('handoff', p_input);
end;
$$;
comment on function public.normalize_handoff_type(text) is
  'Handoff type -> {"normalized": "EXEC-TO-PLAN" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeHandoffType.';

-- ============================================================================================
-- A distribution { name: count } | [name, ...] | name -> { normalized, invalidInputs, suggestions, sum }.
-- Counts must be integers in [0, 2147483647] (so the sum stays exact in a JS double); more than
-- 10 000 entries rejects the whole input, since which ones to keep would depend on key order.
-- ============================================================================================
create or replace function public.parse_stage_distribution(p_input jsonb)
returns jsonb
language plpgsql
stable parallel safe
set search_path = ''
as $$
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
$$;
comment on function public.parse_stage_distribution(jsonb) is
  'Stage distribution -> {normalized, invalidInputs, suggestions, sum}; same answer as parseStageDistribution in shared/stages.ts.';

-- ============================================================================================
-- Grants: the normalisers are harmless, but Supabase convention keeps anon out of every RPC.
-- Supabase's default privileges give anon everything on new objects, so revoke explicitly.
-- ============================================================================================
revoke all on table public.stage_vocabulary, public.stage_synonyms from public, anon, authenticated;

grant select on table public.stage_vocabulary, public.stage_synonyms to authenticated, service_role;

revoke execute on function
  public.stage_edit_distance(text, text, int),
  public.stage_suggestions(text, text),
  public.normalize_stage_name(text, text),
  public.normalize_stage(text),
  public.normalize_handoff_type(text),
  public.parse_stage_distribution(jsonb)
from public, anon;

grant execute on function
  public.stage_edit_distance(text, text, int),
  public.stage_suggestions(text, text),
  public.normalize_stage_name(text, text),
  public.normalize_stage(text),
  public.normalize_handoff_type(text),
  public.parse_stage_distribution(jsonb)
to authenticated, service_role;

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
alter table public.stage_backfill_checkpoints enable row level security;

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
comment on table public.stage_backfill_log is
  'Every value the stage backfill changed (old -> new) and every value it left alone because no normaliser understood it.';
create index stage_backfill_log_run_idx on public.stage_backfill_log (run_id, target, outcome);
alter table public.stage_backfill_log enable row level security;

create or replace function public.fn_backfill_stage_batch(p_target text, p_limit int default 500, p_run_id text default 'default')
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
$$;
comment on function public.fn_backfill_stage_batch(text, int, text) is
  'Normalise the next p_limit rows of one target (strategic_directives_v2 | sd_phase_handoffs | leo_sub_agents) after the run''s checkpoint, in one transaction with the checkpoint. Returns {run_id, target, done, scanned, updated, unknown: [{key, column, old}], last_key, batches, totals}.';
revoke execute on function public.fn_backfill_stage_batch(text, int, text) from public, anon, authenticated;
grant execute on function public.fn_backfill_stage_batch(text, int, text) to service_role;

revoke all on table public.stage_backfill_checkpoints, public.stage_backfill_log from public, anon, authenticated;

grant all on table public.stage_backfill_checkpoints, public.stage_backfill_log to service_role;
