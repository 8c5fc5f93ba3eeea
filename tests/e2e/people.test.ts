// deno-lint-ignore-file no-explicit-any -- JSON answers from HTTP are inspected loosely here
// People end to end: the same rule (decided in SQL at begin) for every way in — a JWT over HTTP,
// a handoff_requests row run by the consumer as whoever inserted it — and the attempt status
// endpoint answering 404 to whoever may not read the attempt. Tokens are minted with the test
// stack's secret, as `npm start` mints the demo users' tokens.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { startConsumer, type Consumer } from '../../stack/consumer.ts';
import { connectAs } from '../helpers/db.ts';
import { seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, TEST_JWT_SECRET, type HandoffEnvironment } from '../helpers/functions.ts';
import { asUser, everyRow, intoTeam, seedPeople, TEAM_ALPHA, USERS, type UserName } from '../helpers/people.ts';

let env: HandoffEnvironment;
let consumer: Consumer;
const clients: postgres.Sql[] = [];
const tokens = new Map<string, string>();
let n = 0;

type Who = UserName | 'anon' | 'service_role' | 'nobody';
const now = () => Math.floor(Date.now() / 1000);
async function tokenOf(who: Who): Promise<string> {
  if (who === 'anon') return env.fns.anonKey;
  if (who === 'service_role') return env.fns.serviceRoleKey;
  const cached = tokens.get(who);
  if (cached) return cached;
  const base = { role: 'authenticated', aud: 'authenticated', iss: 'stagegate-local', iat: now(), exp: now() + 3600 };
  const token = await signJwt(who === 'nobody' ? base : { ...base, sub: USERS[who] }, TEST_JWT_SECRET);
  tokens.set(who, token);
  return token;
}
async function post(who: Who, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${env.fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await tokenOf(who)}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() as Record<string, any> };
}
async function attemptStatus(who: Who, attemptId: string) {
  const response = await fetch(`${env.fns.functionsUrl}/handoff/attempts/${attemptId}`, { headers: { authorization: `Bearer ${await tokenOf(who)}` } });
  return { status: response.status, body: await response.json() as Record<string, any> };
}
const newSd = async (phase = 'LEAD') => {
  const id = `SD-E2E-PEOPLE-${++n}`;
  await seedDirective(env.db.sql, { id, phase });
  await intoTeam(env.db.sql, TEAM_ALPHA, id);
  return id;
};

beforeAll(async () => {
  env = await startHandoffEnvironment();
  await seedPeople(env.db.sql);
  await useOnlyAgents(env.db.sql, [{ code: 'QUICK', target: `${env.agents.url}/agents/quick?score=97` }]);
  consumer = await startConsumer({ dbUrl: env.db.url, functionsUrl: env.fns.functionsUrl, serviceRoleKey: env.fns.serviceRoleKey, log: () => {}, pollMs: 200 });
});
afterAll(async () => {
  await consumer?.stop();
  await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
  await env?.stop();
});

// LEAD-TO-PLAN is the LEAD's; PLAN is a member with the wrong role.
const MATRIX: { who: Who; status: number; code?: string }[] = [
  { who: 'anon', status: 403, code: 'FORBIDDEN' },
  { who: 'nobody', status: 403, code: 'NOT_A_MEMBER' },
  { who: 'outsider', status: 403, code: 'NOT_A_MEMBER' },
  { who: 'viewer', status: 403, code: 'ROLE_NOT_ALLOWED' },
  { who: 'plan', status: 403, code: 'ROLE_NOT_ALLOWED' },
  { who: 'lead', status: 200 },
  { who: 'service_role', status: 200 },
];

