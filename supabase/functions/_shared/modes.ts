// The function instance's validation-mode cache (shared/mode-cache.ts) and the unknown-input
// counter the promotion gate reads. The cache only reports; the database decides every verdict.
import { ModeCache, sqlModeFetcher } from '../../../shared/mode-cache.ts';
import { settings } from './config.ts';
import { db } from './db.ts';
import { log } from './http.ts';

let cache: ModeCache | undefined;

export function modeCache(): ModeCache {
  cache ??= new ModeCache({
    fetch: (scope, signal) => sqlModeFetcher(db())(scope, signal),
    ttlMs: settings().STAGEGATE_MODE_TTL_MS,
    timeoutMs: settings().STAGEGATE_MODE_TIMEOUT_MS,
    onError: (scope, error) => log('warn', 'validation mode read failed', { scope, error: error.message }),
  });
  return cache;
}

/**
 * Counts a request whose handoff type could not be normalised; never fails the request. SQL
 * counts one signal per caller and window, and none when sdId names no directive.
 */
export async function recordUnknownInput(
  kind: 'handoff_type' | 'stage' | 'phase',
  input: string,
  who: { caller: string; sdId: string | null },
  source = 'handoff',
): Promise<void> {
  try {
    await db()`select public.fn_record_unknown_input(${kind}, ${input}, null, ${source}, ${who.caller}, ${who.sdId}, true)`;
  } catch (err) {
    log('warn', 'unknown input not recorded', { kind, error: String(err) });
  }
}
