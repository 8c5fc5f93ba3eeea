SET local check_function_bodies = off;

CREATE TABLE "public"."approval_webhook_deliveries" (
  "event_id"        bigint                   NOT NULL,
  "status"          text                     NOT NULL DEFAULT 'pending'::text,
  "attempts"        integer                  NOT NULL DEFAULT 0,
  "next_attempt_at" timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "last_status"     integer,
  "last_error"      text,
  "delivered_at"    timestamp with time zone,
  "created_at"      timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "updated_at"      timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "approval_webhook_deliveries_attempts_check" CHECK ((attempts >= 0)),
  CONSTRAINT "approval_webhook_deliveries_last_error_check" CHECK ((length(last_error) <= 2000)),
  CONSTRAINT "approval_webhook_deliveries_pkey" PRIMARY KEY (event_id),
  CONSTRAINT "approval_webhook_deliveries_status_check" CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'dead'::text])))
);

ALTER TABLE "public"."approval_webhook_deliveries"
  ENABLE ROW LEVEL SECURITY;

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
  insert into public.approval_webhook_deliveries (event_id)
  select e.id from public.approval_events e
  where not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)
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

CREATE OR REPLACE FUNCTION public.fn_record_approval_webhook (
  p_event_id     bigint,
  p_ok           boolean,
  p_status       integer DEFAULT NULL::integer,
  p_error        text    DEFAULT NULL::text,
  p_max_attempts integer DEFAULT 8
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.approval_webhook_deliveries;
begin
  if p_event_id is null or p_ok is null or p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_event_id and p_ok are required, p_max_attempts 1-100';
  end if;
  update public.approval_webhook_deliveries d
     set attempts = d.attempts + 1,
         status = case when p_ok then 'delivered' when d.attempts + 1 >= p_max_attempts then 'dead' else 'pending' end,
         delivered_at = case when p_ok then clock_timestamp() end,
         next_attempt_at = clock_timestamp() + make_interval(secs => least(power(2, d.attempts + 1), 600)),
         last_status = p_status, last_error = left(p_error, 2000), updated_at = clock_timestamp()
   where d.event_id = p_event_id and d.status = 'pending'
  returning * into v_row;
  if not found then
    select * into v_row from public.approval_webhook_deliveries d where d.event_id = p_event_id;
  end if;
  return to_jsonb(v_row);
end;
$function$;

ALTER TABLE "public"."approval_webhook_deliveries"
  ADD CONSTRAINT "approval_webhook_deliveries_event_id_fkey" FOREIGN KEY (event_id) REFERENCES public.approval_events(id) ON DELETE CASCADE;

CREATE INDEX approval_webhook_deliveries_due_idx ON public.approval_webhook_deliveries USING btree (next_attempt_at)
  WHERE (status = 'pending'::text);

COMMENT ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) IS 'For the approval webhook relay: registers new approval events for delivery and leases up to p_limit due ones for p_lease_seconds. Returns [{event_id, attempt, payload}].';

COMMENT ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) IS 'For the approval webhook relay: record one delivery attempt of an event. Returns the delivery row (status pending|delivered|dead, attempts, next_attempt_at, last_status, last_error).';

COMMENT ON TABLE "public"."approval_webhook_deliveries" IS 'Delivery of each approval event to the configured webhook: pending (with next_attempt_at), delivered, or dead after the last retry (the dead-letter record: attempts, last_status, last_error).';

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) TO "postgres", "service_role";

-- Table grants as GRANT ALL, not the privilege list pg-delta wrote on PostgreSQL 17 (it has MAINTAIN,
-- which PostgreSQL 15 rejects): the same privileges on 17, and the migration applies on 15.
GRANT ALL ON TABLE "public"."approval_webhook_deliveries" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM "authenticated";

REVOKE ALL ON TABLE "public"."approval_webhook_deliveries" FROM "anon";

REVOKE ALL ON TABLE "public"."approval_webhook_deliveries" FROM "authenticated";
