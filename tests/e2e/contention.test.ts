// deno-lint-ignore-file no-explicit-any -- JSON answers from HTTP are inspected loosely here
// 64 concurrent handoff requests for ONE directive over HTTP, in the mixes a real fleet of clients
// produces: retries of the same body (derived request id), distinct Idempotency-Keys, forced fresh
// attempts (skip_idempotency) and intruding sessions. Exactly one transition must come out of it;
// every other request is refused with a stable code or replays the winner. Latencies are written to
// bench/results/contention.json for the benchmark report — never asserted here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, writeResult } from '../../bench/env.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, type HandoffEnvironment } from '../helpers/functions.ts';
let env: HandoffEnvironment;
let db: HandoffEnvironment['db'];
let fns: HandoffEnvironment['fns'];
let agents: HandoffEnvironment['agents'];

beforeAll(async () => {
  env = await startHandoffEnvironment({ STAGEGATE_DB_POOL: '20' });
  ({ db, fns, agents } = env);
});
afterAll(async () => {
  await env?.stop();
});

interface Answer { kind: string; status: number; ms: number; body: Record<string, any>; replayed: boolean }

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Answer & { raw: unknown }> {
  const t0 = performance.now();
  const response = await fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = await response.json() as Record<string, any>;
  return { kind: '', status: response.status, ms: performance.now() - t0, body: json, raw: json, replayed: response.headers.get('idempotent-replayed') === 'true' };
}

const ALLOWED_REFUSALS = ['SD_BUSY', 'ALREADY_TRANSITIONED', 'WRONG_PHASE', 'CLAIMED_BY_OTHER_SESSION', 'IDEMPOTENCY_IN_FLIGHT'];

describe('64 concurrent requests for one directive', () => {
  it('makes exactly one transition; every other answer is a stable refusal or a replay of it', async () => {
    await useOnlyAgents(db.sql, [{ code: 'CONTENDED', target: `${agents.url}/agents/contended?delay=50&score=95` }]);
    // Baseline in the same run: one uncontended handoff (after a warm-up), for the report's ratio.
    await seedDirective(db.sql, { id: 'SD-CONT-WARM', phase: 'EXEC' });
    await seedDirective(db.sql, { id: 'SD-CONT-SOLO', phase: 'EXEC' });
    await post({ sd_id: 'SD-CONT-WARM', handoff_type: 'EXEC-TO-PLAN', session_id: 'solo' });
    const solo = await post({ sd_id: 'SD-CONT-SOLO', handoff_type: 'EXEC-TO-PLAN', session_id: 'solo' });
    expect(solo.body.verdict).toBe('accepted');

    const sd = 'SD-CONT-1';
    await seedDirective(db.sql, { id: sd, phase: 'EXEC' });
    const body = { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'fleet' };
    const plan: { kind: string; send: () => ReturnType<typeof post> }[] = [];
    for (let i = 0; i < 64; i++) {
      const lane = i % 8;
      if (lane < 3) plan.push({ kind: 'same-body', send: () => post(body) });
      else if (lane < 6) plan.push({ kind: 'idempotency-key', send: () => post(body, { 'idempotency-key': `contention-${i}` }) });
      else if (lane === 6) plan.push({ kind: 'skip-idempotency', send: () => post({ ...body, skip_idempotency: true }) });
      else plan.push({ kind: 'other-session', send: () => post({ ...body, session_id: `intruder-${i}` }) });
    }
    const answers = await Promise.all(plan.map(async (p) => ({ ...(await p.send()), kind: p.kind })));

    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const accepted = answers.filter((a) => a.status === 200 && a.body.verdict === 'accepted');
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    // Every 200 is the one transition (first answer or a replay of it): one audit id among them.
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.every((a) => a.body.verdict === 'accepted')).toBe(true);
    expect(new Set(ok.map((a) => a.body.audit_id))).toEqual(new Set([accepted[0]!.body.audit_id]));
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(409);
      expect(ALLOWED_REFUSALS).toContain(a.body.error.code);
    }
    // An intruding session never wins while the fleet's session holds the claim, and vice versa.
    const winners = new Set(ok.map((a) => a.kind === 'other-session' ? 'other' : 'fleet'));
    expect(winners.size).toBe(1);

    const c = await counts(db.sql, sd);
    expect(c).toMatchObject({ completed: 1, handoffs: 1, phase: 'EXEC_COMPLETE', version: 1 });
    // One terminal audit row per terminal attempt. An attempt stays open only when complete refused
    // it by raising (SD_BUSY, ALREADY_TRANSITIONED: rolled back, nothing written); the stuck-attempt
    // sweep ends those.
    const [attempts] = await db.sql<{ open: number; terminal: number; audits: number }[]>`
      select count(*) filter (where status = 'in_progress')::int as open,
             count(*) filter (where status <> 'in_progress')::int as terminal,
             (select count(*)::int from public.sd_transition_audit where sd_id = ${sd}) as audits
      from public.handoff_attempts where sd_id = ${sd}`;
    expect(attempts!.open).toBeLessThanOrEqual(answers.filter((a) => ['SD_BUSY', 'ALREADY_TRANSITIONED'].includes(a.body.error?.code)).length);
    expect(attempts!.audits).toBe(attempts!.terminal);

    const byCode: Record<string, number> = {};
    for (const a of answers) {
      const key = a.status === 200 ? (a.body.replay || a.replayed ? 'replay' : 'accepted') : String(a.body.error.code);
      byCode[key] = (byCode[key] ?? 0) + 1;
    }
    const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
    const all = sorted(answers.map((a) => a.ms));
    const refused = sorted(answers.filter((a) => a.status !== 200).map((a) => a.ms));
    const round = (x: number) => Math.round(x * 10) / 10;
    // Recorded for the report only when `npm run bench` runs this file (a plain test run leaves
    // the committed numbers alone).
    if (process.env.STAGEGATE_BENCH_RECORD) writeResult('contention', {
      measured_at: new Date().toISOString(),
      requests: answers.length,
      answers: byCode,
      by_kind: Object.fromEntries(['same-body', 'idempotency-key', 'skip-idempotency', 'other-session'].map((k) => [k, answers.filter((a) => a.kind === k).length])),
      latency_ms: { p50: round(percentile(all, 50)), p99: round(percentile(all, 99)), max: round(all.at(-1) ?? NaN) },
      refused_latency_ms: { p50: round(percentile(refused, 50)), p99: round(percentile(refused, 99)) },
      baseline_uncontended_ms: round(solo.ms),
      five_xx: answers.filter((a) => a.status >= 500).length,
    });
  });

  it('leaves no invariant violated', async () => {
    expect(await db.sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
  });
});
