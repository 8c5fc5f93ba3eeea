// The caller's identity for a transaction, as PostgREST sets it: the role and the JWT claims for
// the transaction only (set_config(…, true)), so grants and row-level security decide what the
// caller may see and change.
import type postgres from 'postgres';

export interface Caller { role: 'authenticated' | 'service_role'; claims: Record<string, unknown> }

export function callerFromClaims(claims: Record<string, unknown>): Caller | null {
  const role = claims.role;
  return role === 'authenticated' || role === 'service_role' ? { role, claims } : null;
}

export async function asCaller<T>(sql: postgres.Sql, caller: Caller, work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return await sql.begin(async (tx) => {
    await tx`select set_config('role', ${caller.role}, true), set_config('request.jwt.claims', ${JSON.stringify(caller.claims)}, true),
                    set_config('stagegate.via', 'http', true)`;
    return await work(tx);
  }) as T;
}
