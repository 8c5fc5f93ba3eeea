// The scheduled sweeps (supabase/schemas/12_sweeps.sql), one rule per test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';

let db: FreshDatabase;
let n = 0;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const sweep = async (fn: string) => (await db.sql.unsafe(`select public.${fn} as r`))[0]!.r;
const newSd = async (phase = 'EXEC') => {
  const id = `SD-SWEEP-${++n}`;
  await seedDirective(db.sql, { id, phase });
  return id;
};
const begin = async (sd: string, rid: string) =>
  (await db.sql`select public.fn_begin_handoff(${sd}, 'EXEC-TO-PLAN', 's-sweep', ${rid}) as r`)[0]!.r;

describe('fn_sweep_expired_claims', () => {
  it('deletes lapsed claims and keeps live ones', async () => {
    const [old, live] = [await newSd(), await newSd()];
    await db.sql`insert into public.sd_claims (sd_id, session_id, expires_at) values
      (${old}, 'gone', now() - interval '1 second'), (${live}, 'here', now() + interval '10 minutes')`;
    expect(await sweep('fn_sweep_expired_claims()')).toEqual({ expired_claims: 1 });
    const left = await db.sql`select sd_id from public.sd_claims where sd_id in (${old}, ${live})`;
    expect(left.map((r) => r.sd_id)).toEqual([live]);
  });
});

