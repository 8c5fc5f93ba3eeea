// The main job on the embedded default: seed a demo directive with a PRD and stories, register
// demo sub-agents (the SQL gates the migrations ship, plus an architecture reviewer played by a
// local HTTP agent and a builtin gate), then walk the SD through all four handoffs over HTTP,
// printing each gate as it runs and each verdict.
import { createClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { ApiError, stagegateClient, type StagegateClient } from '../shared/client.ts';
import { signJwt } from '../shared/jwt.ts';

export const DEMO_SD = 'SD-DEMO-001';
export const TRY_SD = 'SD-DEMO-002';
export const OTHER_TEAM_SD = 'SD-DEMO-003';
export const APPROVAL_SD = 'SD-DEMO-004';
const SESSION = 'demo-session';

// Two teams and a few people with different roles (fixed ids, so the printed tokens stay the same).
export const DEMO_TEAMS = {
  platform: 'd0000000-0000-4000-8000-00000000000a',
  billing: 'd0000000-0000-4000-8000-00000000000b',
} as const;
export const DEMO_USERS = [
  { name: 'lead', fullName: 'Lee Lead', email: 'lead@demo.stagegate', id: 'd1000000-0000-4000-8000-00000000000a', team: 'platform', role: 'LEAD' },
  { name: 'planner', fullName: 'Pat Planner', email: 'planner@demo.stagegate', id: 'd2000000-0000-4000-8000-00000000000a', team: 'platform', role: 'PLAN' },
  { name: 'engineer', fullName: 'Eve Engineer', email: 'engineer@demo.stagegate', id: 'd3000000-0000-4000-8000-00000000000a', team: 'platform', role: 'EXEC' },
  { name: 'viewer', fullName: 'Vic Viewer', email: 'viewer@demo.stagegate', id: 'd4000000-0000-4000-8000-00000000000a', team: 'platform', role: 'VIEWER' },
  { name: 'billing-lead', fullName: 'Bo Billing', email: 'billing-lead@demo.stagegate', id: 'd5000000-0000-4000-8000-00000000000b', team: 'billing', role: 'LEAD' },
] as const;
export type DemoUser = (typeof DEMO_USERS)[number];

/**
 * A token per demo user, signed with the stack's own JWT secret (the one its functions verify
 * with), as `supabase start` signs its keys: role authenticated, the user's id as sub.
 */
export async function demoUserTokens(secret: string): Promise<{ user: DemoUser; token: string }[]> {
  return await Promise.all(DEMO_USERS.map(async (user) => ({
    user,
    token: await signJwt({
      iss: 'stagegate-local', aud: 'authenticated', role: 'authenticated', sub: user.id, email: user.email,
      iat: 1_700_000_000, exp: 2_000_000_000,
    }, secret),
  })));
}

async function seedPeople(tx: postgres.TransactionSql): Promise<void> {
  for (const [name, id] of Object.entries(DEMO_TEAMS)) {
    await tx`insert into public.teams (id, name) values (${id}, ${`demo-${name}`}) on conflict (id) do nothing`;
  }
  for (const u of DEMO_USERS) {
    // the name is user_metadata.full_name, as Supabase Auth keeps it: the console shows people by it
    await tx`insert into auth.users as a (id, email, raw_user_meta_data) values (${u.id}, ${u.email}, ${tx.json({ full_name: u.fullName })})
      on conflict (id) do update set raw_user_meta_data = coalesce(a.raw_user_meta_data, '{}') || excluded.raw_user_meta_data`;
    await tx`insert into public.team_members (team_id, user_id, role) values (${DEMO_TEAMS[u.team]}, ${u.id}, ${u.role})
      on conflict (team_id, user_id) do update set role = excluded.role`;
  }
}

export async function seedDemo(dbUrl: string, agentUrl: string): Promise<void> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.begin(async (tx) => {
      // The demo directive starts afresh each time; its earlier audit rows stay (they outlive SDs).
      await tx`delete from public.strategic_directives_v2 where id in (${DEMO_SD}, ${TRY_SD}, ${OTHER_TEAM_SD}, ${APPROVAL_SD})`;
      await seedPeople(tx);
      // A second directive left in LEAD for the reader to hand off by hand (README, printed curl).
      await tx`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, team_id)
        values (${TRY_SD}, 'Try me: a directive waiting in LEAD', 'Hand me off yourself', 'README walkthrough',
                ${tx.json(['LEAD-TO-PLAN accepted'])}, 'feature', ${DEMO_TEAMS.platform})`;
      await tx`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, team_id)
        values (${DEMO_SD}, 'Demo: atomic handoffs for the billing service', 'Make phase changes atomic and audited',
                'billing service handoffs', ${tx.json(['5 parallel gates under 30 s', 'no partial transitions'])}, 'feature', ${DEMO_TEAMS.platform})`;
      await tx`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, team_id)
        values (${OTHER_TEAM_SD}, 'Another team''s directive', 'Only the billing team sees me', 'RLS walkthrough',
                ${tx.json(['invisible to the platform team'])}, 'feature', ${DEMO_TEAMS.billing})`;
      // Approvals: an infrastructure directive whose LEAD-TO-PLAN needs a planner's sign-off.
      await tx`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, team_id)
        values (${APPROVAL_SD}, 'Demo: a handoff that waits for a sign-off', 'Move the queue workers to the new cluster',
                'queue workers', ${tx.json(['a planner approved it'])}, 'infrastructure', ${DEMO_TEAMS.platform})`;
      await tx`insert into public.leo_sub_agents (code, name, kind, target, handoff_types, sd_types, approvals_required, approver_roles)
        values ('DEMO_SIGNOFF', 'Planner sign-off (demo approval gate)', 'approval', 'a planner', '{LEAD-TO-PLAN}', '{infrastructure}', 1, '{PLAN}')
        on conflict (code) do update set active = true, approvals_required = 1, approver_roles = '{PLAN}'`;
      await tx`insert into public.product_requirements_v2 (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
        values ('PRD-DEMO-001', ${DEMO_SD}, 'Atomic billing handoffs', 'One transaction per handoff with a full audit trail',
                ${tx.json(['transition in one transaction', 'audit pre and post state'])},
                ${tx.json(['a failed PRD update rolls back the stories'])}, ${tx.json(['kill mid-handoff and retry'])})`;
      for (const [key, title] of [['US-1', 'As an operator I see every transition audited'], ['US-2', 'As a lead I trust a failed handoff changed nothing'], ['US-3', 'As an engineer I retry safely']] as const) {
        await tx`insert into public.user_stories (story_key, sd_id, prd_id, title, status, acceptance_criteria)
          values (${key}, ${DEMO_SD}, 'PRD-DEMO-001', ${title}, 'ready', ${tx.json([`${title}: verified by a test`])})`;
      }
      await tx`insert into public.leo_sub_agents (code, name, kind, target, depends_on, timeout_ms, max_retries, weight, required, handoff_types, sd_types)
        values ('ARCH_REVIEW', 'Architecture review (demo HTTP agent)', 'http', ${`${agentUrl}/agents/arch-review?delay=250&score=92`},
                '{}', 5000, 2, 1, true, '{PLAN-TO-EXEC,EXEC-TO-PLAN}', '{feature}')
        on conflict (code) do update set target = excluded.target, active = true`;
      await tx`insert into public.leo_sub_agents (code, name, kind, target, depends_on, timeout_ms, max_retries, weight, required, handoff_types, sd_types)
        values ('SECURITY_SCAN', 'Security scan (demo HTTP agent)', 'http', ${`${agentUrl}/agents/security-scan?delay=300&score=88`},
                '{}', 5000, 2, 1, false, '{EXEC-TO-PLAN}', '{feature}')
        on conflict (code) do update set target = excluded.target, active = true`;
    });
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function markStoriesDone(dbUrl: string): Promise<void> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`update public.user_stories set status = 'done' where sd_id = ${DEMO_SD}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** The typed client of shared/client.ts on supabase-js, as the console and the e2e tests use it. */
export function demoClient(functionsUrl: string, key: string): StagegateClient {
  const apiUrl = functionsUrl.replace(/\/functions\/v1\/?$/, '');
  // Node 20 has no global WebSocket: supabase-js needs a transport even when realtime is unused
  const supabase = createClient(apiUrl, key, { realtime: { transport: WebSocket as never }, auth: { persistSession: false, autoRefreshToken: false } });
  return stagegateClient(supabase.functions);
}

/** Runs one handoff through the `handoff` function, streaming gate events to `print`. */
export async function streamHandoff(functionsUrl: string, key: string, handoffType: string, print: (line: string) => void, signal?: AbortSignal): Promise<Record<string, unknown>> {
  try {
    const verdict = await demoClient(functionsUrl, key).streamHandoff(
      { sd_id: DEMO_SD, handoff_type: handoffType, session_id: SESSION, skip_idempotency: true },
      (e) => {
        if (e.event === 'gate_started') print(`    ▶ ${String(e.data.code)} started`);
        if (e.event === 'gate_finished' || e.event === 'gate_skipped') {
          const o = e.data.outcome as Record<string, unknown>;
          const mark = o.skipped ? '–' : o.passed ? '✔' : '✘';
          const why = o.skipped ? `skipped (${String(o.skipReason)})` : `${String(o.score)}/${String(o.maxScore)} in ${String(o.durationMs)} ms${Number(o.attempts) > 1 ? `, ${String(o.attempts)} attempts` : ''}`;
          print(`    ${mark} ${String(o.code)} ${why}`);
        }
      },
      { signal },
    );
    return verdict as unknown as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ApiError) || signal?.aborted) throw err;
    print(`  ${handoffType}: HTTP ${err.status} ${err.code}: ${err.message}`);
    return { error: { code: err.code, message: err.message, details: err.details } };
  }
}

/** Walks the demo SD through the four handoffs; aborting `signal` (a stop) cuts it short with an AbortError. */
export async function runDemo(opts: { dbUrl: string; functionsUrl: string; serviceRoleKey: string; jwtSecret: string; agentUrl: string; print: (line: string) => void; signal?: AbortSignal }): Promise<boolean> {
  const { print, signal } = opts;
  signal?.throwIfAborted();
  await seedDemo(opts.dbUrl, opts.agentUrl);
  print(`Demo: walking ${DEMO_SD} (feature, threshold 85) through all four handoffs via POST /functions/v1/handoff`);
  let allAccepted = true;
  for (const type of ['LEAD-TO-PLAN', 'PLAN-TO-EXEC', 'EXEC-TO-PLAN', 'PLAN-TO-LEAD']) {
    signal?.throwIfAborted();
    if (type === 'EXEC-TO-PLAN') {
      await markStoriesDone(opts.dbUrl);
      print('  (EXEC finished the stories: US-1..US-3 marked done)');
    }
    print(`  ${type}`);
    const v = await streamHandoff(opts.functionsUrl, opts.serviceRoleKey, type, print, signal);
    if (v.error) {
      allAccepted = false;
      print(`    ⇒ error ${JSON.stringify(v.error)}`);
      continue;
    }
    allAccepted &&= v.verdict === 'accepted';
    print(`    ⇒ ${String(v.verdict).toUpperCase()}: ${String(v.phase_before)} → ${String(v.phase_after)}, score ${String(v.score)} (threshold ${String(v.threshold)}), wall ${String(v.wall_ms)} ms, critical path ${String(v.critical_path_ms)} ms, audit ${String(v.audit_id)}`);
  }
  // People: a LEAD asking for a PLAN-only handoff is refused in SQL, and nothing is written.
  const lead = (await demoUserTokens(opts.jwtSecret)).find((t) => t.user.name === 'lead')!;
  signal?.throwIfAborted();
  const refused = await fetch(`${opts.functionsUrl}/handoff`, {
    method: 'POST', signal,
    headers: { authorization: `Bearer ${lead.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sd_id: TRY_SD, handoff_type: 'PLAN-TO-EXEC', session_id: 'lead-session' }),
  });
  const body = await refused.json() as { error?: { code?: string; message?: string } };
  print(`  As ${lead.user.email} (LEAD of demo-platform): PLAN-TO-EXEC of ${TRY_SD} ⇒ HTTP ${refused.status} ${String(body.error?.code)}: ${String(body.error?.message)}`);
  signal?.throwIfAborted();
  const approved = await demoApproval(opts.functionsUrl, opts.jwtSecret, print, signal);
  return allAccepted && refused.status === 403 && approved;
}