describe('POST /functions/v1/handoff under the caller\'s identity', () => {
  for (const { who, status, code } of MATRIX) {
    it(`${who}: ${status}${code ? ` ${code}, nothing written` : ' accepted, recorded as the caller via http'}`, async () => {
      const sd = await newSd();
      const before = await everyRow(env.db.sql);
      const answer = await post(who, { sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: `s-${who}` });
      // A user-less token may be refused before SQL by the token check (401, shared/jwt.ts requires
      // sub for a user); either way it is refused and nothing is written.
      if (who === 'nobody' && answer.status === 401) expect(answer.body.error.code).toBe('UNAUTHORIZED');
      else expect({ status: answer.status, code: answer.body.error?.code }).toEqual({ status, code });
      if (code) {
        expect(await everyRow(env.db.sql)).toBe(before);
        return;
      }
      expect(answer.body.verdict).toBe('accepted');
      const [audit] = await env.db.sql`select actor_id, actor_role, actor_via from sd_transition_audit where attempt_id = ${answer.body.attempt_id}`;
      expect(audit).toEqual(who === 'lead'
        ? { actor_id: USERS.lead, actor_role: 'authenticated', actor_via: 'http' }
        : { actor_id: null, actor_role: 'service_role', actor_via: 'http' });
    });
  }

  it('a second user naming the holder\'s session id does not ride on the claim, nor learns it from the refusal', async () => {
    // the LEAD holds the directive in PLAN under a session of their own (an accepted LEAD-TO-PLAN
    // would have handed the claim on: a LEAD may request nothing from PLAN)
    const sd = await newSd('PLAN');
    const lead = asUser(env.db.url, 'lead');
    try {
      await lead`select fn_claim_sd(${sd}, 'lead-only-session')`;
    } finally {
      await lead.end({ timeout: 1 });
    }
    const other = await post('plan', { sd_id: sd, handoff_type: 'PLAN-TO-EXEC', session_id: 'plan-session' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('CLAIMED_BY_OTHER_SESSION');
    expect(JSON.stringify(other.body)).not.toContain('lead-only-session');
    const ride = await post('plan', { sd_id: sd, handoff_type: 'PLAN-TO-EXEC', session_id: 'lead-only-session' });
    expect({ status: ride.status, code: ride.body.error?.code }).toEqual({ status: 409, code: 'CLAIMED_BY_OTHER_SESSION' });
    const [row] = await env.db.sql`select current_phase from strategic_directives_v2 where id = ${sd}`;
    expect(row!.current_phase).toBe('PLAN');
  });

  it('only the service role may run a request on behalf of a handoff_requests row', async () => {
    const sd = await newSd();
    const [req] = await env.db.sql`insert into handoff_requests (sd_id, handoff_type, session_id, max_attempts) values (${sd}, 'PLAN-TO-LEAD', 'x', 1) returning id`;
    const spoof = await post('lead', { sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: 's' }, { 'x-stagegate-handoff-request': req!.id });
    expect({ status: spoof.status, code: spoof.body.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
  });
});

describe('GET /functions/v1/handoff/attempts/<id> answers 404 to whoever may not read the attempt', () => {
  it('members and the service role read it; a non-member and a user-less token get 404; anon 403', async () => {
    const sd = await newSd();
    const run = await post('lead', { sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: 'status' });
    const id = run.body.attempt_id as string;
    for (const who of ['lead', 'viewer', 'exec', 'service_role'] as const) {
      const answer = await attemptStatus(who, id);
      expect({ who, status: answer.status, id: answer.body.id }).toEqual({ who, status: 200, id });
    }
    for (const who of ['outsider', 'nobody'] as const) {
      const answer = await attemptStatus(who, id);
      if (who === 'nobody' && answer.status === 401) continue; // refused by the token check first
      expect({ who, status: answer.status, code: answer.body.error?.code }).toEqual({ who, status: 404, code: 'ATTEMPT_NOT_FOUND' });
    }
    expect((await attemptStatus('anon', id)).status).toBe(403);
  });
});

describe('a handoff_requests row runs as whoever inserted it', () => {
  const insertAs = async (who: UserName | 'service_role' | 'postgres', sd: string) => {
    const client = who === 'postgres' ? env.db.sql : who === 'service_role' ? connectAs(env.db.url, 'service_role') : asUser(env.db.url, who);
    if (client !== env.db.sql) clients.push(client);
    const [row] = await client`insert into handoff_requests (sd_id, handoff_type, session_id) values (${sd}, 'LEAD-TO-PLAN', ${`row-${who}`}) returning id`;
    return row!.id as string;
  };
  const finished = async (id: string) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const [row] = await env.db.sql`select * from handoff_requests where id = ${id}`;
      if (row && ['done', 'error'].includes(row.status)) return row;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`request ${id} did not finish`);
  };
  const ROWS: { who: UserName | 'service_role' | 'postgres'; status: 'done' | 'error'; code?: string; actor?: Record<string, unknown> }[] = [
    { who: 'outsider', status: 'error', code: 'NOT_A_MEMBER' },
    { who: 'viewer', status: 'error', code: 'ROLE_NOT_ALLOWED' },
    { who: 'plan', status: 'error', code: 'ROLE_NOT_ALLOWED' },
    { who: 'lead', status: 'done', actor: { actor_id: USERS.lead, actor_role: 'authenticated', actor_via: 'trigger' } },
    { who: 'service_role', status: 'done', actor: { actor_id: null, actor_role: 'service_role', actor_via: 'trigger' } },
    { who: 'postgres', status: 'done', actor: { actor_id: null, actor_role: 'service_role', actor_via: 'trigger' } },
  ];
  for (const { who, status, code, actor } of ROWS) {
    it(`inserted by ${who}: ${status}${code ? ` ${code}` : ''}`, async () => {
      const sd = await newSd();
      const id = await insertAs(who, sd);
      const row = await finished(id);
      expect({ status: row.status, code: row.error?.code ?? undefined, http: row.error?.http_status ?? undefined })
        .toEqual({ status, code, http: code ? 403 : undefined });
      const [sdRow] = await env.db.sql`select current_phase from strategic_directives_v2 where id = ${sd}`;
      expect(sdRow!.current_phase).toBe(code ? 'LEAD' : 'PLAN');
      if (actor) {
        const [audit] = await env.db.sql`select actor_id, actor_role, actor_via from sd_transition_audit where attempt_id = ${row.verdict.attempt_id}`;
        expect(audit).toEqual(actor);
      } else {
        expect(await env.db.sql`select 1 from handoff_attempts where sd_id = ${sd}`).toEqual([]);
      }
    });
  }
  it('anon cannot insert one', async () => {
    const anon = connectAs(env.db.url, 'anon');
    clients.push(anon);
    await expect(anon`insert into handoff_requests (sd_id, handoff_type, session_id) values ('SD-X', 'LEAD-TO-PLAN', 'a')`).rejects.toMatchObject({ code: '42501' });
  });
});
