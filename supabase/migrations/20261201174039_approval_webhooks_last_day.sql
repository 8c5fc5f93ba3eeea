SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.fn_claim_approval_webhooks (
  p_limit         integer DEFAULT 50,
  p_lease_seconds integer DEFAULT 30
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_claimed jsonb;
begin
  if p_limit is null or p_limit not between 1 and 1000 or p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_limit must be 1-1000 and p_lease_seconds 1-3600 (got %s, %s)', p_limit, p_lease_seconds);
  end if;
  -- only events of the last day: switched on (or back on) after a while, the relay does not ask
  -- people about handoffs settled long ago, and the scan stays on the created_at index
  insert into public.approval_webhook_deliveries (event_id)
  select e.id from public.approval_events e
  where e.created_at > clock_timestamp() - interval '1 day'
    and not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)
  order by e.id
  on conflict (event_id) do nothing;
  with due as (
    select d.event_id from public.approval_webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= clock_timestamp()
    order by d.event_id limit p_limit
    for update skip locked
  ), leased as (
    update public.approval_webhook_deliveries d
       set next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
      from due where d.event_id = due.event_id
    returning d.event_id, d.attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('event_id', l.event_id, 'attempt', l.attempts + 1,
                                               'payload', e.payload || jsonb_build_object('event_id', e.id)) order by l.event_id), '[]')
  into v_claimed
  from leased l join public.approval_events e on e.id = l.event_id;
  return v_claimed;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_approval_webhooks()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_cfg public.handoff_request_dispatch;
  v_key text;
  v_net_id bigint;
begin
  if to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    return jsonb_build_object('pg_net', false);
  end if;
  select * into v_cfg from public.handoff_request_dispatch where enabled and approval_webhooks;
  if not found then
    return jsonb_build_object('pg_net', true, 'enabled', false, 'posted', false);
  end if;
  if not exists (select 1 from public.approval_webhook_deliveries d where d.status = 'pending' and d.next_attempt_at <= clock_timestamp())
     and not exists (select 1 from public.approval_events e
                     where e.created_at > clock_timestamp() - interval '1 day'
                       and not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)) then
    return jsonb_build_object('pg_net', true, 'enabled', true, 'posted', false);
  end if;
  v_key := stagegate_private.fn_dispatch_service_key(v_cfg);
  execute 'select net.http_post(url := $1, body := $2, params := ''{}''::jsonb, headers := $3, timeout_milliseconds := $4)'
    into v_net_id
    using v_cfg.functions_url || '/approval-webhooks', '{}'::jsonb,
          jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key),
          -- a pass sends at most 50 events in parallel, each within 10 s
          30000;
  return jsonb_build_object('pg_net', true, 'enabled', true, 'posted', true, 'net_request_id', v_net_id);
end;
$function$;

CREATE INDEX approval_events_created_at_idx ON public.approval_events USING btree (created_at);

COMMENT ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) IS 'For the approval webhook relay: registers approval events of the last day not seen yet for delivery (older ones are not sent: switched on after a while, the relay does not announce long-settled handoffs) and leases up to p_limit due ones for p_lease_seconds. Returns [{event_id, attempt, payload}].';