interface DemoAnswer {
  verdict?: string;
  score?: number;
  attempt_id?: string;
  approvals?: { approvals_needed?: number; approver_roles?: string[]; deadline?: string };
  result?: Record<string, unknown>;
  error?: { code?: string };
}

/** One approval end to end: the LEAD asks, the handoff waits (202), the planner approves, it moves. */
async function demoApproval(functionsUrl: string, jwtSecret: string, print: (line: string) => void, signal?: AbortSignal): Promise<boolean> {
  const tokens = await demoUserTokens(jwtSecret);
  const as = (name: DemoUser['name']) => tokens.find((t) => t.user.name === name)!;
  const post = async (who: DemoUser['name'], path: string, body: unknown) => {
    const response = await fetch(`${functionsUrl}/handoff${path}`, {
      method: 'POST',
      signal,
      headers: { authorization: `Bearer ${as(who).token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() as DemoAnswer };
  };
  print(`  Approvals: ${APPROVAL_SD} (infrastructure) needs a planner's sign-off for LEAD-TO-PLAN (approval gate DEMO_SIGNOFF)`);
  const asked = await post('lead', '', { sd_id: APPROVAL_SD, handoff_type: 'LEAD-TO-PLAN', session_id: 'lead-session', skip_idempotency: true });
  const needs = asked.body.approvals;
  print(`    As ${as('lead').user.email}: LEAD-TO-PLAN ⇒ HTTP ${asked.status} ${String(asked.body.verdict ?? asked.body.error?.code)}, score ${String(asked.body.score)}, needs ${String(needs?.approvals_needed)} approval(s) from ${String(needs?.approver_roles?.join(' or '))} by ${String(needs?.deadline)}`);
  if (asked.status !== 202) return false;
  const self = await post('lead', `/attempts/${String(asked.body.attempt_id)}/approvals`, { decision: 'approve' });
  print(`    As ${as('lead').user.email}: approve ⇒ HTTP ${self.status} ${String(self.body.error?.code)}`);
  const approved = await post('planner', `/attempts/${String(asked.body.attempt_id)}/approvals`, { decision: 'approve', comment: 'cluster capacity checked' });
  const result = approved.body.result;
  print(`    As ${as('planner').user.email}: approve ⇒ HTTP ${approved.status} ${String(approved.body.verdict).toUpperCase()}: ${String(result?.from_phase)} → ${String(result?.to_phase)}, audit ${String(result?.audit_id)}`);
  return approved.status === 200 && approved.body.verdict === 'accepted' && self.status === 403;
}