describe('fn_sweep_stuck_attempts', () => {
  it('abandons an old in-progress attempt with exactly one abandoned audit row carrying the Spartan error log', async () => {
    const sd = await newSd();
    const fresh = await newSd();
    const stuck = await begin(sd, 'stuck-1');
    const recent = await begin(fresh, 'recent-1');
    await db.sql`update public.handoff_attempts set started_at = now() - interval '20 minutes' where id = ${stuck.attempt_id}`;

    const r = await sweep('fn_sweep_stuck_attempts()');
    expect(r).toMatchObject({ abandoned_attempts: 1, older_than: '00:15:00' });

    const [attempt] = await db.sql`select status, finished_at, result, audit_id from public.handoff_attempts where id = ${stuck.attempt_id}`;
    expect(attempt).toMatchObject({ status: 'abandoned', result: { verdict: 'failed', abandoned: true, from_phase: 'EXEC', to_phase: 'EXEC' } });
    const audits = await db.sql`select * from public.sd_transition_audit where attempt_id = ${stuck.attempt_id}`;
    expect(audits).toHaveLength(1);
    const audit = audits[0]!;
    expect(audit.id).toBe(attempt!.audit_id);
    expect(audit.status).toBe('abandoned');
    expect(audit.pre_state).toEqual(audit.post_state);
    expect(audit.pre_state).toMatchObject({ sd_phase: 'EXEC', transition_version: 0 });
    expect(audit.error_details).toMatchObject({
      error_code: 'ABANDONED', failed_step: '2. Run gates',
      partial_state: { state_changed: false, rolled_back: false },
      pre_state: { sd_phase: 'EXEC' },
    });
    expect(audit.error_details.recovery_action).toContain(`${sd} is still in EXEC`);
    expect(audit.error_message).toMatch(/closed by the stuck-attempt sweep/);
    // the recent attempt is untouched, and nothing moved
    const [other] = await db.sql`select status from public.handoff_attempts where id = ${recent.attempt_id}`;
    expect(other!.status).toBe('in_progress');
    const [dir] = await db.sql`select current_phase, transition_version from public.strategic_directives_v2 where id = ${sd}`;
    expect(dir).toEqual({ current_phase: 'EXEC', transition_version: 0 });
  });

  it('is idempotent; a late complete gets the abandoned answer, a retried begin runs anew (no verdict was given)', async () => {
    const sd = await newSd();
    const a = await begin(sd, 'stuck-2');
    await db.sql`update public.handoff_attempts set started_at = now() - interval '1 hour' where id = ${a.attempt_id}`;
    await sweep('fn_sweep_stuck_attempts()');
    expect(await sweep('fn_sweep_stuck_attempts()')).toMatchObject({ abandoned_attempts: 0 });
    const [late] = await db.sql`select public.fn_complete_handoff(${a.attempt_id}) as r`;
    expect(late!.r).toMatchObject({ verdict: 'failed', replay: true, abandoned: true });
    const again = await begin(sd, 'stuck-2');
    expect(again).toMatchObject({ status: 'in_progress', replay: false, result: null });
    expect(again.attempt_id).not.toBe(a.attempt_id);
    const [old] = await db.sql`select status, superseded_at is not null as superseded from public.handoff_attempts where id = ${a.attempt_id}`;
    expect(old).toEqual({ status: 'abandoned', superseded: true });
    const [c] = await db.sql`select count(*)::int as n from public.sd_transition_audit where attempt_id = ${a.attempt_id}`;
    expect(c!.n).toBe(1);
  });

  it('names the complete step when no gate result is missing, and honours p_older_than', async () => {
    const sd = await newSd();
    await useOnlyAgents(db.sql, []);
    const a = await begin(sd, 'stuck-3');
    expect(a.gates).toEqual([]);
    await db.sql`update public.handoff_attempts set started_at = now() - interval '3 minutes' where id = ${a.attempt_id}`;
    expect(await sweep(`fn_sweep_stuck_attempts('5 minutes')`)).toMatchObject({ abandoned_attempts: 0 });
    expect(await sweep(`fn_sweep_stuck_attempts('2 minutes')`)).toMatchObject({ abandoned_attempts: 1 });
    const [audit] = await db.sql`select error_details from public.sd_transition_audit where attempt_id = ${a.attempt_id}`;
    expect(audit!.error_details).toMatchObject({ failed_step: '3. Complete', partial_state: { gate_results_recorded: 0, gates_to_run: 0 } });
    await db.sql`update public.leo_sub_agents set active = true`;
    await expect(db.sql`select public.fn_sweep_stuck_attempts('0 seconds')`).rejects.toThrow(/INVALID_INPUT/);
  });

  it('skips an attempt that a complete holds locked right now', async () => {
    const sd = await newSd();
    const a = await begin(sd, 'stuck-4');
    await db.sql`update public.handoff_attempts set started_at = now() - interval '1 hour' where id = ${a.attempt_id}`;
    let release: () => void = () => {};
    const held = new Promise<void>((r) => { release = r; });
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((r) => { locked = r; });
    const tx = db.sql.begin(async (t) => {
      await t`select 1 from public.handoff_attempts where id = ${a.attempt_id} for update`;
      locked();
      await held;
    });
    await isLocked;
    expect(await sweep('fn_sweep_stuck_attempts()')).toMatchObject({ abandoned_attempts: 0 });
    release();
    await tx;
    expect(await sweep('fn_sweep_stuck_attempts()')).toMatchObject({ abandoned_attempts: 1 });
  });
});

describe('fn_sweep_idempotency', () => {
  it('purges HTTP keys past 24 h and webhook ids past their window, keeping recent ones', async () => {
    const fp = 'a'.repeat(64);
    await db.sql`select public.fn_idempotency_begin('handoff:test', 'old-key', ${fp})`;
    await db.sql`select public.fn_idempotency_complete('handoff:test', 'old-key', ${fp}, 200, '{}'::jsonb)`;
    await db.sql`select public.fn_idempotency_begin('handoff:test', 'new-key', ${fp})`;
    await db.sql`update public.http_idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-key'`;
    await db.sql`insert into public.ops_webhook_ids (id, webhook_ts) values ('msg_old', now() - interval '2 days'), ('msg_new', now())`;
    expect(await sweep('fn_sweep_idempotency()')).toEqual({ http_idempotency_keys: 1, webhook_ids: 1, handoff_request_events: 0 });
    expect((await db.sql`select key from public.http_idempotency_keys where scope = 'handoff:test'`).map((r) => r.key)).toEqual(['new-key']);
    expect((await db.sql`select id from public.ops_webhook_ids`).map((r) => r.id)).toEqual(['msg_new']);
  });
});

