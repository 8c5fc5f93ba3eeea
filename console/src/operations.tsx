// Operations: the validation mode per scope with the promotion gate's numbers and the button to
// promote when the gate allows it; circuit breakers; the runbook's recent failed transitions.
import { useEffect, useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { Operations } from '../../shared/directives-schema.ts';
import { Badge, ErrorNote, verdictKind, when } from './ui.tsx';

interface Gate { ok?: boolean; reasons?: string[]; window?: string; handoffs?: number; would_reject_rate?: number | null; unknown_rate?: number | null; min_handoffs?: number }

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${Math.round(x * 10000) / 100}%`);

export function OperationsPage({ api }: { api: StagegateClient }) {
  const [ops, setOps] = useState<Operations | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [reason, setReason] = useState('');
  const [done, setDone] = useState('');

  const load = async () => {
    setError(null);
    try {
      setOps(await api.operations());
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => { void load(); }, []);

  const setMode = async (scope: string, mode: 'WARN' | 'ENFORCE') => {
    setActionError(null);
    setDone('');
    try {
      await api.setMode({ scope, mode, reason: reason.trim() || `set to ${mode} from the console` });
      setDone(`${scope} is now ${mode}`);
      await load();
    } catch (err) {
      setActionError(err);
    }
  };

  if (error && !ops) return (<section><h1>Operations</h1><ErrorNote error={error} onRetry={() => void load()} /></section>);
  if (!ops) return <p aria-busy="true">Loading operations…</p>;
  return (
    <section aria-labelledby="ops-title">
      <h1 id="ops-title">Operations</h1>
      <section class="panel" aria-labelledby="modes-title">
        <h2 id="modes-title">Validation modes</h2>
        <label>Reason for a change <input value={reason} placeholder="recorded in the audit of mode changes" onInput={(e) => setReason(e.currentTarget.value)} /></label>
        {actionError ? <ErrorNote error={actionError} /> : null}
        {done && <p role="status" class="ok-text">{done}</p>}
        <div class="scroll">
          <table>
            <thead><tr><th>scope</th><th>mode</th><th>handoffs judged</th><th>would-reject</th><th>unknown input</th><th>promotion gate</th><th>action</th></tr></thead>
            <tbody>
              {ops.modes.map((m) => {
                const g = m.promotion_gate as Gate;
                return (
                  <tr key={m.scope} data-scope={m.scope}>
                    <td>{m.scope === '*' ? '* (global)' : m.scope}</td>
                    <td><Badge kind={m.mode === 'ENFORCE' ? 'ok' : 'warn'}>{m.mode}</Badge></td>
                    <td>{g.handoffs ?? '–'} <span class="muted small">(min {g.min_handoffs ?? '–'}, {g.window})</span></td>
                    <td>{pct(g.would_reject_rate)}</td>
                    <td>{pct(g.unknown_rate)}</td>
                    <td>{g.ok ? <Badge kind="ok">open</Badge> : <span class="small">{(g.reasons ?? []).join('; ')}</span>}</td>
                    <td>
                      {m.mode !== 'ENFORCE' && g.ok && <button type="button" class="primary" onClick={() => void setMode(m.scope, 'ENFORCE')}>Promote to ENFORCE</button>}
                      {m.mode === 'ENFORCE' && <button type="button" onClick={() => void setMode(m.scope, 'WARN')}>Demote to WARN</button>}
                      {m.mode !== 'ENFORCE' && !g.ok && <span class="muted small">promotion not allowed yet</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section class="panel" aria-labelledby="breakers-title">
        <h2 id="breakers-title">Circuit breakers</h2>
        <div class="scroll">
          <table>
            <thead><tr><th>sub-agent</th><th>kind</th><th>state</th><th>failures</th><th>half-open at</th><th>last error</th></tr></thead>
            <tbody>
              {ops.breakers.map((b) => (
                <tr key={b.sub_agent_code}>
                  <td><span class="key">{b.sub_agent_code}</span>{b.active === false ? <span class="muted"> (inactive)</span> : null}</td>
                  <td>{String(b.kind ?? '')}</td>
                  <td><Badge kind={b.state === 'closed' ? 'ok' : b.state === 'open' ? 'bad' : 'warn'}>{b.state}</Badge></td>
                  <td>{String(b.consecutive_failures ?? 0)} / {String(b.failure_threshold ?? '')}</td>
                  <td>{when(b.half_open_at as string | null)}</td>
                  <td class="small">{String(b.last_error ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="panel" aria-labelledby="failures-title">
        <h2 id="failures-title">Recent failed transitions</h2>
        {ops.recent_failures.length === 0 && <p class="muted">None.</p>}
        <div class="scroll">
          <table>
            <tbody>
              {ops.recent_failures.map((f, i) => (
                <tr key={i}>
                  <td>{when(f.created_at)}</td>
                  <td><a href={`#/d/${encodeURIComponent(f.sd_id)}`}>{f.sd_id}</a></td>
                  <td>{String(f.transition_type ?? '')}</td>
                  <td><Badge kind={verdictKind('failed')}>{String(f.error_code ?? 'failed')}</Badge></td>
                  <td class="small">{String(f.error_message ?? '')} {f.recovery_action ? `→ ${String(f.recovery_action)}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}
