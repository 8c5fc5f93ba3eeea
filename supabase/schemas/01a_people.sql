-- People: teams, their members and roles, who may request which handoff, and the identity of
-- the transaction, recorded on every row the engine writes and checked before anything is.
--
-- Every directive belongs to one team (strategic_directives_v2.team_id, 02); a Supabase Auth user
-- (auth.uid()) is a member of a team with one role (LEAD, PLAN, EXEC, VIEWER); handoff_permissions
-- says which roles may request which handoff type, as data (the default rows are in the
-- hand-written migration 20261201060000_people_teams.sql). The rules are PL/pgSQL functions here,
-- called through marked lines ("people:") of the RPCs in 02, 06 and 13:
--   fn_authorize_handoff   begin: a member with a permitted role, or the service role
--                          (SG020 NOT_A_MEMBER, SG021 ROLE_NOT_ALLOWED otherwise; nothing written)
--   fn_authorize_claim     a claim blocks the team: members who may request a handoff only
--   fn_authorize_attempt   an attempt is recorded into and completed by whoever began it
--   fn_claim_holder        a refusal names the holder's session only to the holder and the service role
-- Who did what is stamped by BEFORE INSERT triggers (tg__stamp_actor) on attempts, gate results,
-- handoff records, audit rows, claims, mode changes and handoff requests, so no RPC has to
-- remember it and no caller can supply someone else's.
--
-- Helpers live in stagegate_private, a schema the API does not expose (PostgREST serves public);
-- the RLS policies (15, 13) call its membership helpers with the rights of the querying role.

create schema if not exists stagegate_private;
revoke all on schema stagegate_private from public;
grant usage on schema stagegate_private to authenticated, service_role;

-- ============================================================================================
-- Teams, members, permissions
-- ============================================================================================
create table public.teams (
  id uuid primary key default gen_random_uuid(),
  name text not null unique check (length(btrim(name)) between 1 and 200),
  created_at timestamptz not null default now()
);
comment on table public.teams is
  'A team owns strategic directives; its members (team_members) may read them and, by role, edit them and request handoffs.';

create table public.team_members (
  team_id uuid not null references public.teams (id) on delete cascade,
  -- the Supabase Auth user; on hosted Supabase auth.users exists, locally stack/bootstrap.sql creates it
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  created_at timestamptz not null default now(),
  primary key (team_id, user_id)
);
-- the policies' and helpers' lookups go by user first
create index team_members_user_id_idx on public.team_members (user_id, team_id);
comment on table public.team_members is
  'Membership of a Supabase Auth user in a team, with one role: LEAD, PLAN, EXEC or VIEWER (reads only).';

create table public.handoff_permissions (
  handoff_type text not null references public.handoff_types (code) on update cascade on delete cascade,
  role text not null check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  created_at timestamptz not null default now(),
  primary key (handoff_type, role)
);
comment on table public.handoff_permissions is
  'A team member may request handoff_type when a row (handoff_type, their role) exists. The service role may request any. Changes are audited in handoff_permission_changes.';

-- ============================================================================================
-- Identity of the transaction
-- ============================================================================================

-- Who is asking, decided from the database role the transaction runs as and, for a privileged
-- connection (superuser or BYPASSRLS, e.g. postgres) only, from request.jwt.claims:
--   role 'authenticated'  a Supabase Auth user, user_id = auth.uid() (null: no user, refused)
--   role 'service_role'   automation; privileged
--   role 'anon'           nobody; refused
--   any other role name   a direct database connection: privileged when the role is a superuser
--                         or BYPASSRLS (postgres), refused otherwise
-- The API roles' own claims cannot raise them: a connection that is `authenticated` stays a
-- user whatever its claims say about the role. Way in: the stagegate.via setting the edge
-- functions set ('http', or 'trigger' for a handoff_requests row), else 'sql'.
create or replace function stagegate_private.current_actor(
  out user_id uuid, out role text, out via text, out privileged boolean
)
language plpgsql stable set search_path = '' as $$
declare
  -- current_user is a security definer's owner; the 'role' setting is the caller's SET ROLE
  v_db_role text := coalesce(nullif(current_setting('role', true), 'none'), session_user);
  v_claim_role text;
  v_sub text;
begin
  via := coalesce(nullif(current_setting('stagegate.via', true), ''), 'sql');
  if via not in ('http', 'sql', 'trigger') then
    via := 'sql';
  end if;
  if v_db_role in ('anon', 'authenticated', 'service_role') then
    role := v_db_role;
    privileged := v_db_role = 'service_role';
  else
    privileged := exists (select 1 from pg_catalog.pg_roles r where r.rolname = v_db_role and (r.rolsuper or r.rolbypassrls));
    v_claim_role := case when privileged then auth.role() end;
    if v_claim_role in ('anon', 'authenticated', 'service_role') then
      -- a privileged server acting for someone (as PostgREST would, but without SET ROLE)
      role := v_claim_role;
      privileged := v_claim_role = 'service_role';
    else
      role := v_db_role;
    end if;
  end if;
  if role = 'authenticated' then
    -- auth.uid() casts the sub to uuid and raises on anything else; such a token is no Supabase
    -- Auth user: no user (refused as NOT_A_MEMBER), not a malformed request
    v_sub := coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub');
    if v_sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      user_id := v_sub::uuid;
    end if;
  end if;
