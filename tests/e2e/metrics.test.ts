// GET /functions/v1/metrics through the real Deno runtime after real handoffs over HTTP: the
// output parses, carries every family with the right values, and passes `promtool check
// metrics` (CI installs promtool; scripts/check-prometheus.sh runs the same check on the file
// this test writes to .stagegate/metrics-sample.prom).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { parseMetrics, sampleValue, type ParsedFamily } from '../../shared/prometheus.ts';
import { projectRoot } from '../../stack/db.ts';
import type { AgentServer } from '../../stack/agent-server.ts';
import type { FreshDatabase } from '../helpers/db.ts';
import { seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, startTestFunctions, TEST_JWT_SECRET, type HandoffEnvironment, type TestFunctions } from '../helpers/functions.ts';

const SAMPLE_PATH = path.join(projectRoot, '.stagegate', 'metrics-sample.prom');

let env: HandoffEnvironment;
let db: FreshDatabase;
let fns: TestFunctions;
let agents: AgentServer;

async function scrape(key: string | null, headers: Record<string, string> = {}, base = fns.functionsUrl) {
  const response = await fetch(`${base}/metrics`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function handoff(sdId: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ sd_id: sdId, handoff_type: 'EXEC-TO-PLAN', session_id: 'metrics' }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { verdict: string };
}

function promtool(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

beforeAll(async () => {
  env = await startHandoffEnvironment();
  ({ db, fns, agents } = env);
});
afterAll(async () => { await env?.stop(); });

describe('metrics function', () => {
  let families: ParsedFamily[];
  let text: string;
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels);

  beforeAll(async () => {
    // Accepted: one good agent. Rejected: a required agent that answers garbage (invalid_result).
    await useOnlyAgents(db.sql, [{ code: 'GOOD', target: `${agents.url}/agents/good?delay=20&score=95` }]);
    await seedDirective(db.sql, { id: 'SD-MET-1', phase: 'EXEC' });
    expect((await handoff('SD-MET-1', { 'idempotency-key': 'met-1' })).verdict).toBe('accepted');
    // The same Idempotency-Key again: a replay, counted as an HTTP idempotent hit.
    expect((await handoff('SD-MET-1', { 'idempotency-key': 'met-1' })).verdict).toBe('accepted');
    await useOnlyAgents(db.sql, [
      { code: 'GOOD', target: `${agents.url}/agents/good?delay=20&score=95` },
      { code: 'GARBAGE', target: `${agents.url}/agents/garbage?mode=garbage` },
    ]);
    await seedDirective(db.sql, { id: 'SD-MET-2', phase: 'EXEC' });
    expect((await handoff('SD-MET-2')).verdict).toBe('rejected');

    const r = await scrape(fns.serviceRoleKey, { 'x-request-id': 'scrape-e2e-1' });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    text = r.text;
    fs.mkdirSync(path.dirname(SAMPLE_PATH), { recursive: true });
    fs.writeFileSync(SAMPLE_PATH, text);
    families = parseMetrics(text);
  });

  it('exposes every family with HELP and TYPE', () => {
    const byName = Object.fromEntries(families.map((f) => [f.name, f.type]));
    expect(byName).toMatchObject({
      stagegate_database_up: 'gauge', stagegate_handoffs_total: 'counter', stagegate_handoff_duration_seconds: 'histogram',
      stagegate_gate_duration_seconds: 'histogram', stagegate_breaker_state: 'gauge', stagegate_idempotent_hits_total: 'counter',
      stagegate_validation_mode: 'gauge', stagegate_unknown_inputs_total: 'counter', stagegate_unknown_input_ratio: 'gauge',
      stagegate_would_reject_ratio: 'gauge', stagegate_transition_failure_ratio: 'gauge', stagegate_transitions_total: 'counter',
      stagegate_gate_validation_failures_total: 'counter', stagegate_mode_store_fetch_errors_total: 'counter',
      stagegate_mode_store_up: 'gauge', stagegate_normalizer_duration_seconds: 'histogram',
    });
    for (const f of families) expect({ name: f.name, help: f.help.length > 10 }).toEqual({ name: f.name, help: true });
  });

  it('counts the handoffs by type and verdict, and the transitions', () => {
    expect(v('stagegate_database_up')).toBe(1);
    expect(v('stagegate_handoffs_total', { handoff_type: 'EXEC-TO-PLAN', verdict: 'accepted' })).toBe(1);
    expect(v('stagegate_handoffs_total', { handoff_type: 'EXEC-TO-PLAN', verdict: 'rejected' })).toBe(1);
    expect(v('stagegate_handoffs_total', { handoff_type: 'EXEC-TO-PLAN', verdict: 'failed' })).toBe(0);
    expect(v('stagegate_transitions_total', { status: 'completed' })).toBe(1);
    expect(v('stagegate_transitions_total', { status: 'failed' })).toBe(0);
    expect(v('stagegate_transition_failure_ratio', { window: '1h' })).toBe(0);
    expect(v('stagegate_handoff_attempts_total')).toBe(2);
  });

  it('derives the duration histograms from the database', () => {
    expect(v('stagegate_handoff_duration_seconds_count', { handoff_type: 'EXEC-TO-PLAN' })).toBe(2);
    expect(v('stagegate_handoff_duration_seconds_bucket', { handoff_type: 'EXEC-TO-PLAN', le: '+Inf' })).toBe(2);
    expect(v('stagegate_handoff_duration_seconds_sum', { handoff_type: 'EXEC-TO-PLAN' })).toBeGreaterThan(0.02);
    // GOOD ran twice (once per handoff) for at least its 20 ms delay.
    expect(v('stagegate_gate_duration_seconds_count', { sub_agent: 'GOOD' })).toBe(2);
    expect(v('stagegate_gate_duration_seconds_bucket', { sub_agent: 'GOOD', le: '0.01' })).toBe(0);
    expect(v('stagegate_gate_duration_seconds_sum', { sub_agent: 'GOOD' })).toBeGreaterThanOrEqual(0.04);
  });

  it('counts gate results, validation failures and normalisations per sub-agent', () => {
    expect(v('stagegate_gate_results_total', { sub_agent: 'GOOD', verdict: 'PASS' })).toBe(2);
    expect(v('stagegate_gate_results_total', { sub_agent: 'GARBAGE', verdict: 'ERROR' })).toBe(1);
    expect(v('stagegate_gate_validation_failures_total', { sub_agent: 'GARBAGE' })).toBe(1);
    expect(v('stagegate_gate_validation_failures_total', { sub_agent: 'GOOD' })).toBe(0);
    // The agent answers max_score, which the gate-result schema renames to maxScore.
    expect(v('stagegate_gate_results_normalized_total', { sub_agent: 'GOOD' })).toBe(2);
    expect(v('stagegate_gate_validation_failure_ratio', { window: '1h' })).toBeCloseTo(1 / 3, 10);
  });

  it('reports idempotent hits, breakers, the validation mode and the unknown inputs', () => {
    expect(v('stagegate_idempotent_hits_total', { source: 'http' })).toBe(1);
    expect(v('stagegate_idempotent_hits_total', { source: 'sub_agent_result' })).toBe(0);
    expect(v('stagegate_breaker_state', { sub_agent: 'GOOD', state: 'closed' })).toBe(1);
    expect(v('stagegate_breaker_state', { sub_agent: 'GOOD', state: 'open' })).toBe(0);
    expect(v('stagegate_validation_mode', { scope: '*', mode: 'ENFORCE' })).toBe(1);
    expect(v('stagegate_validation_mode', { scope: '*', mode: 'WARN' })).toBe(0);
    expect(v('stagegate_mode_store_up')).toBe(1);
    expect(v('stagegate_mode_store_fetch_errors_total')).toBe(0);
    expect(v('stagegate_unknown_inputs_total', { kind: 'handoff_type' })).toBe(0);
    expect(v('stagegate_unknown_input_ratio', { window: '1h' })).toBe(0);
    // The garbage gate's zero drags the rejected handoff below its threshold: ENFORCE would refuse it.
    expect(v('stagegate_would_reject_total')).toBe(1);
    expect(v('stagegate_would_reject_ratio', { window: '1h' })).toBe(0.5);
  });

  it('times the normaliser itself, well inside the 1 ms budget', () => {
    const count = v('stagegate_normalizer_duration_seconds_count', { fn: 'normalizeStage' })!;
    expect(count).toBeGreaterThan(30);
    expect(v('stagegate_normalizer_duration_seconds_bucket', { fn: 'normalizeStage', le: '0.001' })! / count).toBeGreaterThan(0.9);
  });

  it('logs one structured line per scrape with the request id', async () => {
    const line = await fns.logLine((l) => l.msg === 'metrics scraped' && l.request_id === 'scrape-e2e-1');
    expect(line).toMatchObject({ level: 'info', request_id: 'scrape-e2e-1', database_up: true, role: 'service_role' });
  });

  it('passes promtool check metrics', (ctx) => {
    const bin = promtool();
    if (!bin) {
      console.warn('[metrics.test] promtool not on PATH: skipping `promtool check metrics` (CI installs it: bash scripts/check-prometheus.sh --install)');
      ctx.skip();
      return;
    }
    const out = execFileSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(out.trim()).toBe('');
  });
});

describe('metrics function access', () => {
  it('answers 401 without a JWT and 403 to the anon key', async () => {
    const none = await scrape(null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe('UNAUTHORIZED');
    const anon = await scrape(fns.anonKey);
    expect(anon.status).toBe(403);
    expect(JSON.parse(anon.text).error.code).toBe('FORBIDDEN');
  });

  it('accepts a scrape-only stagegate_metrics token, refuses other methods', async () => {
    const token = await signJwt({ role: 'stagegate_metrics', iss: 'stagegate', exp: Math.floor(Date.now() / 1000) + 3600 }, TEST_JWT_SECRET);
    const r = await scrape(token);
    expect(r.status).toBe(200);
    expect(sampleValue(parseMetrics(r.text), 'stagegate_database_up')).toBe(1);
    const post = await fetch(`${fns.functionsUrl}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${fns.serviceRoleKey}` } });
    expect(post.status).toBe(405);
  });

  it('still answers when the database does not: database and mode store down, errors counted', async () => {
    const down = await startTestFunctions('postgres://postgres@127.0.0.1:9/stagegate', { STAGEGATE_METRICS_TIMEOUT_MS: '2000' });
    try {
      await scrape(down.serviceRoleKey, {}, down.functionsUrl);
      const r = await scrape(down.serviceRoleKey, {}, down.functionsUrl);
      expect(r.status).toBe(200);
      const f = parseMetrics(r.text);
      expect(sampleValue(f, 'stagegate_database_up')).toBe(0);
      expect(sampleValue(f, 'stagegate_mode_store_up')).toBe(0);
      expect(sampleValue(f, 'stagegate_mode_store_fetch_errors_total')).toBe(2);
      expect(f.map((x) => x.name)).not.toContain('stagegate_handoffs_total');
      expect(sampleValue(f, 'stagegate_normalizer_duration_seconds_count', { fn: 'normalizeStage' })).toBeGreaterThan(0);
    } finally {
      await down.stop();
    }
  });
});
