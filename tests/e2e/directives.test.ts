// /functions/v1/directives and /functions/v1/operations end to end: the real Deno runtime, real
// PostgreSQL, called through the typed client of shared/client.ts on supabase-js.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, stagegateClient, type StagegateClient } from '../../shared/client.ts';
import { DirectiveDetailSchema } from '../../shared/directives-schema.ts';
import { signJwt } from '../../shared/jwt.ts';
import { startHandoffEnvironment, TEST_JWT_SECRET, type HandoffEnvironment } from '../helpers/functions.ts';
import { seedPeople, TEAM_ALPHA, USERS, type UserName } from '../helpers/people.ts';

let env: HandoffEnvironment;
let api: StagegateClient;

beforeAll(async () => {
  env = await startHandoffEnvironment();
  api = stagegateClient(env.fns.client(env.fns.serviceRoleKey).functions);
});
afterAll(async () => { await env?.stop(); });

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

const full = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: `Directive ${id}`,
  description: 'Atomic handoffs for the console',
  scope: 'console',
  success_criteria: ['the board shows it'],
  sd_type: 'feature',
  prd: {
    title: 'Console PRD', executive_summary: 'One page per directive',
    functional_requirements: ['board'], acceptance_criteria: ['a team lead sees where directives wait'], test_scenarios: ['browser test'],
  },
  stories: [
    { story_key: 'US-1', title: 'See the board', acceptance_criteria: ['counts per phase'] },
    { story_key: 'US-2', title: 'Run a handoff', acceptance_criteria: ['gates stream'] },
  ],
  ...extra,
});

