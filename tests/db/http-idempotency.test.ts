// Idempotency-Key records (supabase/schemas/09_idempotency.sql): the outcomes of Stripe's and the
// IETF draft's protocol, race-safety of the first request, leases, retention and access.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFingerprint } from '../../shared/idempotency.ts';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

type Outcome = 'new' | 'replay' | 'in_flight' | 'mismatch';
interface Begin {
  outcome: Outcome;
  response_status: number | null;
  response_body: unknown;
  hits?: number;
  took_over?: boolean;
  retry_after_ms?: number;
}

const SCOPE = 'handoff:service_role';
let db: FreshDatabase;
let seq = 0;
const newKey = () => `key-${Date.now()}-${seq++}`;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

async function begin(key: string, fingerprint: string, leaseMs = 120_000, sql: postgres.Sql = db.sql): Promise<Begin> {
  const [row] = await sql<{ r: Begin }[]>`select public.fn_idempotency_begin(${SCOPE}, ${key}, ${fingerprint}, ${leaseMs}) as r`;
  return row!.r;
}

async function complete(key: string, fingerprint: string, status: number, body: unknown): Promise<void> {
  await db.sql`select public.fn_idempotency_complete(${SCOPE}, ${key}, ${fingerprint}, ${status}, ${db.sql.json(body as postgres.JSONValue)})`;
}

async function stored(key: string) {
  const [row] = await db.sql`select status, response_status, response_body, hits from public.http_idempotency_keys where scope = ${SCOPE} and key = ${key}`;
  return row;
}

const bodyA = { sd_id: 'SD-1', handoff_type: 'EXEC-TO-PLAN', session_id: 's1' };
const bodyB = { ...bodyA, session_id: 's2' };
let fpA: string;
let fpB: string;
beforeAll(async () => {
  fpA = await requestFingerprint(bodyA);
  fpB = await requestFingerprint(bodyB);
});

describe('outcomes', () => {
  it('new, then replay of the stored response with every hit counted', async () => {
    const key = newKey();
    expect(await begin(key, fpA)).toMatchObject({ outcome: 'new', response_status: null, took_over: false });
    const response = { verdict: 'accepted', score: 92.5, gates: [{ code: 'PRD', passed: true }] };
    await complete(key, fpA, 200, response);
    // Key order of the body does not matter: the fingerprint is over canonical JSON.
    const sameBodyReordered = await requestFingerprint({ session_id: 's1', handoff_type: 'EXEC-TO-PLAN', sd_id: 'SD-1' });
    expect(await begin(key, sameBodyReordered)).toEqual({
      outcome: 'replay', response_status: 200, response_body: response, hits: 1, completed_at: expect.any(String),
    });
    expect((await begin(key, fpA)).hits).toBe(2);
    expect(await stored(key)).toMatchObject({ status: 'completed', hits: 2 });
  });

  it('mismatch when the same key comes with another body, completed or not', async () => {
    const done = newKey();
    await begin(done, fpA);
    await complete(done, fpA, 200, { ok: true });
    expect(await begin(done, fpB)).toEqual({ outcome: 'mismatch', response_status: null, response_body: null });
    const running = newKey();
    await begin(running, fpA);
    expect((await begin(running, fpB)).outcome).toBe('mismatch');
    expect(await stored(done)).toMatchObject({ hits: 0 });
  });

  it('in_flight while the first request holds a live lease', async () => {
    const key = newKey();
    await begin(key, fpA, 60_000);
    const second = await begin(key, fpA);
    expect(second).toMatchObject({ outcome: 'in_flight', response_status: null });
    expect(second.retry_after_ms).toBeGreaterThan(50_000);
    expect(second.retry_after_ms).toBeLessThanOrEqual(60_000);
  });

  it('takes over a key whose first request died (lease expired)', async () => {
    const key = newKey();
    await begin(key, fpA, 20);
    await new Promise((r) => setTimeout(r, 50));
    expect(await begin(key, fpA)).toMatchObject({ outcome: 'new', took_over: true });
    expect((await begin(key, fpA)).outcome).toBe('in_flight');
    await complete(key, fpA, 201, { id: 7 });
    expect(await begin(key, fpA)).toMatchObject({ outcome: 'replay', response_status: 201, response_body: { id: 7 } });
  });

  it('50 concurrent begins with one key produce exactly one new', async () => {
    const key = newKey();
    const wide = postgres(db.url, { max: 50, onnotice: () => {} });
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => begin(key, fpA, 120_000, wide)));
      const count = (o: Outcome) => answers.filter((a) => a.outcome === o).length;
      expect([count('new'), count('in_flight')]).toEqual([1, 49]);
    } finally {
      await wide.end();
    }
    const [row] = await db.sql`select count(*)::int as n from public.http_idempotency_keys where scope = ${SCOPE} and key = ${key}`;
    expect(row!.n).toBe(1);
  });

  it('keys are per scope', async () => {
    const key = newKey();
    await begin(key, fpA);
    const [row] = await db.sql<{ r: Begin }[]>`select public.fn_idempotency_begin('handoff:user:42', ${key}, ${fpB}) as r`;
    expect(row!.r.outcome).toBe('new');
  });
});

