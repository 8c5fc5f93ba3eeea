// Small shared pieces: the error note (what went wrong and what to do), badges, the score bar.
import type { ComponentChildren } from 'preact';
import { ApiError } from '../../shared/client.ts';
import type { Person } from '../../shared/directives-schema.ts';

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, 'INTERNAL', error instanceof Error ? error.message : String(error));
}

function explain(e: ApiError): { title: string; hint?: string } {
  if (e.code === 'NETWORK') return { title: 'Cannot reach the functions server', hint: 'Is the stack running (npm start), and is the API URL right?' };
  if (e.status === 401) return { title: 'Not signed in', hint: 'The token was refused (expired, or signed with another secret). Sign in again.' };
  if (e.code === 'SELF_APPROVAL') return { title: 'Not allowed: you asked for this handoff', hint: 'Someone else with an approver role must decide it.' };
  if (e.code === 'NOT_AN_APPROVER') return { title: 'Not allowed: you are not one of its approvers', hint: 'Ask a member whose role may approve it.' };
  if (e.code === 'APPROVAL_CLOSED') return { title: 'Already settled', hint: 'Someone decided it (or it expired) in the meantime; the page now shows how.' };
  if (e.status === 403) return { title: 'Not allowed', hint: 'Your identity may not do this; ask someone with the right role.' };
  if (e.status === 404) return { title: 'Not found' };
  if (e.status === 409) return { title: e.code === 'SD_BUSY' ? 'Busy: another handoff is running' : 'Refused: the directive is not in a state for this', hint: e.code === 'SD_BUSY' ? 'Try again in a moment.' : undefined };
  if (e.status >= 500) return { title: 'The server failed', hint: 'Nothing was changed half-way; try again, and check the functions log if it persists.' };
  if (e.status >= 400) return { title: 'The request was refused' };
  return { title: 'Something went wrong' };
}

export function ErrorNote({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const e = asApiError(error);
  const { title, hint } = explain(e);
  return (
    <div class="error" role="alert">
      <strong>{title}</strong>
      <p>{e.message}</p>
      {hint && <p class="hint">{hint}</p>}
      <p class="code"><code>{e.code}</code>{e.status ? <span> · HTTP {e.status}</span> : null}</p>
      <div class="row">
        {onRetry && <button type="button" onClick={onRetry}>Retry</button>}
        {e.status === 401 && <a class="button" href="#/signin">Sign in</a>}
      </div>
    </div>
  );
}

export function Badge({ kind, children }: { kind?: string; children: ComponentChildren }) {
  return <span class={`badge ${kind ?? ''}`}>{children}</span>;
}

export function verdictKind(v: string | null | undefined): string {
  if (v === 'accepted' || v === 'completed' || v === 'PASS' || v === 'approve') return 'ok';
  if (v === 'rejected' || v === 'FAIL' || v === 'reject') return 'bad';
  if (v === 'failed' || v === 'ERROR' || v === 'abandoned' || v === 'expired' || v === 'awaiting_approval') return 'warn';
  return '';
}

/** A score (0..100) as a bar, with the SD type's threshold drawn across it. */
export function ScoreBar({ score, threshold, label }: { score: number | null; threshold: number | null; label: string }) {
  const s = Math.max(0, Math.min(100, score ?? 0));
  const t = threshold === null ? null : Math.max(0, Math.min(100, threshold));
  const passing = t === null || s >= t;
  const text = `${label}: ${score === null ? 'no score' : `${round(s)} of 100`}${t === null ? '' : `, threshold ${round(t)}`}`;
  return (
    <svg class="scorebar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label={text}>
      <title>{text}</title>
      <rect x="0" y="0" width="100" height="10" class="track" />
      <rect x="0" y="0" width={s} height="10" class={passing ? 'fill ok' : 'fill bad'} />
      {t !== null && <line x1={t} x2={t} y1="-1" y2="11" class="threshold" vector-effect="non-scaling-stroke" />}
    </svg>
  );
}

export function round(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return String(Math.round(n * 10 ** digits) / 10 ** digits);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
}

/** The field errors of an INVALID_INPUT answer ({details: {issues: [{path, message}]}}), by path. */
export function fieldIssues(error: unknown): Record<string, string> {
  const e = asApiError(error);
  const issues = (e.details as { issues?: { path?: unknown; message?: unknown }[] } | null)?.issues;
  const out: Record<string, string> = {};
  if (e.code !== 'INVALID_INPUT' || !Array.isArray(issues)) return out;
  for (const i of issues) if (typeof i.path === 'string' && typeof i.message === 'string') out[i.path] ??= i.message;
  return out;
}

/**
 * A person as the API returns them (name and email only to team-mates): the name, with the email
 * when it says more; the short id when the caller may not see who it is; else what acted (the
 * service role, a database role).
 */
export function PersonName({ p, role }: { p: Person | null | undefined; role?: unknown }) {
  if (!p) return <span class="person">{typeof role === 'string' && role ? role.replace('_', ' ') : 'someone'}</span>;
  if (!p.name) return <span class="person" title={p.user_id}>user {p.user_id.slice(0, 8)}</span>;
  return (
    <span class="person" title={p.user_id}>
      {p.name}{p.email && p.email !== p.name ? <span class="muted"> &lt;{p.email}&gt;</span> : null}
    </span>
  );
}
