-- Which breakers a handoff must go through fn_breaker_acquire / fn_breaker_record for, decided
-- beside those two functions instead of in the functions' TypeScript. A breaker that is closed
-- with no failures counted needs neither call: acquire admits without a write, and a success
-- records nothing. Any other state (open, half-open, or closed with failures that a success must
-- reset) needs both. Codes without a breaker row need neither (acquire treats them as closed).
create function public.fn_troubled_breakers(p_codes text[]) returns text[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((
    select array_agg(b.sub_agent_code order by b.sub_agent_code)
    from public.sub_agent_breakers b
    where b.sub_agent_code = any (p_codes)
      and (b.state <> 'closed' or b.consecutive_failures > 0)), '{}');
end;
$$;
comment on function public.fn_troubled_breakers(text[]) is
  'Of p_codes, the sub-agents whose breaker is open, half-open, or closed with failures counted: callers must use fn_breaker_acquire before running them and fn_breaker_record after. The others (closed with no failures, or no breaker yet) are admitted without a call, and a success needs no record.';
revoke execute on function public.fn_troubled_breakers(text[]) from public, anon, authenticated, service_role;
grant execute on function public.fn_troubled_breakers(text[]) to service_role;