describe('completion and abandonment', () => {
  it('complete stores only for the owner: another fingerprint or a second completion changes nothing', async () => {
    const key = newKey();
    await begin(key, fpA);
    await complete(key, fpB, 500, { wrong: true });
    expect(await stored(key)).toMatchObject({ status: 'in_flight', response_status: null });
    await complete(key, fpA, 200, { first: true });
    await complete(key, fpA, 200, { second: true });
    expect(await stored(key)).toMatchObject({ status: 'completed', response_status: 200, response_body: { first: true } });
  });

  it('abandon frees an in-flight key so the client may retry it, but keeps a completed one', async () => {
    const key = newKey();
    await begin(key, fpA);
    const [a] = await db.sql<{ r: boolean }[]>`select public.fn_idempotency_abandon(${SCOPE}, ${key}) as r`;
    expect(a!.r).toBe(true);
    expect(await stored(key)).toBeUndefined();
    expect((await begin(key, fpA)).outcome).toBe('new');
    await complete(key, fpA, 200, { ok: 1 });
    const [b] = await db.sql<{ r: boolean }[]>`select public.fn_idempotency_abandon(${SCOPE}, ${key}) as r`;
    expect(b!.r).toBe(false);
    expect((await begin(key, fpA)).outcome).toBe('replay');
  });
});

describe('retention', () => {
  it('purge deletes records older than 24 h except live in-flight ones', async () => {
    const [oldDone, oldDead, oldLive, recent] = [newKey(), newKey(), newKey(), newKey()];
    await begin(oldDone, fpA);
    await complete(oldDone, fpA, 200, {});
    await begin(oldDead, fpA, 1);
    await begin(oldLive, fpA, 600_000);
    await begin(recent, fpA);
    await complete(recent, fpA, 200, {});
    await new Promise((r) => setTimeout(r, 10));
    await db.sql`update public.http_idempotency_keys set created_at = now() - interval '25 hours'
                 where key in ${db.sql([oldDone, oldDead, oldLive])}`;
    const [row] = await db.sql<{ n: number }[]>`select public.fn_idempotency_purge() as n`;
    expect(row!.n).toBe(2);
    const left = await db.sql<{ key: string }[]>`select key from public.http_idempotency_keys where key in ${db.sql([oldDone, oldDead, oldLive, recent])} order by key`;
    expect(left.map((r) => r.key).sort()).toEqual([oldLive, recent].sort());
    const [none] = await db.sql<{ n: number }[]>`select public.fn_idempotency_purge('48 hours') as n`;
    expect(none!.n).toBe(0);
    await expect(db.sql`select public.fn_idempotency_purge('-1 hour')`).rejects.toMatchObject({ code: 'SG001' });
  });
});

describe('input and access', () => {
  it.each([
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a control character', 'abc\ndef'],
    ['a non-ASCII character', 'clé'],
  ])('refuses %s', async (_label, key) => {
    await expect(begin(key, fpA)).rejects.toMatchObject({
      code: 'SG001', message: expect.stringMatching(/^INVALID_INPUT: idempotency key must be 1\.\.255 printable characters/),
    });
  });

  it('accepts a key of 255 printable characters and refuses a malformed fingerprint or status', async () => {
    expect((await begin('~'.repeat(255), fpA)).outcome).toBe('new');
    await expect(begin(newKey(), 'ABC')).rejects.toMatchObject({ code: 'SG001', message: expect.stringMatching(/^INVALID_INPUT: fingerprint/) });
    await expect(complete(newKey(), fpA, 99, {})).rejects.toMatchObject({ code: 'SG001' });
    await expect(db.sql`select public.fn_idempotency_begin(${''}, 'k', ${fpA})`).rejects.toMatchObject({ message: expect.stringMatching(/^INVALID_INPUT: idempotency scope/) });
  });

  it.each(['anon', 'authenticated'] as const)('%s may not call any idempotency RPC or read the table', async (role) => {
    const key = newKey();
    const client = connectAs(db.url, role);
    try {
      const attempts = [
        client`select public.fn_idempotency_begin(${SCOPE}, ${key}, ${fpA})`,
        client`select public.fn_idempotency_complete(${SCOPE}, ${key}, ${fpA}, 200, '{}'::jsonb)`,
        client`select public.fn_idempotency_abandon(${SCOPE}, ${key})`,
        client`select public.fn_idempotency_purge()`,
        client`select * from public.http_idempotency_keys`,
      ];
      for (const attempt of attempts) await expect(attempt).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
    expect(await stored(key)).toBeUndefined();
  });

  it('service_role may call them', async () => {
    const service = connectAs(db.url, 'service_role');
    try {
      expect((await begin(newKey(), fpA, 1000, service)).outcome).toBe('new');
    } finally {
      await service.end();
    }
  });
});
