-- stagegate SQL core, part 2: directives, their PRDs and user stories, and session claims.

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
  updated_at timestamptz not null default now()
);

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

-- The plan's first concurrency layer: one session holds an SD until its lease expires.
create table public.sd_claims (
  sd_id text primary key references public.strategic_directives_v2 (id) on delete cascade on update cascade,
  session_id text not null check (length(session_id) between 1 and 200),
  claimed_at timestamptz not null default now(),
  renewed_at timestamptz not null default now(),
  expires_at timestamptz not null
);
