// The directives API in SQL (supabase/schemas/16_directives_api.sql), called as a SQL user would:
// as the service role and as a team member whose role may read but not edit.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA } from '../helpers/people.ts';

let db: FreshDatabase;
let service: postgres.Sql;
beforeAll(async () => {
  db = await freshDatabase();
  service = connectAs(db.url, 'service_role');
});
afterAll(async () => {
  await service?.end({ timeout: 1 });
  await db?.drop();
});

const create = (s: postgres.Sql, body: unknown) => s`select public.fn_create_directive(${s.json(body as never)}) as r`.then((rows) => rows[0]!.r as { directive: Record<string, unknown>; stories: Record<string, unknown>[] });
const sqlstate = (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);

describe('fn_create_directive', () => {
  it('creates the directive, its PRD and its stories in one call, in LEAD', async () => {
    const r = await create(service, { id: 'SD-SQL-001', title: 'From SQL', prd: { title: 'P' }, stories: [{ story_key: 'A', title: 'a' }] });
    expect(r.directive).toMatchObject({ id: 'SD-SQL-001', current_phase: 'LEAD', status: 'draft', transition_version: 0 });
    expect(r.stories[0]).toMatchObject({ story_key: 'A', prd_id: 'PRD-SQL-001' });
  });

  it('refuses workflow-owned fields, a taken key and bad rows with an SG state, leaving nothing behind', async () => {
    expect(await sqlstate(create(service, { title: 't', current_phase: 'EXEC' }))).toMatch(/^SG001: INVALID_INPUT: current_phase cannot be set/);
    expect(await sqlstate(create(service, { title: 't', status: 'active', transition_version: 4 }))).toMatch(/^SG001: .*status, transition_version|^SG001: .*transition_version, status/);
    expect(await sqlstate(create(service, { id: 'SD-SQL-001', title: 'again' }))).toMatch(/^SG030: DIRECTIVE_EXISTS/);
    expect(await sqlstate(create(service, { id: 'SD-SQL-002', title: 't', priority: 'urgent' }))).toMatch(/^SG001: INVALID_INPUT: .*check constraint/);
    expect(await sqlstate(create(service, { id: 'SD-SQL-003', title: 't', prd: { title: 'p' }, stories: [{ story_key: 'A', title: '' }] }))).toMatch(/^SG001/);
    const [n] = await db.sql`select (select count(*)::int from public.strategic_directives_v2 where id in ('SD-SQL-002', 'SD-SQL-003')) as sds,
      (select count(*)::int from public.product_requirements_v2 where sd_id = 'SD-SQL-003') as prds`;
    expect(n).toEqual({ sds: 0, prds: 0 });
  });
});

describe('fn_update_directive', () => {
  it('edits content and refuses phase, status and version by name', async () => {
    const [r] = await service`select public.fn_update_directive('SD-SQL-001', ${service.json({ directive: { title: 'Edited' }, stories: [{ story_key: 'A', title: 'b' }] })}) as r`;
    expect(r!.r.directive.title).toBe('Edited');
    expect(r!.r.stories[0].title).toBe('b');
    expect(await sqlstate(service`select public.fn_update_directive('SD-SQL-001', ${service.json({ directive: { current_phase: 'EXEC' } })})`))
      .toMatch(/^SG001: INVALID_INPUT: directive.current_phase cannot be edited/);
    expect(await sqlstate(service`select public.fn_update_directive('SD-NONE', ${service.json({ directive: { title: 'x' } })})`)).toMatch(/^SG002: SD_NOT_FOUND/);
  });
});

describe('fn_update_directive as a member who may read but not edit', () => {
  it('answers 42501 FORBIDDEN for the PRD and a story they can see, and INVALID_INPUT only for a story that is not there', async () => {
    await seedPeople(db.sql);
    await create(service, { id: 'SD-SQL-EXEC', title: 't', prd: { title: 'p' }, stories: [{ story_key: 'A', title: 'a' }] });
    await intoTeam(db.sql, TEAM_ALPHA, 'SD-SQL-EXEC');
    const exec = asUser(db.url, 'exec');
    try {
      const patch = (body: unknown) => sqlstate(exec`select public.fn_update_directive('SD-SQL-EXEC', ${exec.json(body as never)})`);
      expect(await patch({ prd: { title: 'x' } })).toMatch(/^42501: FORBIDDEN: you may read the PRD of 'SD-SQL-EXEC' but not edit it/);
      expect(await patch({ stories: [{ story_key: 'A', title: 'x' }] })).toMatch(/^42501: FORBIDDEN: you may read story 'A' of 'SD-SQL-EXEC' but not edit it/);
      expect(await patch({ stories: [{ story_key: 'Z', title: 'x' }] })).toMatch(/^SG001: INVALID_INPUT: 'SD-SQL-EXEC' has no story 'Z'/);
    } finally {
      await exec.end({ timeout: 1 });
    }
    const [prd] = await db.sql`select title from public.product_requirements_v2 where sd_id = 'SD-SQL-EXEC'`;
    expect(prd!.title).toBe('p');
  });
});

describe('fn_list_directives and fn_directive_history', () => {
  it('pages by keyset with counts per phase, and refuses unknown filters', async () => {
    for (let i = 0; i < 5; i++) await create(service, { id: `SD-LIST-${i}`, title: `list ${i}` });
    const [first] = await service`select public.fn_list_directives(${service.json({ text: 'list' })}, 3) as r`;
    expect(first!.r.items.map((d: { id: string }) => d.id)).toEqual(['SD-LIST-4', 'SD-LIST-3', 'SD-LIST-2']);
    expect(first!.r.counts).toEqual({ LEAD: 5 });
    const [second] = await service`select public.fn_list_directives(${service.json({ text: 'list', after: first!.r.next_cursor })}, 3) as r`;
    expect(second!.r.items.map((d: { id: string }) => d.id)).toEqual(['SD-LIST-1', 'SD-LIST-0']);
    expect(second!.r.next_cursor).toBeNull();
    expect(await sqlstate(service`select public.fn_list_directives(${service.json({ colour: 'red' })}, 3)`)).toMatch(/^SG001: INVALID_INPUT: unknown filter colour/);
    expect(await sqlstate(service`select public.fn_list_directives('{}', 0)`)).toMatch(/^SG001/);
  });

  it('reads one directive by key or uuid with its next handoffs', async () => {
    const [r] = await service`select public.fn_directive_history('SD-SQL-001') as r`;
    expect(r!.r).toMatchObject({ directive: { id: 'SD-SQL-001', threshold: 85 }, next_handoffs: ['LEAD-TO-PLAN'], attempts: [], audit: [], approvals: [] });
    const [byUuid] = await service`select public.fn_directive_history(${r!.r.directive.uuid}) as r`;
    expect(byUuid!.r.directive.id).toBe('SD-SQL-001');
  });
});

describe('grants', () => {
  it('anon executes none of them; the workflow is readable by the service role', async () => {
    const anon = connectAs(db.url, 'anon');
    try {
      for (const call of [anon`select public.fn_workflow()`, anon`select public.fn_list_directives('{}', 10)`, anon`select public.fn_directive_history('SD-SQL-001')`]) {
        expect(await sqlstate(call)).toMatch(/^42501/);
      }
    } finally {
      await anon.end({ timeout: 1 });
    }
    const [w] = await service`select public.fn_workflow() as r`;
    expect(w!.r.thresholds.security).toBe(90);
  });
});
