-- Faster stage normalisers in SQL, same answers (tests/db/stages-parity.test.ts compares every
-- one of them with the TypeScript, and stage_edit_distance with boundedLevenshtein directly).
--
-- 1. stage_edit_distance read characters with substr(), which walks the string from its start on
--    every call, and filled the whole n x m table; it now reads bytes (keys are ASCII: A-Z and 0-9
--    only, so a byte is a character) and fills only the band |i - j| <= p_max, like the TypeScript.
-- 2. stage_suggestions, normalize_stage and normalize_handoff_type were LANGUAGE sql with a SET
--    clause, which Postgres neither inlines nor keeps a plan for (before 18): every call planned
--    its query again, about half a millisecond for the suggestion join. As PL/pgSQL they keep
--    their plans for the session.

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