end;
$$;
comment on function stagegate_private.current_actor() is
  'The identity of the current transaction: user_id (auth.uid() of an authenticated user), role (authenticated, service_role, anon, or a database role such as postgres), via (http, sql, trigger) and privileged (service role or a superuser/BYPASSRLS database role).';

-- BEFORE INSERT on every record of who did what: actor_id, actor_role, actor_via.
create or replace function stagegate_private.tg__stamp_actor() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_actor record;
begin
  select * into v_actor from stagegate_private.current_actor();
  new.actor_id := v_actor.user_id;
  new.actor_role := v_actor.role;
  new.actor_via := v_actor.via;
  return new;
end;
$$;

-- BEFORE INSERT on handoff_attempts: the team of the directive at begin, kept on the attempt so
-- its history (gate results, handoff record, audit row, all tied to it by attempt_id) stays
-- readable by that team, and only by it, after the directive is deleted or moves team.
create or replace function stagegate_private.tg_handoff_attempts__stamp_team() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.team_id := (select s.team_id from public.strategic_directives_v2 s where s.uuid = new.sd_uuid);
  return new;
end;
$$;

-- handoff_permissions is audited
create table public.handoff_permission_changes (
  id bigint generated always as identity primary key,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  handoff_type text not null,
  role text not null,
  old_row jsonb,
  new_row jsonb,
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  at timestamptz not null default clock_timestamp()
);
comment on table public.handoff_permission_changes is
  'Every change of handoff_permissions: operation, the rows before and after, and who made it (actor_id, actor_role, actor_via).';
create trigger _050_stamp_actor before insert on public.handoff_permission_changes
  for each row execute function stagegate_private.tg__stamp_actor();

create or replace function stagegate_private.tg_handoff_permissions__audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.handoff_permission_changes (operation, handoff_type, role, old_row, new_row)
  values (tg_op, coalesce(new.handoff_type, old.handoff_type), coalesce(new.role, old.role),
          case when tg_op <> 'INSERT' then to_jsonb(old) end, case when tg_op <> 'DELETE' then to_jsonb(new) end);
  return null;
end;
$$;
create trigger _900_audit after insert or update or delete on public.handoff_permissions
  for each row execute function stagegate_private.tg_handoff_permissions__audit();

-- The teams the current user belongs to (with one of p_roles, when given).
create or replace function stagegate_private.my_team_ids(p_roles text[] default null) returns setof uuid
language sql stable security definer set search_path = '' as $$
  select m.team_id from public.team_members m
  where m.user_id = (select a.user_id from stagegate_private.current_actor() a)
    and (p_roles is null or m.role = any (p_roles))
$$;

-- Who a user id is, for showing people instead of ids (the console's "requested by", "approved
-- by", audit chain): {user_id, name, email}. The name is the Supabase Auth user's
-- user_metadata.full_name or name (what sign-up and OAuth providers fill in), else the email.
-- Name and email are shown only to the user themselves, to members of a team the user belongs to
-- and to privileged callers (the service role); anyone else gets the id with null name and email.
-- Security definer: auth.users is not readable by the API roles.
create or replace function stagegate_private.fn_person(p_user_id uuid) returns jsonb
language sql stable security definer set search_path = '' as $$
  select case when p_user_id is not null then jsonb_build_object('user_id', p_user_id, 'name', v.name, 'email', v.email) end
  from (select 1) as one
  left join lateral (
    select coalesce(nullif(btrim(u.raw_user_meta_data ->> 'full_name'), ''), nullif(btrim(u.raw_user_meta_data ->> 'name'), ''), u.email) as name,
           u.email
    from auth.users u, stagegate_private.current_actor() a
    where u.id = p_user_id
      and (a.privileged or u.id = a.user_id
           or exists (select 1 from public.team_members m
                      where m.user_id = u.id and m.team_id in (select stagegate_private.my_team_ids())))
  ) as v on true
$$;
comment on function stagegate_private.fn_person(uuid) is
  'A user as people read it: {user_id, name (user_metadata full_name or name, else the email), email}; name and email only for the user, members of a team they share and privileged callers (else null). Null for a null id.';

-- ============================================================================================
-- The rules
-- ============================================================================================
create or replace function stagegate_private.fn_authorize_handoff(p_team_id uuid, p_handoff_type text, p_sd_id text)
returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_role text;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: %s of strategic directive %L needs a signed-in member of its team or the service role (the request runs as %s without a user)',
                       p_handoff_type, p_sd_id, v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = p_team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: user %s is not a member of the team of strategic directive %L', v_actor.user_id, p_sd_id);
  end if;
  if not exists (select 1 from public.handoff_permissions p where p.handoff_type = p_handoff_type and p.role = v_role) then
    raise exception using errcode = 'SG021',
      message = format('ROLE_NOT_ALLOWED: %s may be requested by %s; user %s is %s in the team of strategic directive %L',
                       p_handoff_type,
                       coalesce((select string_agg(p.role, ' or ' order by p.role) from public.handoff_permissions p where p.handoff_type = p_handoff_type), 'the service role only'),
                       v_actor.user_id, v_role, p_sd_id);
  end if;
end;
$$;
comment on function stagegate_private.fn_authorize_handoff(uuid, text, text) is
  'Raises SG020 NOT_A_MEMBER (no user, or not a member of p_team_id) or SG021 ROLE_NOT_ALLOWED (the member''s role is not in handoff_permissions for p_handoff_type) unless the transaction runs as the service role or a privileged database role.';

-- A claim blocks everyone else: only a member who may request some handoff (not a VIEWER) or the
-- service role may take one.
create or replace function stagegate_private.fn_authorize_claim(p_team_id uuid, p_sd_id text) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_role text;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  select m.role into v_role from public.team_members m where m.team_id = p_team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: %s is not a member of the team of strategic directive %L',
                       coalesce('user ' || v_actor.user_id, 'a request without a user'), p_sd_id);
  end if;
  if not exists (select 1 from public.handoff_permissions p where p.role = v_role) then
    raise exception using errcode = 'SG021',
      message = format('ROLE_NOT_ALLOWED: user %s is %s in the team of strategic directive %L and may not request handoffs',
                       v_actor.user_id, v_role, p_sd_id);
  end if;