describe('create', () => {
  it('creates a directive with its PRD and stories in one call, at the start of the workflow', async () => {
    const detail = await api.createDirective(full('SD-API-001'));
    expect(detail.directive).toMatchObject({ id: 'SD-API-001', current_phase: 'LEAD', status: 'draft', transition_version: 0, threshold: 85 });
    expect(detail.prd).toMatchObject({ id: 'PRD-API-001', title: 'Console PRD' });
    expect(detail.stories.map((s) => s.story_key)).toEqual(['US-1', 'US-2']);
    expect(detail.next_handoffs).toEqual(['LEAD-TO-PLAN']);
    const [row] = await env.db.sql`select (select count(*)::int from public.user_stories where sd_id = 'SD-API-001' and prd_id = 'PRD-API-001') as stories,
      (select current_phase from public.strategic_directives_v2 where id = 'SD-API-001') as phase`;
    expect(row).toEqual({ stories: 2, phase: 'LEAD' });
  });

  it('generates a key when none is given', async () => {
    const detail = await api.createDirective({ title: 'No key given' });
    expect(detail.directive.id).toMatch(/^SD-[0-9A-F]{10}$/);
    expect(detail.prd).toBeNull();
  });

  it('refuses phase, status or version in the body, and a taken key, writing nothing', async () => {
    const before = await env.db.sql`select count(*)::int as n from public.strategic_directives_v2`;
    const phase = await refusal(api.createDirective({ ...full('SD-API-002'), current_phase: 'EXEC' } as never));
    expect({ status: phase.status, code: phase.code }).toEqual({ status: 400, code: 'INVALID_INPUT' });
    expect(phase.message).toMatch(/current_phase/);
    const dup = await refusal(api.createDirective(full('SD-API-001')));
    expect({ status: dup.status, code: dup.code }).toEqual({ status: 409, code: 'DIRECTIVE_EXISTS' });
    const untitled = await refusal(api.createDirective({ title: '  ' }));
    expect(untitled.code).toBe('INVALID_INPUT');
    expect(await env.db.sql`select count(*)::int as n from public.strategic_directives_v2`).toEqual(before);
  });

  it('is atomic: a story that fails leaves no directive and no PRD behind', async () => {
    const twice = full('SD-API-003', { stories: [{ story_key: 'US-1', title: 'a' }, { story_key: 'US-1', title: 'b' }] });
    const err = await refusal(api.createDirective(twice));
    expect({ status: err.status, code: err.code }).toEqual({ status: 400, code: 'INVALID_INPUT' });
    const rows = await env.db.sql`select (select count(*)::int from public.strategic_directives_v2 where id = 'SD-API-003') as sds,
      (select count(*)::int from public.product_requirements_v2 where sd_id = 'SD-API-003') as prds`;
    expect(rows[0]).toEqual({ sds: 0, prds: 0 });
  });

  it('refuses an unknown sd_type in SQL with the known ones named', async () => {
    const err = await refusal(api.createDirective({ title: 'x', sd_type: 'nonsense' }));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toMatch(/unknown sd_type 'nonsense' \(known: .*feature/);
  });
});

describe('list', () => {
  it('filters by phase, type and text, counts per phase, and pages by keyset without gaps or repeats', async () => {
    for (let i = 10; i < 17; i++) await api.createDirective({ id: `SD-PAGE-${i}`, title: `Paged ${i} 100%_literal`, sd_type: i % 2 ? 'security' : 'feature' });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await api.listDirectives({ q: 'paged', limit: 3, cursor });
      seen.push(...page.items.map((d) => d.id));
      expect(page.counts).toEqual({ LEAD: 7 });
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual(Array.from({ length: 7 }, (_, i) => `SD-PAGE-${i + 10}`));
    expect(new Set(seen).size).toBe(7);

    const security = await api.listDirectives({ q: 'paged', sd_type: 'security' });
    expect(security.items.map((d) => d.id).sort()).toEqual(['SD-PAGE-11', 'SD-PAGE-13', 'SD-PAGE-15']);
    expect(security.items[0]).toMatchObject({ threshold: 90, awaiting_approval: false, last_handoff: null });
    // LIKE wildcards in the text are matched literally
    expect((await api.listDirectives({ q: '100%_lit' })).items).toHaveLength(7);
    expect((await api.listDirectives({ q: '100x_lit' })).items).toHaveLength(0);
    expect((await api.listDirectives({ phase: 'PLAN', q: 'paged' })).items).toHaveLength(0);
  });

  it('refuses a bad filter or a forged cursor with INVALID_INPUT', async () => {
    expect((await refusal(api.listDirectives({ phase: 'lead' }))).code).toBe('INVALID_INPUT');
    expect((await refusal(api.listDirectives({ cursor: 'bm90LWEtY3Vyc29y' }))).code).toBe('INVALID_INPUT');
    expect((await refusal(api.listDirectives({ limit: 1000 }))).code).toBe('INVALID_INPUT');
  });
});

describe('history', () => {
  it('shows each attempt with its verdict, score against the threshold, every gate and the audit chain', async () => {
    await api.createDirective(full('SD-HIST-001'));
    const dry = await api.dryRun({ sd_id: 'SD-HIST-001', handoff_type: 'LEAD-TO-PLAN', session_id: 'hist' });
    expect(dry).toMatchObject({ dry_run: true, phase_after: 'LEAD' });
    const events: string[] = [];
    const verdict = await api.streamHandoff({ sd_id: 'SD-HIST-001', handoff_type: 'LEAD-TO-PLAN', session_id: 'hist' }, (e) => events.push(e.event));
    expect(verdict).toMatchObject({ verdict: 'accepted', phase_after: 'PLAN' });
    expect(events).toContain('gate_started');
    expect(events).toContain('gate_finished');

    const detail = await api.getDirective('SD-HIST-001');
    expect(detail.directive.current_phase).toBe('PLAN');
    expect(detail.next_handoffs).toContain('PLAN-TO-EXEC');
    expect(detail.next_handoffs).not.toContain('LEAD-TO-PLAN');
    // a dry run leaves nothing behind: the one attempt is the real one
    expect(detail.attempts).toHaveLength(1);
    const [real] = detail.attempts;
    expect(real).toMatchObject({ dry_run: false, verdict: 'accepted', threshold: 85, handoff_type: 'LEAD-TO-PLAN', session_id: 'hist', status: 'completed' });
    expect(real!.gates.length).toBe(verdict.gates.filter((g) => !g.reused).length);
    for (const g of real!.gates) expect(g).toMatchObject({ verdict: expect.stringMatching(/PASS|FAIL|SKIPPED|ERROR/), max_score: expect.any(Number) });
    expect(detail.audit).toHaveLength(1);
    expect(detail.audit[0]).toMatchObject({ transition_type: 'LEAD-TO-PLAN', status: 'completed', attempt_id: real!.id });
    // the same directive by uuid
    expect((await api.getDirective(detail.directive.uuid)).directive.id).toBe('SD-HIST-001');
  });

  it('answers 404 SD_NOT_FOUND for an unknown directive', async () => {
    const err = await refusal(api.getDirective('SD-NOPE-404'));
    expect({ status: err.status, code: err.code }).toEqual({ status: 404, code: 'SD_NOT_FOUND' });
  });
});

describe('edit', () => {
  it('changes content of the directive, PRD and stories in one call', async () => {
    await api.createDirective(full('SD-EDIT-001'));
    const detail = await api.updateDirective('SD-EDIT-001', {
      directive: { title: 'Renamed', priority: 'high' },
      prd: { executive_summary: 'Changed' },
      stories: [{ story_key: 'US-2', title: 'Run and watch a handoff' }],
    });
    expect(detail.directive).toMatchObject({ title: 'Renamed', priority: 'high', current_phase: 'LEAD', transition_version: 0 });
    expect(detail.prd?.executive_summary).toBe('Changed');
    expect(detail.stories.find((s) => s.story_key === 'US-2')?.title).toBe('Run and watch a handoff');
  });

  it('refuses phase, status and version, and edits nothing of a refused patch', async () => {
    for (const patch of [{ directive: { current_phase: 'EXEC' } }, { directive: { status: 'active' } }, { transition_version: 3 }]) {
      const err = await refusal(api.updateDirective('SD-EDIT-001', patch as never));
      expect({ status: err.status, code: err.code }).toEqual({ status: 400, code: 'INVALID_INPUT' });
    }
    // a patch whose second part fails leaves its first part undone
    const err = await refusal(api.updateDirective('SD-EDIT-001', { directive: { title: 'Half' }, stories: [{ story_key: 'US-9', title: 'missing' }] }));
    expect(err.message).toMatch(/no story 'US-9'/);
    const [row] = await env.db.sql`select title, current_phase from public.strategic_directives_v2 where id = 'SD-EDIT-001'`;
    expect(row).toEqual({ title: 'Renamed', current_phase: 'LEAD' });
  });
});

describe('identity, errors and CORS', () => {
  it('refuses anon (403) and a missing token (401) with the error envelope', async () => {
    const anon = stagegateClient(env.fns.client(env.fns.anonKey).functions);
    const err = await refusal(anon.listDirectives());
    expect({ status: err.status, code: err.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    const response = await fetch(`${env.fns.functionsUrl}/directives`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });

  it('answers a browser preflight without a token, and CORS headers on answers', async () => {
    const preflight = await fetch(`${env.fns.functionsUrl}/directives`, {
      method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:54323', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const handoffPreflight = await fetch(`${env.fns.functionsUrl}/handoff`, { method: 'OPTIONS' });
    expect(handoffPreflight.status).toBe(204);
    const answer = await fetch(`${env.fns.functionsUrl}/directives/workflow`, { headers: { authorization: `Bearer ${env.fns.serviceRoleKey}` } });
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    const workflow = (await answer.json()) as { phases: { phase: string }[]; thresholds: Record<string, number> };
    expect(workflow.phases.map((p) => p.phase)).toContain('PLAN');
    expect(workflow.thresholds.security).toBe(90);
  });

  it('reports NETWORK when the server cannot be reached', async () => {
    const dead = stagegateClient(env.fns.client('x').functions);
    const { createClient } = await import('@supabase/supabase-js');
    const { default: WebSocket } = await import('ws');
    const gone = stagegateClient(createClient('http://127.0.0.1:9', 'x', { realtime: { transport: WebSocket as never }, auth: { persistSession: false } }).functions);
    expect((await refusal(gone.listDirectives())).code).toBe('NETWORK');
    expect((await refusal(dead.listDirectives())).status).toBe(401);
  });
});

describe('operations', () => {
  it('shows modes with the promotion gate, breakers and failures; sets a mode; refuses ENFORCE without the numbers', async () => {
    const ops = await api.operations();
    expect(ops.modes.find((m) => m.scope === '*')?.promotion_gate).toMatchObject({ ok: expect.any(Boolean), min_handoffs: expect.any(Number) });
    expect(Array.isArray(ops.breakers)).toBe(true);
    expect(Array.isArray(ops.recent_failures)).toBe(true);
    await api.setMode({ scope: '*', mode: 'WARN', reason: 'console e2e' });
    const blocked = await refusal(api.setMode({ scope: '*', mode: 'ENFORCE', reason: 'too early' }));
    expect({ status: blocked.status, code: blocked.code }).toEqual({ status: 409, code: 'PROMOTION_BLOCKED' });
    expect((await api.operations()).modes.find((m) => m.scope === '*')?.mode).toBe('WARN');
    await api.setMode({ scope: '*', mode: 'ENFORCE', reason: 'restore', force: true });
  });
});

describe('as team members (people): the caller\'s identity and row-level security decide', () => {
  const as = async (user: UserName) => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signJwt({ role: 'authenticated', aud: 'authenticated', iss: 'stagegate-local', sub: USERS[user], iat: now, exp: now + 3600 }, TEST_JWT_SECRET);
    return stagegateClient(env.fns.client(token).functions);
  };
  beforeAll(async () => { await seedPeople(env.db.sql); });

  it('a PLAN member creates in their own team; a VIEWER and an outsider may not; nothing half-made', async () => {
    const planner = await as('plan');
    const made = await planner.createDirective(full('SD-TEAM-001'));
    expect(made.directive).toMatchObject({ team_id: TEAM_ALPHA, current_phase: 'LEAD' });
    for (const user of ['viewer', 'exec'] as const) {
      const err = await refusal((await as(user)).createDirective(full(`SD-TEAM-${user.toUpperCase()}`)));
      expect({ status: err.status, code: err.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(err.message).toMatch(/only a LEAD or PLAN member/);
    }
    const outsider = await refusal((await as('outsider')).createDirective({ ...full('SD-TEAM-002'), team_id: TEAM_ALPHA }));
    expect(outsider.code).toBe('FORBIDDEN');
    const [n] = await env.db.sql`select count(*)::int as n from public.strategic_directives_v2 where id in ('SD-TEAM-VIEWER', 'SD-TEAM-EXEC', 'SD-TEAM-002')`;
    expect(n?.n).toBe(0);
  });

  it('members see and count only their teams\' directives; the outsider gets SD_NOT_FOUND', async () => {
    const viewer = await as('viewer');
    const mine = await viewer.listDirectives({ limit: 200 });
    expect(mine.items.map((d) => d.id)).toEqual(['SD-TEAM-001']);
    expect(mine.counts).toEqual({ LEAD: 1 });
    expect((await viewer.workflow()).me).toMatchObject({ role: 'authenticated', teams: [{ team: 'alpha', role: 'VIEWER' }] });
    const outsider = await as('outsider');
    expect((await outsider.listDirectives()).items).toEqual([]);
    expect((await refusal(outsider.getDirective('SD-TEAM-001'))).code).toBe('SD_NOT_FOUND');
    expect((await refusal(viewer.updateDirective('SD-TEAM-001', { directive: { title: 'mine now' } }))).code).toBe('FORBIDDEN');
  });

  it('who asked is in the history: a PLAN member is refused LEAD-TO-PLAN, the LEAD runs it', async () => {
    const refused = await refusal((await as('plan')).handoff({ sd_id: 'SD-TEAM-001', handoff_type: 'LEAD-TO-PLAN', session_id: 'team' }));
    expect({ status: refused.status, code: refused.code }).toEqual({ status: 403, code: 'ROLE_NOT_ALLOWED' });
    const lead = await as('lead');
    expect(await lead.handoff({ sd_id: 'SD-TEAM-001', handoff_type: 'LEAD-TO-PLAN', session_id: 'team' })).toMatchObject({ verdict: 'accepted' });
    const detail = await lead.getDirective('SD-TEAM-001');
    expect(detail.attempts[0]).toMatchObject({ actor_id: USERS.lead, actor_role: 'authenticated', actor_via: 'http', verdict: 'accepted' });
    expect(detail.audit[0]).toMatchObject({ actor_id: USERS.lead, status: 'completed' });
    // and by name, for the console: people, not ids
    expect(detail.attempts[0]?.requested_by).toEqual({ user_id: USERS.lead, name: 'lead@example.test', email: 'lead@example.test' });
    expect(detail.audit[0]?.actor).toEqual({ user_id: USERS.lead, name: 'lead@example.test', email: 'lead@example.test' });
  });

  it('approvals through the typed client: the history says who may decide, decideApproval agrees, the approval moves it', async () => {
    await env.db.sql`insert into public.leo_sub_agents (code, name, kind, target, handoff_types, sd_types, approvals_required, approver_roles)
      values ('CONSOLE_SIGNOFF', 'Lead sign-off', 'approval', 'a lead', '{PLAN-TO-EXEC}', '{feature}', 1, '{LEAD}')`;
    try {
      const planner = await as('plan');
      const lead = await as('lead');
      // SD-TEAM-001 is in PLAN (the test above; the LEAD's accepted LEAD-TO-PLAN handed the claim
      // on), and the planner asks for PLAN-TO-EXEC, which waits
      const waiting = await planner.handoff({ sd_id: 'SD-TEAM-001', handoff_type: 'PLAN-TO-EXEC', session_id: 'team-plan' });
      expect(waiting).toMatchObject({ verdict: 'awaiting_approval' });
      const attempt = waiting.attempt_id;
      // the answer is what the OpenAPI document and the console's types say it is
      const seen = DirectiveDetailSchema.parse(await planner.getDirective('SD-TEAM-001'));
      expect(seen.directive).toMatchObject({ awaiting_approval: true, can_edit: true });
      expect(seen.approvals[0]).toMatchObject({
        attempt_id: attempt, status: 'awaiting_approval', approvals_needed: 1, can_decide: false, cannot_decide: { code: 'SELF_APPROVAL' },
        requested_by: { user_id: USERS.plan, name: 'plan@example.test', email: 'plan@example.test' },
      });
      const self = await refusal(planner.decideApproval(attempt, { decision: 'approve' }));
      expect({ status: self.status, code: self.code }).toEqual({ status: 403, code: 'SELF_APPROVAL' });
      expect((await (await as('viewer')).getDirective('SD-TEAM-001')).approvals[0]).toMatchObject({ can_decide: false, cannot_decide: { code: 'NOT_AN_APPROVER' } });
      expect((await lead.getDirective('SD-TEAM-001')).approvals[0]).toMatchObject({ can_decide: true, cannot_decide: null });
      const bare = await refusal(lead.decideApproval(attempt, { decision: 'reject' }));
      expect({ status: bare.status, code: bare.code }).toEqual({ status: 400, code: 'INVALID_INPUT' });
      expect(await lead.decideApproval(attempt, { decision: 'approve', comment: 'scope is clear' })).toMatchObject({ recorded: true, verdict: 'accepted', status: 'completed' });

      const after = DirectiveDetailSchema.parse(await planner.getDirective('SD-TEAM-001'));
      expect(after.directive).toMatchObject({ current_phase: 'EXEC', awaiting_approval: false });
      expect(after.approvals[0]).toMatchObject({
        status: 'completed', can_decide: false, cannot_decide: { code: 'APPROVAL_CLOSED' },
        decisions: [{ by: { user_id: USERS.lead, name: 'lead@example.test', email: 'lead@example.test' }, role: 'LEAD', decision: 'approve', comment: 'scope is clear' }],
      });
      // the override route through the same client: an attempt the caller cannot see is 404
      const unknown = await refusal(lead.overrideHandoff('00000000-0000-4000-8000-000000000000', { reason: 'ship it' }));
      expect({ status: unknown.status, code: unknown.code }).toEqual({ status: 404, code: 'ATTEMPT_NOT_FOUND' });
      const [row] = await env.db.sql`select s.current_phase, d.approver_id::text as approver from public.strategic_directives_v2 s
        join public.approval_decisions d on d.sd_id = s.id where s.id = 'SD-TEAM-001'`;
      expect(row).toEqual({ current_phase: 'EXEC', approver: USERS.lead });
    } finally {
      await env.db.sql`update public.leo_sub_agents set active = false where code = 'CONSOLE_SIGNOFF'`;
    }
  });
});
