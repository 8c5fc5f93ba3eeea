// Row-level security, table by table and role by role: each identity reads and writes exactly
// what the policies of 20261201060200_people_rls.sql say.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA, TEAM_BETA, USERS, type UserName } from '../helpers/people.ts';
import { execute, gate, refusal, seedSd } from './_handoff-fixtures.ts';

const ALPHA_SD = 'SD-RLS-ALPHA';
const BETA_SD = 'SD-RLS-BETA';

// Tables with the directive's key on every row, and the rows each one holds per directive.
const BY_SD = ['strategic_directives_v2', 'product_requirements_v2', 'user_stories', 'handoff_attempts',
  'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit'] as const;
const SD_COLUMN: Record<string, string> = { strategic_directives_v2: 'id' };
const OPERATIONAL = ['sd_claims', 'sub_agent_breakers', 'sub_agent_breaker_events', 'http_idempotency_keys', 'ops_webhook_ids',
  'sweep_schedule', 'transition_notifications', 'handoff_request_dispatch', 'validation_mode_changes',
  'validation_mode_settings', 'unknown_inputs', 'handoff_permission_changes', 'leo_sub_agents', 'threshold_profiles'];

describe('row-level security for signed-in users', () => {
  let db: FreshDatabase;
  const clients = new Map<string, postgres.Sql>();
  const as = (who: UserName | 'anon' | 'service_role'): postgres.Sql => {
    let c = clients.get(who);
    if (!c) {
      c = who === 'anon' || who === 'service_role' ? connectAs(db.url, who) : asUser(db.url, who);
      clients.set(who, c);
    }
    return c;
  };
  const sdsSeen = async (who: UserName | 'service_role', table: string): Promise<string[]> => {
    const column = SD_COLUMN[table] ?? 'sd_id';
    const rows = await as(who).unsafe(`select distinct ${column} as sd from public.${table} where ${column} like 'SD-RLS-%' order by 1`);
    return rows.map((r) => r.sd as string);
  };

  beforeAll(async () => {
    db = await freshDatabase();
    await seedPeople(db.sql);
    for (const id of [ALPHA_SD, BETA_SD]) {
      await seedSd(db.sql, { id, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    }
    await intoTeam(db.sql, TEAM_ALPHA, ALPHA_SD);
    await intoTeam(db.sql, TEAM_BETA, BETA_SD);
    // history on both: an attempt, its gate results, a handoff record and an audit row each
    await execute(db.sql, ALPHA_SD, 'EXEC-TO-PLAN', 'rls-a', [gate('STORIES_DONE')]);
    await execute(db.sql, BETA_SD, 'EXEC-TO-PLAN', 'rls-b', [gate('STORIES_DONE')]);
  });
  afterAll(async () => {
    await Promise.all([...clients.values()].map((c) => c.end({ timeout: 1 })));
    await db.drop();
  });

  for (const table of BY_SD) {
    it(`${table}: members read their team's rows only, the service role all, anon nothing`, async () => {
      for (const who of ['lead', 'plan', 'exec', 'viewer'] as const) {
        expect({ who, seen: await sdsSeen(who, table) }).toEqual({ who, seen: [ALPHA_SD] });
      }
      expect(await sdsSeen('outsider', table)).toEqual([BETA_SD]);
      expect(await sdsSeen('service_role', table)).toEqual([ALPHA_SD, BETA_SD]);
      expect(await refusal(as('anon').unsafe(`select 1 from public.${table}`))).toMatchObject({ state: '42501' });
    });
  }

  it('teams and members: a member sees their own teams and their members; permissions are readable by every signed-in user', async () => {
    expect(await as('viewer')`select name from teams where name in ('alpha', 'beta')`).toEqual([{ name: 'alpha' }]);
    expect((await as('viewer')`select user_id from team_members order by user_id`).map((r) => r.user_id))
      .toEqual([USERS.lead, USERS.plan, USERS.exec, USERS.viewer].sort());
    expect(await as('outsider')`select user_id, role from team_members`).toEqual([{ user_id: USERS.outsider, role: 'LEAD' }]);
    expect((await as('exec')`select count(*)::int as n from handoff_permissions`)[0]!.n).toBe(4);
    for (const table of ['teams', 'team_members', 'handoff_permissions']) {
      expect(await refusal(as('anon').unsafe(`select 1 from public.${table}`))).toMatchObject({ state: '42501' });
      expect(await refusal(as('lead').unsafe(`delete from public.${table}`))).toMatchObject({ state: '42501' });
    }
  });

  it('operational tables stay service-only', async () => {
    for (const table of OPERATIONAL) {
      expect({ table, lead: (await refusal(as('lead').unsafe(`select 1 from public.${table}`))).state }).toEqual({ table, lead: '42501' });
      expect({ table, anon: (await refusal(as('anon').unsafe(`select 1 from public.${table}`))).state }).toEqual({ table, anon: '42501' });
    }
  });

  it('LEAD and PLAN members edit the content of their team\'s directives, PRDs and stories; EXEC and VIEWER do not', async () => {
    const edits = [
      (c: postgres.Sql, sd: string) => c`update strategic_directives_v2 set title = 'edited' where id = ${sd} returning id`,
      (c: postgres.Sql, sd: string) => c`update product_requirements_v2 set executive_summary = 'edited' where sd_id = ${sd} returning id`,
      (c: postgres.Sql, sd: string) => c`update user_stories set acceptance_criteria = '["edited"]' where sd_id = ${sd} returning id`,
    ];
    for (const edit of edits) {
      for (const who of ['lead', 'plan'] as const) {
        expect({ who, rows: (await edit(as(who), ALPHA_SD)).length }).toEqual({ who, rows: 1 });
        expect({ who, other_team: (await edit(as(who), BETA_SD)).length }).toEqual({ who, other_team: 0 });
      }
      for (const who of ['exec', 'viewer'] as const) {
        expect({ who, rows: (await edit(as(who), ALPHA_SD)).length }).toEqual({ who, rows: 0 });
      }
    }
    const [sd] = await db.sql`select title from strategic_directives_v2 where id = ${BETA_SD}`;
    expect(sd!.title).not.toBe('edited');
  });

  it('never phase, status, version, type or team, and no inserts or deletes', async () => {
    const lead = as('lead');
    for (const set of [`current_phase = 'LEAD'`, `status = 'completed'`, 'transition_version = 99', `sd_type = 'docs'`, `team_id = '${TEAM_BETA}'`]) {
      expect({ set, state: (await refusal(lead.unsafe(`update public.strategic_directives_v2 set ${set} where id = '${ALPHA_SD}'`))).state })
        .toEqual({ set, state: '42501' });
    }
    expect((await refusal(lead`update product_requirements_v2 set status = 'approved' where sd_id = ${ALPHA_SD}`)).state).toBe('42501');
    expect((await refusal(lead`update user_stories set status = 'validated' where sd_id = ${ALPHA_SD}`)).state).toBe('42501');
    expect((await refusal(lead`insert into strategic_directives_v2 (id, title) values ('SD-RLS-NEW', 'x')`)).state).toBe('42501');
    expect((await refusal(lead`delete from strategic_directives_v2 where id = ${ALPHA_SD}`)).state).toBe('42501');
    expect((await refusal(lead`update handoff_attempts set status = 'completed'`)).state).toBe('42501');
    expect((await refusal(lead`delete from sd_transition_audit`)).state).toBe('42501');
    const [row] = await db.sql`select current_phase, transition_version, team_id from strategic_directives_v2 where id = ${ALPHA_SD}`;
    expect(row).toEqual({ current_phase: 'EXEC_COMPLETE', transition_version: 1, team_id: TEAM_ALPHA });
  });

  it('handoff_requests: a user inserts requests as themselves and reads only their own', async () => {
    const [mine] = await as('exec')`insert into handoff_requests (sd_id, handoff_type, session_id) values (${ALPHA_SD}, 'PLAN-TO-LEAD', 'rls') returning id, actor_id, actor_role`;
    expect(mine).toMatchObject({ actor_id: USERS.exec, actor_role: 'authenticated' });
    expect(await as('exec')`select id from handoff_requests`).toEqual([{ id: mine!.id }]);
    expect(await as('lead')`select id from handoff_requests`).toEqual([]);
    // nobody names another requester: the columns are not theirs to set
    expect((await refusal(as('exec')`insert into handoff_requests (sd_id, handoff_type, session_id, actor_id) values (${ALPHA_SD}, 'PLAN-TO-LEAD', 'rls', ${USERS.lead})`)).state).toBe('42501');
    expect((await refusal(as('anon')`insert into handoff_requests (sd_id, handoff_type, session_id) values (${ALPHA_SD}, 'PLAN-TO-LEAD', 'x')`)).state).toBe('42501');
    expect((await refusal(as('exec')`update handoff_requests set status = 'done'`)).state).toBe('42501');
  });
});
