SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.fn_finish_handoff_request (
  p_id          uuid,
  p_http_status integer,
  p_body        jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_req public.handoff_requests;
  v_code text := p_body->'error'->>'code';
  v_error jsonb := jsonb_build_object('http_status', p_http_status, 'code', coalesce(v_code, case when p_http_status is null then 'NO_ANSWER' else 'HTTP_' || p_http_status end),
                                      'message', coalesce(p_body->'error'->>'message', p_body->>'message'), 'details', p_body->'error'->'details');
  v_retry boolean := p_http_status is null or p_http_status = 429 or p_http_status >= 500
                     or coalesce(v_code in ('SD_BUSY', 'IDEMPOTENCY_IN_FLIGHT', 'DB_UNAVAILABLE'), false);
begin
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  if not found then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: no handoff request %s', p_id);
  end if;
  -- A late worker (its lease expired and another one finished) changes nothing: first answer wins.
  if v_req.status in ('done', 'error') then
    return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', false);
  end if;

  -- 202 (approvals): the handoff ran and waits for approval; its answer (verdict awaiting_approval,
  -- attempt_id, what is still needed) is the request's result, as a verdict is
  if p_http_status in (200, 202) then
    update public.handoff_requests r
       set status = 'done', verdict = coalesce(p_body, '{}'), error = null, finished_at = clock_timestamp(), locked_until = null
     where r.id = p_id returning * into v_req;
  elsif v_retry and (v_req.attempts < v_req.max_attempts or v_code is not distinct from 'IDEMPOTENCY_IN_FLIGHT') then
    -- IDEMPOTENCY_IN_FLIGHT: an earlier try of this very row is still running in the function; it
    -- does not use up a try (the function frees the key after its 120 s lease if that run died).
    update public.handoff_requests r
       set status = 'pending', error = v_error, locked_until = null,
           attempts = r.attempts - case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then 1 else 0 end,
           run_after = clock_timestamp() + case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then interval '1 second'
                                                else make_interval(secs => least(power(2, greatest(r.attempts - 1, 0)), 60)) end
     where r.id = p_id returning * into v_req;
  else
    update public.handoff_requests r
       set status = 'error', finished_at = clock_timestamp(), locked_until = null,
           error = case when v_retry then jsonb_build_object('code', 'ATTEMPTS_EXHAUSTED', 'http_status', p_http_status,
                                                             'message', format('still retryable after %s tries', r.attempts), 'last_error', v_error)
                        else v_error end
     where r.id = p_id returning * into v_req;
  end if;
  return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', true, 'attempts', v_req.attempts,
                            'run_after', case when v_req.status = 'pending' then v_req.run_after end);
end;
$function$;

COMMENT ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) IS 'Write the handoff function''s answer (HTTP status, JSON body; status null = no answer) back to the request: 200 (or 202, awaiting approval) -> done with verdict; 429/5xx/SD_BUSY/IDEMPOTENCY_IN_FLIGHT/DB_UNAVAILABLE/no answer -> pending again after a backoff (1, 2, 4 ... 60 s) until max_attempts, then error ATTEMPTS_EXHAUSTED; anything else -> error. A request already done or error is left as it is. Returns {id, status, changed, attempts, run_after}.';
