SET local check_function_bodies = off;

ALTER TABLE "public"."handoff_request_dispatch"
  ADD COLUMN "approval_webhooks" boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION public.fn_dispatch_handoff_request (
  p_id uuid
)
  RETURNS bigint
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_cfg public.handoff_request_dispatch;
  v_req public.handoff_requests;
  v_key text;
  v_net_id bigint;
begin
  select * into v_cfg from public.handoff_request_dispatch where enabled;
  if not found or to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    return null;
  end if;
  v_key := stagegate_private.fn_dispatch_service_key(v_cfg);
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  execute 'select net.http_post(url := $1, body := $2, params := ''{}''::jsonb, headers := $3, timeout_milliseconds := $4)'
    into v_net_id
    using v_cfg.functions_url || '/handoff',
          jsonb_build_object('sd_id', v_req.sd_id, 'handoff_type', v_req.handoff_type, 'session_id', v_req.session_id),
          jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key,
                             'Idempotency-Key', 'handoff-request:' || v_req.id,
                             -- people: the function runs the row as whoever inserted it
                             'X-Stagegate-Handoff-Request', v_req.id::text),
          v_cfg.timeout_ms;
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_by = 'pg_net', net_request_id = v_net_id,
         -- the answer is due by the timeout; a minute more before we call it lost
         locked_until = clock_timestamp() + make_interval(secs => v_cfg.timeout_ms / 1000.0 + 60)
   where r.id = p_id;
  return v_net_id;
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
                     where not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)) then
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

CREATE OR REPLACE FUNCTION stagegate_private.fn_dispatch_service_key (
  p_cfg public.handoff_request_dispatch
)
  RETURNS text
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_key text;
begin
  if to_regclass('vault.decrypted_secrets') is not null then
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1' into v_key using p_cfg.service_key_secret;
  end if;
  if v_key is null then
    raise exception using errcode = 'SG016',
      message = format('DISPATCH_NOT_CONFIGURED: Vault secret %L (the service-role key) is missing; create it with vault.create_secret, or turn pg_net dispatch off (public.handoff_request_dispatch: enabled, approval_webhooks)',
                       p_cfg.service_key_secret);
  end if;
  return v_key;
end;
$function$;

COMMENT ON FUNCTION "public"."fn_sweep_approval_webhooks"() IS 'Hosted (pg_net): while approval webhook deliveries are due, POST <functions_url>/approval-webhooks with the service-role key from Vault (one delivery pass). Only with handoff_request_dispatch.approval_webhooks = true. Returns {pg_net: false} where pg_net is absent, else {pg_net, enabled, posted, net_request_id}. Raises SG016 DISPATCH_NOT_CONFIGURED when the Vault secret is missing. Scheduled by sweep_schedule ''approval_webhooks''.';

COMMENT ON TABLE "public"."handoff_request_dispatch" IS 'pg_net dispatch on hosted Supabase: the functions URL and the Vault secret name of the service-role key, for handoff_requests and (approval_webhooks = true) the approval-webhooks function. See docs/runbook.md, "Deploy".';

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_webhooks"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_approval_webhooks"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_dispatch_service_key"(public.handoff_request_dispatch) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_dispatch_service_key"(public.handoff_request_dispatch) TO "postgres";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_webhooks"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_webhooks"() FROM "authenticated";
