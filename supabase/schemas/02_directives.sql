-- Directives, their PRDs and user stories, session claims, and the guard that keeps phase and
-- status changes inside the handoff RPCs.
--
-- Phase and status belong to the handoff RPCs. They set the transaction-local flag
-- stagegate.in_transition for the duration of their state changes; anything else is refused.
-- This guards against mistakes (a stray UPDATE from a script), not against a caller who sets the
-- flag on purpose: who may write these tables at all is decided by the grants.
--
-- For PRDs and stories only the statuses the workflow itself sets (handoff_types.prd_status /
-- story_status) are guarded, in either direction: day-to-day work (draft -> ready -> in_progress ->
-- done) is free, but nothing can enter or leave 'verification' / 'validated' without a handoff.
--
-- Session claims: one session holds an SD for a lease; the holder renews by claiming again; an
-- expired lease is free for anyone. The upsert's WHERE makes take-over atomic (no read-then-write).

create table public.strategic_directives_v2 (
  id text primary key check (id ~ '^SD-[A-Z0-9]+(-[A-Z0-9]+)*$' and length(id) <= 100),
  uuid uuid not null unique default gen_random_uuid(),
  title text not null check (length(btrim(title)) between 1 and 500),
  description text,
  scope text,
  success_criteria jsonb not null default '[]' check (jsonb_typeof(success_criteria) = 'array'),
  sd_type text not null default 'feature' references public.threshold_profiles (sd_type) on update cascade,
  status text not null default 'draft'
    check (status in ('draft', 'active', 'in_progress', 'pending_approval', 'completed', 'cancelled')),
  current_phase text not null default 'LEAD' references public.sd_phases (phase),
  priority text not null default 'medium' check (priority in ('critical', 'high', 'medium', 'low')),
  -- Bumped by every accepted handoff; callers pass the version they read to catch lost updates.
  transition_version int not null default 0 check (transition_version >= 0),
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  team_id uuid not null default '00000000-0000-4000-8000-000000000001'
    references public.teams (id) on update cascade
);
create index strategic_directives_v2_team_id_idx on public.strategic_directives_v2 (team_id);
comment on column public.strategic_directives_v2.team_id is
  'The team that owns the directive (the default team unless set). Its members read it; LEAD and PLAN members edit its content.';
-- sd_type references threshold_profiles ON UPDATE CASCADE: without this index, renaming an SD
-- type, or deleting a profile (the NO ACTION check), scanned every directive (see
-- user_stories_prd_id_idx below for building such an index on a large hosted table).
-- Transitions never change sd_type, so this index does not stop their updates being HOT.
create index if not exists strategic_directives_v2_sd_type_idx on public.strategic_directives_v2 (sd_type);

