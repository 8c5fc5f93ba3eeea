import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { HealthResponseSchema } from '../../shared/openapi.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { startTestFunctions, TEST_JWT_SECRET, type TestFunctions } from '../helpers/functions.ts';

describe('health function', () => {
  let db: FreshDatabase;
  let fns: TestFunctions;
  beforeAll(async () => {
    db = await freshDatabase();
    fns = await startTestFunctions(db.url);
  });
  afterAll(async () => {
    await fns?.stop();
    await db?.drop();
  });

  it('reports the database, the latest migration and a passing pre-flight probe through supabase.functions.invoke', async () => {
    const { data, error } = await fns.client(fns.serviceRoleKey).functions.invoke('health', { method: 'GET' });
    expect(error).toBeNull();
    expect(data.status).toBe('ok');
    expect(data.database.reachable).toBe(true);
    expect(data.migration.version).toMatch(/^\d{14}$/);
    expect(data.preflight).toMatchObject({ ok: true, missing: [] });
    // Who runs the sweeps: no pg_cron on the embedded server, so the stack's scheduler.
    expect(data.sweeps).toMatchObject({ scheduler: 'stack', pg_cron_jobs: 0, reason: 'pg_cron is not installed on this server', pg_cron: { installed: false, usable: false } });
    expect(HealthResponseSchema.safeParse(data).success).toBe(true);
  });

  it('names a missing RPC and answers 503 when the probe fails', async () => {
    await db.sql`alter function public.fn_complete_handoff(uuid, integer) rename to fn_complete_handoff_gone`;
    try {
      const response = await fetch(`${fns.functionsUrl}/health`, { headers: { authorization: `Bearer ${fns.serviceRoleKey}` } });
      expect(response.status).toBe(503);
      const body = await response.json();
      expect(body.preflight.missing).toEqual(['public.fn_complete_handoff(p_attempt_id uuid, p_expected_version integer)']);
    } finally {
      await db.sql`alter function public.fn_complete_handoff_gone(uuid, integer) rename to fn_complete_handoff`;
    }
  });

  it('refuses a request without a valid JWT where verify_jwt is on', async () => {
    const none = await fetch(`${fns.functionsUrl}/health`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('UNAUTHORIZED');

    const forged = await signJwt({ role: 'service_role', exp: 2_000_000_000 }, 'another-secret-that-is-32-characters-long!');
    const bad = await fetch(`${fns.functionsUrl}/health`, { headers: { authorization: `Bearer ${forged}` } });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error.message).toMatch(/invalid signature/);

    const expired = await signJwt({ role: 'service_role', exp: 1_000 }, TEST_JWT_SECRET);
    const old = await fetch(`${fns.functionsUrl}/health`, { headers: { authorization: `Bearer ${expired}` } });
    expect(old.status).toBe(401);
    expect((await old.json()).error.message).toMatch(/expired/);

    const { error } = await fns.client('not-a-jwt').functions.invoke('health', { method: 'GET' });
    expect(error?.context?.status).toBe(401);
  });

  it('answers 404 with the error envelope for an unknown function', async () => {
    const response = await fetch(`${fns.functionsUrl}/nope`, { headers: { authorization: `Bearer ${fns.serviceRoleKey}` } });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('FUNCTION_NOT_FOUND');
  });
});
