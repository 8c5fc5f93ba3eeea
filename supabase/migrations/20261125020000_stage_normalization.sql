-- Stage, phase and handoff-type normalisation: the SQL twin of shared/stages.ts.
--
-- normalize_stage(text), normalize_handoff_type(text) and parse_stage_distribution(jsonb) give
-- exactly the answers of normalizeStage, normalizeHandoffType and parseStageDistribution;
-- tests/db/stages-parity.test.ts proves it over generated inputs and also checks that the rows
-- of stage_synonyms equal STAGE_ALIASES in the TypeScript. A new synonym therefore needs both a
-- new migration and an edit of PHASE_SYNONYMS, or the parity test fails.
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

create table public.stage_vocabulary (
  kind text not null check (kind in ('phase', 'handoff')),
  value text not null check (value ~ '^[A-Z]+([_-][A-Z]+)*$'),
  position int not null,
  primary key (kind, value),
  unique (kind, position)
);
comment on table public.stage_vocabulary is
  'Canonical phase (= stage) names and handoff types; position breaks suggestion ties.';

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

alter table public.stage_vocabulary enable row level security;
alter table public.stage_synonyms enable row level security;
create policy stage_vocabulary_read on public.stage_vocabulary for select to authenticated, service_role using (true);
create policy stage_synonyms_read on public.stage_synonyms for select to authenticated, service_role using (true);

-- ============================================================================================
-- Edit distance. fuzzystrmatch is not used: hosted Supabase installs it into schema
-- "extensions", a plain Postgres into whatever schema it is created in, and with
-- search_path = '' we would have to name that schema. Keys are short ASCII strings, so a
-- PL/pgSQL two-row DP with an early exit is cheap enough.
-- ============================================================================================
create function public.stage_edit_distance(p_a text, p_b text, p_max int)
returns int
language plpgsql
immutable strict parallel safe
set search_path = ''
as $$
declare
  n int := length(p_a);
  m int := length(p_b);
  prev int[];
  curr int[];
  row_min int;
  v int;
  ca text;
begin
  if abs(n - m) > p_max then
    return p_max + 1;
  end if;
  if n = 0 then
    return m;
  elsif m = 0 then
    return n;
  end if;
  -- prev[j + 1] holds the distance for b's first j characters.
  prev := array(select generate_series(0, m));
  for i in 1 .. n loop
    ca := substr(p_a, i, 1);
    curr := array[i];
    row_min := i;
    for j in 1 .. m loop
      v := least(prev[j + 1] + 1, curr[j] + 1, prev[j] + (ca <> substr(p_b, j, 1))::int);
      curr[j + 1] := v;
      row_min := least(row_min, v);
    end loop;
    -- Later rows never drop below this row's minimum.
    if row_min > p_max then
      return p_max + 1;
    end if;
    prev := curr;
  end loop;
  return least(prev[m + 1], p_max + 1);
end;
$$;

create function public.stage_suggestions(p_kind text, p_key text)
returns jsonb
language sql
stable strict parallel safe
set search_path = ''
as $$
  select coalesce(jsonb_agg(best.canonical order by best.distance, best.position), '[]'::jsonb)
  from (
    select s.canonical, min(d.distance) as distance, v.position
    from public.stage_synonyms s
    join public.stage_vocabulary v on v.kind = s.kind and v.value = s.canonical
    cross join lateral (select least(3, length(s.alias) / 2) as max_distance) m
    cross join lateral (select public.stage_edit_distance(p_key, s.alias, m.max_distance) as distance) d
    where s.kind = p_kind
      and s.suggest
      and p_key <> ''
      and d.distance <= m.max_distance
    group by s.canonical, v.position
    order by 2, 3
    limit 3
  ) best
$$;

-- ============================================================================================
-- One name of one kind -> { normalized, fixes, suggestions }.
-- ============================================================================================
create function public.normalize_stage_name(p_kind text, p_input text)
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

create function public.normalize_stage(p_input text)
returns jsonb
language sql
stable parallel safe
set search_path = ''
as $$ select public.normalize_stage_name('phase', p_input) $$;
comment on function public.normalize_stage(text) is
  'Phase/stage name -> {"normalized": "EXEC" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeStage in shared/stages.ts.';

create function public.normalize_handoff_type(p_input text)
returns jsonb
language sql
stable parallel safe
set search_path = ''
as $$ select public.normalize_stage_name('handoff', p_input) $$;
comment on function public.normalize_handoff_type(text) is
  'Handoff type -> {"normalized": "EXEC-TO-PLAN" | null, "fixes": [...], "suggestions": [...]}; same answer as normalizeHandoffType.';

-- ============================================================================================
-- A distribution { name: count } | [name, ...] | name -> { normalized, invalidInputs, suggestions, sum }.
-- Counts must be integers in [0, 2147483647] (so the sum stays exact in a JS double); more than
-- 10 000 entries rejects the whole input, since which ones to keep would depend on key order.
-- ============================================================================================
create function public.parse_stage_distribution(p_input jsonb)
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