-- One PRD per SD; a PRD goes with its SD.
create table public.product_requirements_v2 (
  id text primary key check (length(id) between 1 and 100),
  sd_id text not null unique references public.strategic_directives_v2 (id) on delete cascade on update cascade,
  title text not null check (length(btrim(title)) between 1 and 500),
  executive_summary text,
  functional_requirements jsonb not null default '[]' check (jsonb_typeof(functional_requirements) = 'array'),
  acceptance_criteria jsonb not null default '[]' check (jsonb_typeof(acceptance_criteria) = 'array'),
  test_scenarios jsonb not null default '[]' check (jsonb_typeof(test_scenarios) = 'array'),
  status text not null default 'draft'
    check (status in ('draft', 'approved', 'in_progress', 'verification', 'completed', 'rejected')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.user_stories (
  id uuid primary key default gen_random_uuid(),
  story_key text not null check (length(story_key) between 1 and 100),
  sd_id text not null references public.strategic_directives_v2 (id) on delete cascade on update cascade,
  prd_id text references public.product_requirements_v2 (id) on delete set null on update cascade,
  title text not null check (length(btrim(title)) between 1 and 500),
  status text not null default 'draft'
    check (status in ('draft', 'ready', 'in_progress', 'done', 'validated', 'completed', 'blocked')),
  acceptance_criteria jsonb not null default '[]' check (jsonb_typeof(acceptance_criteria) = 'array'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (sd_id, story_key)
);
create index user_stories_sd_id_idx on public.user_stories (sd_id);
-- user_stories.prd_id references product_requirements_v2 with ON DELETE SET NULL and ON UPDATE
-- CASCADE: without this index every PRD deleted (directly, or with its SD: the runbook's smoke
-- test deletes one) or renamed ran `update user_stories ... where prd_id = $1` as a sequential
-- scan of every story. Partial: the referential actions only look for non-null keys, and stories
-- without a PRD need no entry. On a large hosted table, create it CONCURRENTLY by hand before the
-- migration that adds it and check it is valid (pg_index.indisvalid; a failed concurrent build
-- leaves an invalid index: drop it and build again), because IF NOT EXISTS looks only at the name.
create index if not exists user_stories_prd_id_idx on public.user_stories (prd_id) where prd_id is not null;

-- The plan's first concurrency layer: one session holds an SD until its lease expires.
create table public.sd_claims (
  sd_id text primary key references public.strategic_directives_v2 (id) on delete cascade on update cascade,
  session_id text not null check (length(session_id) between 1 and 200),
  claimed_at timestamptz not null default now(),
  renewed_at timestamptz not null default now(),
  expires_at timestamptz not null,
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger'))
);
comment on column public.sd_claims.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.sd_claims.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.sd_claims.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
-- renewing or taking over a claim makes the caller its holder (a rename of the SD, cascading to
-- sd_id, does not): the claim belongs to that user (fn_claim_sd)
create trigger _050_stamp_actor before insert or update of session_id, expires_at on public.sd_claims
  for each row execute function stagegate_private.tg__stamp_actor();

create trigger tg_strategic_directives_v2__updated_at before update on public.strategic_directives_v2
  for each row execute function public.tg__set_updated_at();

create trigger tg_product_requirements_v2__updated_at before update on public.product_requirements_v2
  for each row execute function public.tg__set_updated_at();

create trigger tg_user_stories__updated_at before update on public.user_stories
  for each row execute function public.tg__set_updated_at();

create or replace function public.fn_in_transition() returns boolean
language plpgsql stable set search_path = '' as $$
begin
  return coalesce(current_setting('stagegate.in_transition', true), '') = 'on';
end;
$$;

create or replace function public.tg_strategic_directives_v2__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (new.current_phase, new.status, new.transition_version) is distinct from
     (old.current_phase, old.status, old.transition_version)
     and not public.fn_in_transition() then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: current_phase/status/transition_version of strategic directive %L change only through a handoff; call public.fn_execute_handoff (or fn_begin_handoff + fn_complete_handoff)', old.id);
  end if;
  return new;
end;
$$;

create trigger tg_strategic_directives_v2__guard before update on public.strategic_directives_v2
  for each row execute function public.tg_strategic_directives_v2__guard();

create or replace function public.tg_product_requirements_v2__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.prd_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: PRD %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.id, old.status, new.status);
  end if;
  return new;
end;
$$;

create trigger tg_product_requirements_v2__guard before update on public.product_requirements_v2
  for each row execute function public.tg_product_requirements_v2__guard();

create or replace function public.tg_user_stories__guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status is distinct from old.status and not public.fn_in_transition()
     and exists (select 1 from public.handoff_types t where t.story_status in (old.status, new.status)) then
    raise exception using errcode = 'SG012',
      message = format('DIRECT_UPDATE_REFUSED: user story %L cannot move from %L to %L outside a handoff; call public.fn_execute_handoff', old.story_key, old.status, new.status);
  end if;
  return new;
end;
$$;

create trigger tg_user_stories__guard before update on public.user_stories
  for each row execute function public.tg_user_stories__guard();

-- An SD by human key or by uuid text (the seeds use both).
create or replace function public.fn_resolve_sd(p_sd_ref text) returns public.strategic_directives_v2
language plpgsql stable set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2;
begin
  if p_sd_ref is null or btrim(p_sd_ref) = '' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_sd_id is required';
  end if;
  if p_sd_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_sd from public.strategic_directives_v2 s where s.uuid = p_sd_ref::uuid;
  else
    select * into v_sd from public.strategic_directives_v2 s where s.id = p_sd_ref;
  end if;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L not found', p_sd_ref);
  end if;
  return v_sd;
end;
$$;

-- 64-bit advisory lock key from the SD uuid's first 8 bytes: unlike hashtext() (32 bits), two SDs
-- practically never share it.
create or replace function public.fn_sd_lock_key(p_sd_uuid uuid) returns bigint
language plpgsql immutable set search_path = '' as $$
begin
  return ('x' || left(replace(p_sd_uuid::text, '-', ''), 16))::bit(64)::bigint;
end;
$$;

create or replace function public.fn_claim_sd(p_sd_id text, p_session_id text, p_lease_seconds int default 900)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_claim public.sd_claims;
  v_prior public.sd_claims;
begin
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_seconds must be between 1 and 86400 (got %s)', p_lease_seconds);
  end if;
  perform stagegate_private.fn_authorize_claim(v_sd.team_id, v_sd.id);

  select * into v_prior from public.sd_claims c where c.sd_id = v_sd.id;

  -- excluded.actor_id is the caller (the _050_stamp_actor trigger): the same session id under
  -- another user is someone else's claim
  insert into public.sd_claims as c (sd_id, session_id, claimed_at, renewed_at, expires_at)
  values (v_sd.id, p_session_id, now(), now(), now() + make_interval(secs => p_lease_seconds))
  on conflict (sd_id) do update
    set session_id = excluded.session_id,
        claimed_at = case when c.session_id = excluded.session_id and c.actor_id is not distinct from excluded.actor_id
                          then c.claimed_at else excluded.claimed_at end,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
    where (c.session_id = excluded.session_id and c.actor_id is not distinct from excluded.actor_id)
       or c.expires_at <= now()
  returning * into v_claim;

  if not found then
    select * into v_claim from public.sd_claims c where c.sd_id = v_sd.id;
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by %s until %s',
                       v_sd.id, stagegate_private.fn_claim_holder(v_claim.session_id, v_claim.actor_id), v_claim.expires_at);
  end if;

  return jsonb_build_object(
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'session_id', v_claim.session_id,
    'claimed_at', v_claim.claimed_at, 'expires_at', v_claim.expires_at,
    'renewed', v_prior.session_id is not distinct from p_session_id and v_prior.actor_id is not distinct from v_claim.actor_id
               and v_prior.expires_at > now(),
    'took_over_expired', (v_prior.session_id is distinct from p_session_id or v_prior.actor_id is distinct from v_claim.actor_id)
                         and v_prior.sd_id is not null);
end;
$$;
comment on function public.fn_claim_sd(text, text, int) is
  'Claim (or renew) an SD for a session of the calling user for p_lease_seconds (default 900). Raises SG005 CLAIMED_BY_OTHER_SESSION while another session (or the same session id of another user) holds an unexpired lease; SG020/SG021 for a caller who may not request handoffs of the SD.';

create or replace function public.fn_release_sd(p_sd_id text, p_session_id text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_actor record;
  v_held public.sd_claims;
begin
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  select * into v_actor from stagegate_private.current_actor();
  delete from public.sd_claims c
   where c.sd_id = v_sd.id and c.session_id = p_session_id and c.actor_id is not distinct from v_actor.user_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select * into v_held from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false,
    'held_by', case when v_held.sd_id is null then null
                    when v_actor.privileged or v_held.actor_id = v_actor.user_id then v_held.session_id
                    else 'another session' end);
end;
$$;
comment on function public.fn_release_sd(text, text) is
  'Release the SD if p_session_id of the calling user holds it. Returns {released, held_by}; releasing a claim held by another session (or another user) changes nothing; held_by names the holder''s session only to its user and the service role.';