describe('fn_sweep_breakers', () => {
  it('moves open breakers past their reset timeout to half-open', async () => {
    await db.sql`insert into public.sub_agent_breakers (sub_agent_code, state, opened_at, reset_ms)
      select code, 'open', now() - interval '2 minutes', 60000 from public.leo_sub_agents order by code limit 1`;
    expect(await sweep('fn_sweep_breakers()')).toEqual({ breakers_half_opened: 1 });
    expect(await sweep('fn_sweep_breakers()')).toEqual({ breakers_half_opened: 0 });
  });
});

describe('sweep_schedule, fn_run_sweep(s) and pg_cron', () => {
  it('runs every enabled sweep and records each run on its row', async () => {
    const r = await sweep('fn_run_sweeps()');
    expect(Object.keys(r).sort()).toEqual(['approval_events', 'approval_expiry', 'approval_webhooks', 'breakers', 'expired_claims', 'handoff_responses', 'idempotency', 'metric_days', 'partitions', 'retention', 'stuck_attempts', 'transition_notifications']);
    for (const v of Object.values(r) as { ok: boolean }[]) expect(v.ok).toBe(true);
    expect(r.handoff_responses.result).toEqual({ pg_net: false });
    const rows = await db.sql`select name from public.sweep_schedule where last_run_at is null or last_error is not null`;
    expect(rows).toEqual([]);
  });

  it('records a failing sweep instead of raising, and refuses an unknown name or a foreign function', async () => {
    const { sql } = db;
    await sql`insert into public.sweep_schedule (name, sql_function, interval) values ('broken', 'public.fn_sweep_no_such_thing', '1 minute')`;
    const [r] = await sql`select public.fn_run_sweep('broken') as r`;
    expect(r!.r).toMatchObject({ ok: false, result: null });
    expect(r!.r.error).toMatch(/^42883: function public.fn_sweep_no_such_thing\(\) does not exist/);
    const [row] = await sql`select last_error from public.sweep_schedule where name = 'broken'`;
    expect(row!.last_error).toMatch(/does not exist/);
    await sql`delete from public.sweep_schedule where name = 'broken'`;
    await expect(sql`select public.fn_run_sweep('nope')`).rejects.toThrow(/INVALID_INPUT: no sweep 'nope'/);
    await expect(sql`insert into public.sweep_schedule (name, sql_function, interval) values ('evil', 'pg_catalog.pg_terminate_backend', '1 minute')`).rejects.toThrow(/check constraint/);
    await expect(sql`insert into public.sweep_schedule (name, sql_function, interval) values ('odd', 'public.fn_sweep_breakers', '90 seconds')`).rejects.toThrow(/check constraint/);
  });

  it('turns intervals into pg_cron schedules', async () => {
    const rows = await db.sql`select x, public.fn_sweep_cron_schedule(x::interval) as s
      from unnest(array['10 seconds', '1 minute', '5 minutes', '1 hour', '6 hours', '1 day', '90 seconds', '1.5 seconds']) x`;
    expect(Object.fromEntries(rows.map((r) => [r.x, r.s]))).toEqual({
      '10 seconds': '10 seconds', '1 minute': '* * * * *', '5 minutes': '*/5 * * * *', '1 hour': '0 * * * *',
      '6 hours': '0 */6 * * *', '1 day': '0 0 * * *', '90 seconds': null, '1.5 seconds': null,
    });
  });

  it('without a usable pg_cron schedules nothing and says the stack runs the sweeps; the jobs are named per sweep', async () => {
    const { sql } = db;
    expect((await sql`select public.fn_schedule_sweeps() as r`)[0]!.r).toEqual({
      pg_cron: false, scheduler: 'stack', jobs: {}, reason: 'pg_cron is not installed on this server',
    });
    expect((await sql`select public.fn_sweep_scheduler() as r`)[0]!.r).toMatchObject({
      scheduler: 'stack', pg_cron_jobs: 0, reason: 'pg_cron is not installed on this server',
      pg_cron: { installed: false, available: false, preloaded: false, usable: false, version: null },
    });
    // The parts of pg_cron's API the jobs use, so the hosted path's job list runs here too (a
    // real pg_cron, Debian's 1.4.2, is in tests/e2e/existing-postgres.test.ts).
    await sql.unsafe(`
      create schema cron;
      create table cron.job (jobid bigserial primary key, jobname text unique, schedule text, command text);
      create function cron.schedule(job_name text, schedule text, command text) returns bigint language sql as $$
        insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
        on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command returning jobid $$;
      create function cron.unschedule(job_id bigint) returns boolean language sql as $$
        delete from cron.job where jobid = job_id returning true $$;`);
    const [r] = await sql`select public.fn_pg_cron_schedule_jobs() as r`;
    expect(r!.r).toEqual({
      approval_events: '1 seconds', approval_expiry: '* * * * *', approval_webhooks: '5 seconds',
      breakers: '30 seconds', expired_claims: '* * * * *', handoff_responses: '10 seconds', idempotency: '0 * * * *', metric_days: '0 * * * *', partitions: '0 0 * * *', retention: '* * * * *', stuck_attempts: '*/5 * * * *',
      transition_notifications: '1 seconds',
    });
    const jobs = await sql`select jobname, command from cron.job order by jobname`;
    expect(jobs.map((j) => j.jobname)).toEqual(['stagegate_approval_events', 'stagegate_approval_expiry', 'stagegate_approval_webhooks', 'stagegate_breakers', 'stagegate_expired_claims', 'stagegate_handoff_responses', 'stagegate_idempotency', 'stagegate_metric_days', 'stagegate_partitions', 'stagegate_retention', 'stagegate_stuck_attempts', 'stagegate_transition_notifications']);
    const claims = jobs.find((j) => j.jobname === 'stagegate_expired_claims')!;
    expect(claims.command).toBe(`select public.fn_run_sweep('expired_claims')`);
    const [ran] = await sql.unsafe(`${claims.command} as r`);
    expect(ran!.r).toMatchObject({ name: 'expired_claims', ok: true });

    await sql`update public.sweep_schedule set enabled = false where name = 'breakers'`;
    await sql`update public.sweep_schedule set interval = '10 minutes' where name = 'stuck_attempts'`;
    await sql`select public.fn_pg_cron_schedule_jobs()`;
    const after = await sql`select jobname, schedule from cron.job order by jobname`;
    expect(after.map((j) => j.jobname)).not.toContain('stagegate_breakers');
    expect(after.find((j) => j.jobname === 'stagegate_stuck_attempts')!.schedule).toBe('*/10 * * * *');
    await sql`update public.sweep_schedule set enabled = true, interval = '5 minutes' where name in ('breakers', 'stuck_attempts')`;
    // A cron schema without a usable pg_cron extension (here: none at all): the sweeps go back to
    // the stack's scheduler and no stagegate_ job is left behind to run them twice.
    await sql`insert into cron.job (jobname, schedule, command) values ('someone_elses', '* * * * *', 'select 1')`;
    expect((await sql`select public.fn_schedule_sweeps() as r`)[0]!.r).toMatchObject({ pg_cron: false, scheduler: 'stack' });
    expect((await sql`select jobname from cron.job`).map((j) => j.jobname)).toEqual(['someone_elses']);
    await sql`drop schema cron cascade`;
  });

  it('is for service_role only', async () => {
    const anon = connectAs(db.url, 'anon');
    const service = connectAs(db.url, 'service_role');
    try {
      await expect(anon`select public.fn_run_sweeps()`).rejects.toThrow(/permission denied/);
      await expect(anon`select * from public.sweep_schedule`).rejects.toThrow(/permission denied/);
      const [r] = await service`select public.fn_run_sweep('expired_claims') as r`;
      expect(r!.r.ok).toBe(true);
    } finally {
      await anon.end();
      await service.end();
    }
  });
});
