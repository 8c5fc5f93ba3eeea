// Control characters in any text argument of an RPC that can write (issue #15, "Bad input that
// still answers 500"): the SQL functions are called directly, so each refuses them itself with a
// stable SQLSTATE and changes nothing. The RPCs are listed from pg_proc, so a new one is covered.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedSd } from './_handoff-fixtures.ts';

let db: FreshDatabase;
let asService: postgres.Sql;
beforeAll(async () => {
  db = await freshDatabase();
  await seedSd(db.sql, { id: 'SD-CTL-1', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
  asService = connectAs(db.url, 'service_role');
});
afterAll(async () => {
  await asService?.end({ timeout: 1 });
  await db?.drop();
});

// A plausible value per type, so that the control character is what the call trips over.
const PLAIN: Record<string, string> = {
  text: 'SD-CTL-1', integer: '1', boolean: 'false', uuid: '00000000-0000-4000-8000-000000000001', jsonb: '[]',
  interval: '1 minute', 'timestamp with time zone': 'now', 'text[]': '{}',
};

async function checksum(): Promise<string> {
  const tables = await db.sql<{ t: string }[]>`select format('%I.%I', schemaname, tablename) as t from pg_catalog.pg_tables where schemaname = 'public' order by 1`;
  const rows = await db.sql.unsafe<{ h: string }[]>(tables.map(({ t }) => `select '${t}' || count(*) || coalesce(md5(string_agg(md5(x::text), '' order by md5(x::text))), '') as h from ${t} x`).join(' union all '));
  // Sorted here: with the monthly partitions the union is long enough for a parallel append, whose
  // row order varies (the same fix as bad-input-rpc's checksum).
  return rows.map((r) => r.h).sort().join('|');
}

describe('control characters in the text arguments of every RPC that writes', () => {
  it('are refused with an SG or 22 SQLSTATE and change no row', async () => {
    const rpcs = await db.sql<{ name: string; signature: string; names: string[]; types: string[] }[]>`
      select p.proname as name, p.oid::regprocedure::text as signature, p.proargnames[1:p.pronargs] as names,
             array(select format_type(t, null) from unnest(p.proargtypes) with ordinality u(t, i) order by i) as types
      from pg_proc p
      where p.pronamespace = 'public'::regnamespace and p.provolatile = 'v' and p.prokind = 'f'
        and p.prorettype <> 'trigger'::regtype and has_function_privilege('service_role', p.oid, 'execute')
        and 'text'::regtype = any (p.proargtypes)
      order by 1`;
    expect(rpcs.map((r) => r.name)).toEqual(expect.arrayContaining(['fn_begin_handoff', 'fn_claim_sd', 'fn_claim_webhook_id', 'fn_idempotency_begin', 'fn_set_validation_mode']));
    const accepted: string[] = [];
    for (const rpc of rpcs) {
      for (const [i, type] of rpc.types.entries()) {
        if (type !== 'text') continue;
        for (const bad of ['x\u0001y', 'tab\there', '\u001b[31mred', 'del\u007f', 'c1\u0085']) {
          if (bad.includes('\t') && /reason|error/.test(rpc.names[i] ?? '')) continue; // free text keeps tabs
          const args = rpc.types.map((t, j) => (j === i ? bad : PLAIN[t] ?? null));
          const before = await checksum();
          const outcome = await asService
            .unsafe(`select public.${rpc.name}(${rpc.types.map((t, j) => `$${j + 1}::text::${t}`).join(', ')})`, args)
            .then(() => 'ok', (e: { code?: string }) => e.code ?? 'no-sqlstate');
          if (!/^(SG\d{3}|22[0-9A-Z]{3}|23[0-9A-Z]{3})$/.test(outcome)) accepted.push(`${rpc.signature} ${rpc.names[i]}=${JSON.stringify(bad)} -> ${outcome}`);
          if ((await checksum()) !== before) accepted.push(`${rpc.signature} ${rpc.names[i]}=${JSON.stringify(bad)} changed rows`);
        }
      }
    }
    expect(accepted).toEqual([]);
  }, 120_000);

  it('name the argument in an SG001 message', async () => {
    const refused = await asService`select public.fn_claim_webhook_id(${'msg\u0007bell'}, now())`.then(() => null, (e: { code: string; message: string }) => e);
    expect(refused).toMatchObject({ code: 'SG001', message: 'INVALID_INPUT: p_id contains a control character (U+0007 at position 4)' });
    const reason = await asService`select public.fn_set_validation_mode('*', 'WARN', ${'line one\nline two'}, false) as r`;
    expect(reason[0]!.r).toMatchObject({ new_mode: 'WARN', changed: true });
  });
});
