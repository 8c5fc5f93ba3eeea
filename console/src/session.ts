// Who the console is signed in as, where the functions are, and the typed client for them.
// Nothing here decides anything: the functions (and SQL behind them) answer what a token may do.
import { createClient } from '@supabase/supabase-js';
import { stagegateClient, type StagegateClient } from '../../shared/client.ts';

export interface DemoUser { label: string; role: string; token: string }
/** /config.json: written by the local stack (npm start); a static host serves the built `{}`. */
export interface ConsoleConfig { apiUrl?: string; anonKey?: string; demoUsers?: DemoUser[] }
export interface Session { apiUrl: string; anonKey?: string; token: string; label: string }

const KEY = 'stagegate.session';

export async function loadConfig(): Promise<ConsoleConfig> {
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    return response.ok ? (await response.json()) as ConsoleConfig : {};
  } catch {
    return {};
  }
}

export function savedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) as Session : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

/** The claims of a JWT, read without verifying (the functions verify it). */
export function claimsOf(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? '';
    return JSON.parse(atob(part.replaceAll('-', '+').replaceAll('_', '/'))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

let n = 0;
/** supabase-js with the token as the caller's Authorization (the anon key, if given, as apikey). */
export function clientFor(s: Session): StagegateClient {
  const supabase = createClient(s.apiUrl, s.anonKey || s.token, {
    global: { headers: { Authorization: `Bearer ${s.token}` } },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, storageKey: `stagegate-console-${++n}` },
  });
  return stagegateClient(supabase.functions);
}

/** One handoff session per browser tab: the claim on a directive belongs to it. */
export function handoffSession(): string {
  let id = sessionStorage.getItem('stagegate.handoff-session');
  if (!id) {
    id = `console-${crypto.randomUUID().slice(0, 8)}`;
    sessionStorage.setItem('stagegate.handoff-session', id);
  }
  return id;
}
