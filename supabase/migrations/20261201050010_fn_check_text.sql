-- One rule for text that reaches the SQL API (issue #15, "Bad input that still answers 500"):
-- no control characters. The RPCs are called directly too (psql, PostgREST, another service), so
-- the rule lives here and not only in the zod schemas at the edge. NUL itself cannot reach a
-- function (PostgreSQL text cannot hold it: the client gets 22021 or 22P05), so this catches the
-- rest: C0 controls, DEL and C1 controls. Identifiers (ids, keys, codes, sessions, scopes) allow
-- none; free text (reasons, error messages) keeps tab, line feed and carriage return.

create function public.fn_check_text(p_arg text, p_value text, p_free_text boolean default false) returns void
language plpgsql immutable set search_path = '' as $$
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
$$;
comment on function public.fn_check_text(text, text, boolean) is
  'Raises SG001 INVALID_INPUT naming p_arg when p_value holds a control character (C0, DEL, C1; with p_free_text, tab, LF and CR are allowed). Called first by every RPC that stores or looks up caller text.';
revoke all on function public.fn_check_text(text, text, boolean) from public, anon, authenticated, service_role;
