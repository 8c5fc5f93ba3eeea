// The functions' own view of the validation mode: a small per-scope cache with a read timeout.
// It never decides a verdict — fn_complete_handoff reads the mode itself, inside the transaction
// that judges — it answers "what mode do we believe is in force" for responses, logs and the ops
// webhook, and it fails closed: with no value ever read, the answer is ENFORCE ('fallback').
//
// Sources: 'database' read just now; 'cache' younger than the TTL; 'stale' older than the TTL but
// the refresh failed or was too slow; 'fallback' nothing was ever read.
import type postgres from 'postgres';
import { z } from 'zod';

export const VALIDATION_MODES = ['OFF', 'WARN', 'ENFORCE'] as const;
export type ValidationMode = (typeof VALIDATION_MODES)[number];
export const MODE_SOURCES = ['database', 'cache', 'stale', 'fallback'] as const;
export type ModeSource = (typeof MODE_SOURCES)[number];

export const ModeReadSchema = z
  .object({
    mode: z.enum(VALIDATION_MODES),
    source: z.enum(MODE_SOURCES).describe("database: read now; cache: younger than the TTL; stale: refresh failed or timed out, last value read; fallback: never read, ENFORCE (fail closed)"),
    age_ms: z.number().nullable().describe('Age of the value; null for fallback'),
  })
  .meta({ id: 'ModeRead', description: "The functions' cached view of the validation mode; the verdict's validation_mode is the database's own" });
export type ModeRead = z.infer<typeof ModeReadSchema>;

/** Reads the mode of a scope; must honour the signal (cancel the query) when it aborts. */
export type ModeFetcher = (scope: string, signal: AbortSignal) => Promise<unknown>;

export interface ModeCacheOptions {
  fetch: ModeFetcher;
  ttlMs?: number;
  timeoutMs?: number;
  now?: () => number;
  onError?: (scope: string, error: Error) => void;
}

export function isValidationMode(value: unknown): value is ValidationMode {
  return typeof value === 'string' && (VALIDATION_MODES as readonly string[]).includes(value);
}

class ModeReadTimeout extends Error {
  constructor(ms: number) {
    super(`validation mode read took longer than ${ms} ms`);
    this.name = 'ModeReadTimeout';
  }
}

interface Entry { mode: ValidationMode; readAt: number }

export class ModeCache {
  readonly ttlMs: number;
  readonly timeoutMs: number;
  private readonly fetcher: ModeFetcher;
  private readonly now: () => number;
  private readonly onError?: (scope: string, error: Error) => void;
  private readonly entries = new Map<string, Entry>();
  // One refresh per scope at a time: a burst of requests after the TTL makes one query, not many.
  private readonly inflight = new Map<string, Promise<ValidationMode>>();

  constructor(o: ModeCacheOptions) {
    this.fetcher = o.fetch;
    this.ttlMs = o.ttlMs ?? 5000;
    this.timeoutMs = o.timeoutMs ?? 250;
    this.now = o.now ?? (() => Date.now());
    this.onError = o.onError;
  }

  async read(scope: string): Promise<ModeRead> {
    const entry = this.entries.get(scope);
    const t = this.now();
    if (entry && t - entry.readAt < this.ttlMs) return { mode: entry.mode, source: 'cache', age_ms: t - entry.readAt };
    try {
      const mode = await this.refresh(scope);
      return { mode, source: 'database', age_ms: 0 };
    } catch (err) {
      this.onError?.(scope, err instanceof Error ? err : new Error(String(err)));
      const last = this.entries.get(scope);
      if (last) return { mode: last.mode, source: 'stale', age_ms: this.now() - last.readAt };
      return { mode: 'ENFORCE', source: 'fallback', age_ms: null };
    }
  }

  /** A value this process has just written (or read another way) is as good as a fresh read. */
  set(scope: string, mode: ValidationMode): void {
    this.entries.set(scope, { mode, readAt: this.now() });
  }

  /** Forgets one scope, or every scope: the next read goes to the database. */
  invalidate(scope?: string): void {
    if (scope === undefined) this.entries.clear();
    else this.entries.delete(scope);
  }

  private refresh(scope: string): Promise<ValidationMode> {
    const running = this.inflight.get(scope);
    if (running) return running;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new ModeReadTimeout(this.timeoutMs);
        controller.abort(err);
        reject(err);
      }, this.timeoutMs);
    });
    const fetched = this.fetcher(scope, controller.signal).then((value) => {
      if (!isValidationMode(value)) throw new Error(`validation mode read returned ${JSON.stringify(value)}`);
      if (!controller.signal.aborted) this.entries.set(scope, { mode: value, readAt: this.now() });
      return value;
    });
    const done = Promise.race([fetched, timeout]).finally(() => {
      clearTimeout(timer);
      this.inflight.delete(scope);
    });
    fetched.catch(() => {}); // a late failure after the timeout is already answered
    this.inflight.set(scope, done);
    return done;
  }
}

/** The fetcher the functions use: fn_get_validation_mode, cancelled server-side on timeout. */
export function sqlModeFetcher(sql: postgres.Sql): ModeFetcher {
  return async (scope, signal) => {
    const query = sql<{ mode: string }[]>`select public.fn_get_validation_mode(${scope}) as mode`;
    const cancel = () => { query.cancel(); };
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const [row] = await query;
      return row?.mode;
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  };
}