end;
$$;

-- An attempt belongs to whoever began it: recording results into it and completing it is for
-- that user (still permitted for its handoff type) or the service role. To anyone else it does
-- not exist (SG009 ATTEMPT_NOT_FOUND), as it does not for GET /handoff/attempts/<id>; begin
-- replaying another user's request id is refused (SG001) rather than handing over their attempt.
create or replace function stagegate_private.fn_authorize_attempt(p_attempt_id uuid, p_replay boolean default false) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_attempt record;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  select a.actor_id, a.team_id, a.handoff_type, a.sd_id into v_attempt from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    return;  -- the RPC raises its own ATTEMPT_NOT_FOUND
  end if;
  if (v_actor.user_id is null or v_attempt.actor_id is distinct from v_actor.user_id) and p_replay then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id belongs to another user''s handoff attempt; use a request id of your own');
  end if;
  if v_actor.user_id is null or v_attempt.actor_id is distinct from v_actor.user_id then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  perform stagegate_private.fn_authorize_handoff(v_attempt.team_id, v_attempt.handoff_type, v_attempt.sd_id);
end;
$$;

-- Whose claim this is, in a refusal: the holder's session id for the holder's own user and the
-- service role, 'another session' for anyone else (a session id is not a secret we hand out).
create or replace function stagegate_private.fn_claim_holder(p_session_id text, p_holder uuid) returns text
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged or (v_actor.user_id is not null and v_actor.user_id = p_holder) then
    return format('session %L', p_session_id);
  end if;
  return 'another session';
end;
$$;

-- ============================================================================================
-- Grants and policies of this file's objects
-- ============================================================================================
revoke all on function
  stagegate_private.current_actor(),
  stagegate_private.tg__stamp_actor(),
  stagegate_private.tg_handoff_attempts__stamp_team(),
  stagegate_private.tg_handoff_permissions__audit(),
  stagegate_private.my_team_ids(text[]),
  stagegate_private.fn_authorize_handoff(uuid, text, text),
  stagegate_private.fn_authorize_claim(uuid, text),
  stagegate_private.fn_authorize_attempt(uuid, boolean),
  stagegate_private.fn_claim_holder(text, uuid),
  stagegate_private.fn_person(uuid)
from public, anon, authenticated, service_role;
-- the stamps run with the rights of whoever inserts; the policies with those of whoever reads;
-- the rules only inside the definer-rights RPCs
grant execute on function
  stagegate_private.current_actor(),
  stagegate_private.tg__stamp_actor(),
  stagegate_private.tg_handoff_attempts__stamp_team(),
  stagegate_private.my_team_ids(text[]),
  stagegate_private.fn_person(uuid)
to authenticated, service_role;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['teams', 'team_members', 'handoff_permissions', 'handoff_permission_changes']
  loop
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on table public.%I from public, anon, authenticated', v_table);
    execute format('grant all on table public.%I to service_role', v_table);
  end loop;
end;
$$;
grant select on table public.teams, public.team_members, public.handoff_permissions to authenticated;
-- the audit of permission changes is not editable, not even by the service role
revoke insert, update, delete, truncate on table public.handoff_permission_changes from service_role;

create policy "members read their teams" on public.teams
  for select to authenticated using (id in (select stagegate_private.my_team_ids()));
create policy "members read the members of their teams" on public.team_members
  for select to authenticated using (team_id in (select stagegate_private.my_team_ids()));
create policy "signed-in users read handoff permissions" on public.handoff_permissions
  for select to authenticated using ((select auth.uid()) is not null);
