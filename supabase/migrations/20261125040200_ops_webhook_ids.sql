-- Replay protection for the ops webhook (Standard Webhooks): each webhook-id is accepted once.
-- The function claims the id in the same transaction as the effect, so a request that fails
-- leaves no id behind and its sender may retry it with the same id; a request that succeeded
-- (changed something or not) cannot be replayed.
--
-- Retention: an id may go once its signed timestamp is older than the tolerance plus a minute of
-- clock margin — a replay of it then fails the timestamp check (401) before reaching this table.

create table public.ops_webhook_ids (
  id text primary key check (length(id) between 1 and 255 and id ~ '^[ -~]+$'),
  webhook_ts timestamptz not null,
  received_at timestamptz not null default clock_timestamp()
);
create index ops_webhook_ids_ts on public.ops_webhook_ids (webhook_ts);
comment on table public.ops_webhook_ids is
  'webhook-id values the ops webhook has acted on, with their signed timestamps; purged by fn_purge_webhook_ids.';

create function public.fn_claim_webhook_id(p_id text, p_timestamp timestamptz) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if p_id is null or length(p_id) not between 1 and 255 or p_id !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: webhook-id must be 1..255 printable characters (got %L)', left(p_id, 300));
  end if;
  if p_timestamp is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: webhook timestamp is required';
  end if;
  insert into public.ops_webhook_ids (id, webhook_ts) values (p_id, p_timestamp) on conflict (id) do nothing;
  return found;
end;
$$;
comment on function public.fn_claim_webhook_id(text, timestamptz) is
  'Claims a webhook-id: true the first time, false when it was seen before (a replay). Call it in the transaction of the effect.';

create function public.fn_purge_webhook_ids() returns int
language plpgsql security definer set search_path = '' as $$
declare
  v_deleted int;
begin
  delete from public.ops_webhook_ids w
  where w.webhook_ts < now() - (select s.webhook_tolerance from public.validation_mode_settings s) - interval '1 minute';
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function public.fn_purge_webhook_ids() is
  'Deletes webhook ids whose signed timestamp is older than the tolerance plus one minute (a replay would be refused as stale). Returns the number deleted. Run from the scheduler / pg_cron; the ops webhook also calls it.';
