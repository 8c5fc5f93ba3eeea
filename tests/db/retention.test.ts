// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Issue #18: fn_sweep_retention purges or compacts what is only needed for a while, in batches,
// and keeps the audit trail; the metrics still equal a recount from the rows afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, seedSd } from './_handoff-fixtures.ts';

let db: FreshDatabase;
const OLD = `now() - interval '40 days'`;

async function sweep(): Promise<Record<string, number>> {
  const [row] = await db.sql<{ r: Record<string, number> }[]>`select public.fn_sweep_retention() as r`;
  return row!.r;
}

beforeAll(async () => {
  db = await freshDatabase();
  const { sql } = db;
  for (const id of ['SD-RET-OLD-1', 'SD-RET-OLD-2', 'SD-RET-OLD-3', 'SD-RET-NEW']) {
    await seedSd(sql, { id, phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    await execute(sql, id, 'EXEC-TO-PLAN', `ret-${id}`, [
      { code: 'stories_done', pass: 1, score: 9, max_score: 10, issues: ['an issue'], warnings: ['a warning'] },
    ]);
  }
  // Three handoffs of 40 days ago (every row they wrote), one of today.
  await sql.unsafe(`update public.handoff_attempts set started_at = ${OLD}, finished_at = ${OLD} + interval '1 second' where sd_id like 'SD-RET-OLD-%'`);
  await sql.unsafe(`update public.sub_agent_execution_results set created_at = ${OLD} where sd_id like 'SD-RET-OLD-%'`);
  await sql.unsafe(`
    insert into public.http_idempotency_keys (scope, key, fingerprint, status, response_status, response_body, completed_at, hits, created_at, locked_until)
    values ('handoff:service_role:', 'old', repeat('a', 64), 'completed', 200, '{}', now(), 2, now() - interval '2 days', null),
           ('handoff:service_role:', 'live-lease', repeat('b', 64), 'in_flight', null, null, null, 0, now() - interval '2 days', now() + interval '1 hour'),
           ('handoff:service_role:', 'new', repeat('c', 64), 'completed', 200, '{}', now(), 1, now(), null)`);
  await sql.unsafe(`insert into public.ops_webhook_ids (id, webhook_ts) values ('msg_old', now() - interval '2 days'), ('msg_new', now())`);
  // the handoffs claimed their SDs; one claim expired days ago, one an hour ago (kept a day)
  await sql.unsafe(`update public.sd_claims set expires_at = now() - interval '3 days' where sd_id = 'SD-RET-OLD-1'`);
  await sql.unsafe(`update public.sd_claims set expires_at = now() - interval '1 hour' where sd_id = 'SD-RET-OLD-2'`);
  // gate payloads one row per batch: the watermark must carry the walk across batches
  await sql.unsafe(`update public.retention_settings set batch_size = 1 where kind = 'gate_payload'`);
});
afterAll(async () => { await db.drop(); });

describe('fn_sweep_retention', () => {
  it('compacts old context snapshots and gate payloads, deletes old short-lived rows, keeps the rest', async () => {
    const { sql } = db;
    const auditBefore = await sql`select count(*)::int as n from public.sd_transition_audit`;
    const handoffsBefore = await sql`select count(*)::int as n from public.sd_phase_handoffs`;
    const r = await sweep();
    expect(r).toMatchObject({ attempt_context: 3, gate_payload: 3, http_idempotency: 1, webhook_ids: 1, expired_claims: 1, handoff_requests: 0 });

    const attempts = await sql`select sd_id, context from public.handoff_attempts order by sd_id`;
    for (const a of attempts) {
      if (a.sd_id.startsWith('SD-RET-OLD')) expect(a.context).toEqual({ purged: true });
      else expect(a.context).not.toEqual({ purged: true });
    }
    const results = await sql`select sd_id, issues, warnings, fixes, metadata from public.sub_agent_execution_results order by sd_id`;
    for (const x of results) {
      if (x.sd_id.startsWith('SD-RET-OLD')) {
        expect(x).toMatchObject({ issues: [], warnings: [], fixes: ['(purged)'], metadata: { purged: true, orchestrated: false } });
      } else {
        expect(x.issues).toEqual(['an issue']);
        expect(x.fixes.length).toBeGreaterThan(1);
      }
    }
    expect((await sql`select key from public.http_idempotency_keys order by key`).map((k) => k.key)).toEqual(['live-lease', 'new']);
    expect((await sql`select id from public.ops_webhook_ids`).map((k) => k.id)).toEqual(['msg_new']);
    expect((await sql`select sd_id from public.sd_claims order by sd_id`).map((k) => k.sd_id)).toEqual(['SD-RET-NEW', 'SD-RET-OLD-2', 'SD-RET-OLD-3']);
    // the audit trail is kept
    expect(await sql`select count(*)::int as n from public.sd_transition_audit`).toEqual(auditBefore);
    expect(await sql`select count(*)::int as n from public.sd_phase_handoffs`).toEqual(handoffsBefore);
    expect(await sql`select * from public.fn_check_invariants(null)`).toEqual([]);
  });

  it('leaves the metrics equal to a recount from the rows (normalized results still count)', async () => {
    const [row] = await db.sql<{ fast: any; slow: any }[]>`select public.fn_metrics_snapshot() as fast, public.fn_metrics_recount() as slow`;
    const strip = ({ generated_at: _g, oldest_in_progress_s: _o, oldest_notification_pending_s: _n, ...rest }: any) => rest;
    expect(strip(row!.fast)).toEqual(strip(row!.slow));
    expect(row!.fast.gate_results.find((g: any) => g.sub_agent === 'STORIES_DONE')).toMatchObject({ count: 4, normalized: 4 });
    expect(row!.fast.http_idempotent_hits).toBe(1);
  });

  it('a second run finds nothing: compaction goes on from its watermark', async () => {
    const r = await sweep();
    expect(Object.values(r).every((n) => n === 0)).toBe(true);
    const [wm] = await db.sql`select watermark from public.retention_settings where kind = 'gate_payload'`;
    expect(wm!.watermark).not.toBeNull();
  });

  it('finished handoff_requests past their period are deleted, pending ones kept', async () => {
    const { sql } = db;
    await sql.unsafe(`alter table public.handoff_requests disable trigger user`);
    try {
      await sql.unsafe(`insert into public.handoff_requests (sd_id, handoff_type, session_id, status, verdict, finished_at)
        values ('SD-RET-NEW', 'EXEC-TO-PLAN', 's', 'done', '{}', now() - interval '8 days'),
               ('SD-RET-NEW', 'EXEC-TO-PLAN', 's', 'pending', null, null)`);
    } finally {
      await sql.unsafe(`alter table public.handoff_requests enable trigger user`);
    }
    expect(await sweep()).toMatchObject({ handoff_requests: 1 });
    expect((await sql`select status from public.handoff_requests`).map((q) => q.status)).toEqual(['pending']);
  });

  it('is scheduled as the sweep "retention"', async () => {
    const [row] = await db.sql`select public.fn_run_sweep('retention') as r`;
    expect(row!.r).toMatchObject({ name: 'retention', ok: true });
  });
});
