// People fixtures: users in auth.users, two teams, one member per role, and the identities the
// tests act as (a client connected as `authenticated` with the user's claims, as PostgREST would).
import type postgres from 'postgres';
import { connectAs } from './db.ts';

export const TEAM_ALPHA = 'a1a1a1a1-0000-4000-8000-000000000001';
export const TEAM_BETA = 'b2b2b2b2-0000-4000-8000-000000000002';

export const USERS = {
  lead: '10000000-0000-4000-8000-00000000000a',
  plan: '20000000-0000-4000-8000-00000000000a',
  exec: '30000000-0000-4000-8000-00000000000a',
  viewer: '40000000-0000-4000-8000-00000000000a',
  // LEAD of the other team: a member of something, but not of alpha
  outsider: '50000000-0000-4000-8000-00000000000b',
} as const;
export type UserName = keyof typeof USERS;

export async function seedPeople(sql: postgres.Sql): Promise<void> {
  await sql.begin(async (tx) => {
    for (const [name, id] of Object.entries(USERS)) {
      await tx`insert into auth.users (id, email) values (${id}, ${`${name}@example.test`}) on conflict do nothing`;
    }
    await tx`insert into public.teams (id, name) values (${TEAM_ALPHA}, 'alpha'), (${TEAM_BETA}, 'beta') on conflict do nothing`;
    await tx`insert into public.team_members (team_id, user_id, role) values
      (${TEAM_ALPHA}, ${USERS.lead}, 'LEAD'), (${TEAM_ALPHA}, ${USERS.plan}, 'PLAN'),
      (${TEAM_ALPHA}, ${USERS.exec}, 'EXEC'), (${TEAM_ALPHA}, ${USERS.viewer}, 'VIEWER'),
      (${TEAM_BETA}, ${USERS.outsider}, 'LEAD')
      on conflict do nothing`;
  });
}

/** Moves directives into a team (test fixtures insert them into the default team). */
export async function intoTeam(sql: postgres.Sql, team: string, ...sdIds: string[]): Promise<void> {
  await sql`update public.strategic_directives_v2 set team_id = ${team} where id = any(${sdIds})`;
}

/** A client that is this user, as PostgREST would run their requests. */
export function asUser(url: string, user: UserName): postgres.Sql {
  return connectAs(url, 'authenticated', { sub: USERS[user], aud: 'authenticated' });
}

/**
 * A fingerprint of every row a handoff can write (directives, PRDs, stories, claims, attempts,
 * results, handoff records, audit, requests, the outbox): equal before and after = nothing written.
 */
export async function everyRow(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<{ digest: string }[]>`
    select md5(concat_ws('|',
      (select string_agg(to_jsonb(s)::text, ',' order by s.id) from public.strategic_directives_v2 s),
      (select string_agg(to_jsonb(p)::text, ',' order by p.id) from public.product_requirements_v2 p),
      (select string_agg(to_jsonb(u)::text, ',' order by u.id) from public.user_stories u),
      (select string_agg(to_jsonb(c)::text, ',' order by c.sd_id) from public.sd_claims c),
      (select string_agg(to_jsonb(a)::text, ',' order by a.id) from public.handoff_attempts a),
      (select string_agg(to_jsonb(r)::text, ',' order by r.id) from public.sub_agent_execution_results r),
      (select string_agg(to_jsonb(h)::text, ',' order by h.id) from public.sd_phase_handoffs h),
      (select string_agg(to_jsonb(t)::text, ',' order by t.id) from public.sd_transition_audit t),
      (select string_agg(to_jsonb(q)::text, ',' order by q.id) from public.handoff_requests q),
      (select string_agg(to_jsonb(n)::text, ',' order by n.id) from public.transition_notifications n))) as digest`;
  return row!.digest;
}
