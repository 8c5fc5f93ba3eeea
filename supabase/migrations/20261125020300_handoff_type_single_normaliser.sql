-- One normaliser for handoff types: the core's entry points (fn_begin_handoff, fn_execute_handoff,
-- the fn_atomic_* functions) now understand every variant the HTTP API does (ExecToPlan,
-- exec_to_plan, "exec → plan", synonyms) because both use public.normalize_handoff_type, which the
-- parity test proves equal to shared/stages.ts. An input it cannot place is returned as typed
-- (upper-cased), so the caller's lookup still fails with UNKNOWN_HANDOFF_TYPE naming it.
create or replace function public.fn_normalise_handoff_type(p_handoff_type text) returns text
language sql stable set search_path = '' as $$
  select coalesce(public.normalize_handoff_type(p_handoff_type) ->> 'normalized', upper(btrim(p_handoff_type)))
$$;
