-- Hand-written: DDL interleaved with the rows it needs, which a schema diff cannot order: the
-- default team is inserted between creating public.teams and adding the not-null team_id (with
-- its foreign key) to the directives a database already holds; handoff_permissions gets its
-- default rows; existing attempts get their directive's team. The objects are the ones
-- supabase/schemas/01a_people.sql (and the people parts of 02, 03, 10, 13) define.
--
-- People, part 1: teams, members, who may request which handoff, and who did what.
--
-- Every directive belongs to one team; a Supabase Auth user (auth.uid()) is a member of a team
-- with one role (LEAD, PLAN, EXEC, VIEWER); handoff_permissions says which roles may request
-- which handoff type, as data. Every record the engine writes (attempt, gate result, handoff
-- record, audit row, claim, mode change, handoff request) is stamped with the identity of the
-- transaction that wrote it: who (a user id, the service role, or a privileged database role such
-- as postgres) and through which way in (http, sql, trigger). The stamps are BEFORE INSERT
-- triggers, so no RPC has to remember them and a caller cannot supply someone else's.
--
-- Helpers live in stagegate_private, a schema the API does not expose (PostgREST serves public).

create schema if not exists stagegate_private;
revoke all on schema stagegate_private from public;
-- RLS policies call the membership helpers with the rights of the querying role.
grant usage on schema stagegate_private to authenticated, service_role;

-- ============================================================================================
-- Teams and members
-- ============================================================================================
create table public.teams (
  id uuid primary key default gen_random_uuid(),
  name text not null unique check (length(btrim(name)) between 1 and 200),
  created_at timestamptz not null default now()
);
comment on table public.teams is
  'A team owns strategic directives; its members (team_members) may read them and, by role, edit them and request handoffs.';

-- Existing directives (and any inserted without a team) belong to the default team.
insert into public.teams (id, name) values ('00000000-0000-4000-8000-000000000001', 'default');

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

alter table public.strategic_directives_v2
  add column team_id uuid not null default '00000000-0000-4000-8000-000000000001'
    references public.teams (id) on update cascade;
create index strategic_directives_v2_team_id_idx on public.strategic_directives_v2 (team_id);
comment on column public.strategic_directives_v2.team_id is
  'The team that owns the directive (the default team unless set). Its members read it; LEAD and PLAN members edit its content.';

-- ============================================================================================
-- Who may request which handoff (data, like the thresholds)
-- ============================================================================================
create table public.handoff_permissions (
  handoff_type text not null references public.handoff_types (code) on update cascade on delete cascade,
  role text not null check (role in ('LEAD', 'PLAN', 'EXEC', 'VIEWER')),
  created_at timestamptz not null default now(),
  primary key (handoff_type, role)
);
comment on table public.handoff_permissions is
  'A team member may request handoff_type when a row (handoff_type, their role) exists. The service role may request any. Changes are audited in handoff_permission_changes.';
insert into public.handoff_permissions (handoff_type, role) values
  ('LEAD-TO-PLAN', 'LEAD'), ('PLAN-TO-EXEC', 'PLAN'), ('EXEC-TO-PLAN', 'EXEC'), ('PLAN-TO-LEAD', 'PLAN');

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
create function stagegate_private.current_actor(
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
create function stagegate_private.tg__stamp_actor() returns trigger
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
create function stagegate_private.tg_handoff_attempts__stamp_team() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.team_id := (select s.team_id from public.strategic_directives_v2 s where s.uuid = new.sd_uuid);
  return new;
end;
$$;

do $$
declare
  v_table text;
begin
  foreach v_table in array array[
    'handoff_attempts', 'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit',
    'sd_claims', 'validation_mode_changes', 'handoff_requests']
  loop
    execute format($f$
      alter table public.%1$I
        add column actor_id uuid,
        add column actor_role text,
        add column actor_via text check (actor_via in ('http', 'sql', 'trigger'))$f$, v_table);
    execute format($f$comment on column public.%1$I.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)'$f$, v_table);
    execute format($f$comment on column public.%1$I.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)'$f$, v_table);
    execute format($f$comment on column public.%1$I.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)'$f$, v_table);
    -- sd_claims: renewing or taking over a claim makes the caller its holder (a rename of the SD,
    -- cascading to sd_id, does not)
    execute format('create trigger _050_stamp_actor before insert%s on public.%I for each row execute function stagegate_private.tg__stamp_actor()',
                   case when v_table = 'sd_claims' then ' or update of session_id, expires_at' else '' end, v_table);
  end loop;
end;
$$;

alter table public.handoff_attempts add column team_id uuid;
comment on column public.handoff_attempts.team_id is
  'The team of the directive when the attempt began: its members read the attempt and everything tied to it by attempt_id (gate results, handoff record, audit row).';
create index handoff_attempts_team_id_idx on public.handoff_attempts (team_id);
create trigger _040_stamp_team before insert on public.handoff_attempts
  for each row execute function stagegate_private.tg_handoff_attempts__stamp_team();
-- Existing attempts: the team of their directive (the default team, as every directive now).
update public.handoff_attempts a set team_id = s.team_id from public.strategic_directives_v2 s where s.uuid = a.sd_uuid;

-- ============================================================================================
-- handoff_permissions is audited
-- ============================================================================================
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

create function stagegate_private.tg_handoff_permissions__audit() returns trigger
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

-- ============================================================================================
-- Membership helpers (security definer: they read team_members whatever its policies say)
-- ============================================================================================

-- The teams the current user belongs to (with one of p_roles, when given).
create function stagegate_private.my_team_ids(p_roles text[] default null) returns setof uuid
language sql stable security definer set search_path = '' as $$
  select m.team_id from public.team_members m
  where m.user_id = (select a.user_id from stagegate_private.current_actor() a)
    and (p_roles is null or m.role = any (p_roles))
$$;

-- The directives (by key) of those teams: the PRD and story policies filter by it.
create function stagegate_private.my_sd_ids(p_roles text[] default null) returns setof text
language sql stable security definer set search_path = '' as $$
  select s.id from public.strategic_directives_v2 s
  where s.team_id in (select stagegate_private.my_team_ids(p_roles))
$$;

revoke all on function
  stagegate_private.current_actor(),
  stagegate_private.tg__stamp_actor(),
  stagegate_private.tg_handoff_attempts__stamp_team(),
  stagegate_private.tg_handoff_permissions__audit(),
  stagegate_private.my_team_ids(text[]),
  stagegate_private.my_sd_ids(text[])
from public, anon, authenticated, service_role;
-- the triggers run with the rights of whoever inserts; the policies with those of whoever reads
grant execute on function
  stagegate_private.current_actor(),
  stagegate_private.tg__stamp_actor(),
  stagegate_private.tg_handoff_attempts__stamp_team(),
  stagegate_private.my_team_ids(text[]),
  stagegate_private.my_sd_ids(text[])
to authenticated, service_role;
