// One directive: PRD and stories, the handoff timeline (each gate's score against the SD type's
// threshold), who did what when (people by name), pending approvals with approve / reject for
// those who may, a dry run of the next handoff with each gate's deficit, running it with the gates
// streamed live (the handoff function's text/event-stream), and editing its content.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { AttemptRecord, DirectiveDetail, Person } from '../../shared/directives-schema.ts';
import type { HandoffResponse } from '../../shared/handoff-schema.ts';
import { ApprovalsPanel } from './approvals.tsx';
import { EditDirective } from './edit.tsx';
import { handoffSession } from './session.ts';
import { Badge, ErrorNote, PersonName, round, ScoreBar, verdictKind, when } from './ui.tsx';

type Gate = HandoffResponse['gates'][number];
interface LiveGate { code: string; state: 'running' | 'done'; outcome?: Gate }
type Action = { kind: 'dry' | 'run'; type: string; live: LiveGate[]; result?: HandoffResponse; error?: unknown };

export function DirectivePage({ api, sd }: { api: StagegateClient; sd: string }) {
  const [detail, setDetail] = useState<DirectiveDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState('');
  // the open event stream of a run (it follows a handoff waiting for approval): closed on leaving
  const stream = useRef<AbortController | null>(null);

  const load = async () => {
    setError(null);
    try {
      setDetail(await api.getDirective(sd));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setDetail(null); setAction(null); setEditing(false); setSaved('');
    void load();
    return () => stream.current?.abort();
  }, [sd]);

  const request = (type: string) => ({ sd_id: sd, handoff_type: type, session_id: handoffSession() });

  const dryRun = async (type: string) => {
    stream.current?.abort(); // stop following an earlier run: this result replaces it on the page
    setSaved('');
    setBusy(true);
    setAction({ kind: 'dry', type, live: [] });
    try {
      const result = await api.dryRun(request(type));
      setAction({ kind: 'dry', type, live: [], result });
    } catch (err) {
      setAction({ kind: 'dry', type, live: [], error: err });
    } finally {
      setBusy(false);
      void load();
    }
  };

  const run = async (type: string) => {
    setSaved('');
    setBusy(true);
    let live: LiveGate[] = [];
    setAction({ kind: 'run', type, live });
    stream.current?.abort();
    const controller = new AbortController();
    stream.current = controller;
    try {
      const result = await api.streamHandoff({ ...request(type), skip_idempotency: true }, (e) => {
        if (e.event === 'awaiting_approval') {
          // the gates are done and people decide next: show it, and keep following the stream
          setAction({ kind: 'run', type, live, result: e.data as unknown as HandoffResponse });
          setBusy(false);
          void load();
          return;
        }
        if (e.event === 'approval_decided') void load();
        const code = String(e.data.code ?? (e.data.outcome as { code?: string } | undefined)?.code ?? '');
        if (e.event === 'gate_started') live = [...live.filter((g) => g.code !== code), { code, state: 'running' }];
        if (e.event === 'gate_finished' || e.event === 'gate_skipped') {
          const outcome = e.data.outcome as Gate;
          live = live.some((g) => g.code === code) ? live.map((g) => (g.code === code ? { code, state: 'done', outcome } : g)) : [...live, { code, state: 'done', outcome }];
        }
        if (e.event.startsWith('gate_')) setAction({ kind: 'run', type, live });
      }, { signal: controller.signal });
      setAction({ kind: 'run', type, live, result });
    } catch (err) {
      if (controller.signal.aborted) return;
      setAction({ kind: 'run', type, live, error: err });
    } finally {
      if (!controller.signal.aborted) {
        setBusy(false);
        void load();
      }
    }
  };

  if (error && !detail) return <ErrorNote error={error} onRetry={() => void load()} />;
  if (!detail) return <p aria-busy="true">Loading {sd}…</p>;
  const d = detail.directive;
  return (
    <article aria-labelledby="sd-title">
      <p><a href="#/">← Board</a></p>
      <header class="titlebar">
        <h1 id="sd-title"><span class="key">{d.id}</span> {d.title}</h1>
        {d.can_edit && !editing && <button type="button" onClick={() => { setSaved(''); setEditing(true); }}>Edit content</button>}
      </header>
      <p class="meta">
        <Badge kind="phase">phase {d.current_phase}</Badge>
        <Badge>status {d.status}</Badge>
        <Badge>{d.sd_type} · threshold {round(d.threshold, 0)}</Badge>
        <Badge>version {d.transition_version}</Badge>
        {d.awaiting_approval && <Badge kind="warn">awaiting approval</Badge>}
      </p>
      {error ? <ErrorNote error={error} onRetry={() => void load()} /> : null}
      {saved && <p role="status" class="ok-text" data-testid="saved">{saved}</p>}
      {editing && (
        <EditDirective api={api} detail={detail} onCancel={() => setEditing(false)}
          onSaved={(next) => { setDetail(next); setEditing(false); setSaved(`Saved at ${when(next.directive.updated_at)}.`); }} />
      )}

      <ApprovalsPanel api={api} detail={detail} onChanged={() => void load()} />

      <section class="panel" aria-labelledby="next-title">
        <h2 id="next-title">Next handoff</h2>
        {detail.next_handoffs.length === 0 && <p class="muted">No handoff leaves {d.current_phase}.</p>}
        {d.awaiting_approval && (
          <p class="muted" data-testid="next-waits">A handoff of this directive waits for approval: the next one can run once it is decided.</p>
        )}
        <div class="row wrap">
          {detail.next_handoffs.map((t) => (
            <span class="row" key={t}>
              <button type="button" disabled={busy || d.awaiting_approval} onClick={() => void dryRun(t)}>Dry run {t}</button>
              <button type="button" class="primary" disabled={busy || d.awaiting_approval} onClick={() => void run(t)}>Run {t}</button>
            </span>
          ))}
        </div>
        {action && <ActionResult action={action} threshold={d.threshold} />}
      </section>

      <div class="two">
        <section class="panel" aria-labelledby="prd-title">
          <h2 id="prd-title">PRD</h2>
          {detail.prd ? (
            <>
              <p><strong>{detail.prd.title}</strong> <Badge>{detail.prd.status}</Badge></p>
              {detail.prd.executive_summary && <p>{detail.prd.executive_summary}</p>}
              <List title="Functional requirements" items={detail.prd.functional_requirements} />
              <List title="Acceptance criteria" items={detail.prd.acceptance_criteria} />
              <List title="Test scenarios" items={detail.prd.test_scenarios} />
            </>
          ) : <p class="muted">No PRD yet.</p>}
          {d.description && <p class="muted">{d.description}</p>}
        </section>
        <section class="panel" aria-labelledby="stories-title">
          <h2 id="stories-title">Stories ({detail.stories.length})</h2>
          <ul class="plain">
            {detail.stories.map((s) => (
              <li key={s.id}><span class="key">{s.story_key}</span> {s.title} <Badge>{s.status}</Badge>
                {s.acceptance_criteria.length > 0 && <span class="muted small"> · {s.acceptance_criteria.length} criteria</span>}</li>
            ))}
          </ul>
        </section>
      </div>

      <section class="panel" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Handoff timeline</h2>
        {detail.attempts.length === 0 && <p class="muted">No handoff attempted yet.</p>}
        <ol class="timeline">
          {detail.attempts.map((a) => <AttemptItem key={a.id} a={a} threshold={d.threshold} />)}
        </ol>
      </section>

      <section class="panel" aria-labelledby="audit-title">
        <h2 id="audit-title">Audit chain</h2>
        {detail.audit.length === 0 && <p class="muted">No transition recorded yet (dry runs leave no audit row).</p>}
        <div class="scroll" hidden={detail.audit.length === 0}>
          <table>
            <thead><tr><th>when</th><th>transition</th><th>status</th><th>phase</th><th>score</th><th>who</th><th>error</th></tr></thead>
            <tbody>
              {detail.audit.map((t) => {
                const pre = (t.pre_state as { sd_phase?: string } | null)?.sd_phase;
                const post = (t.post_state as { sd_phase?: string } | null)?.sd_phase;
                return (
                  <tr key={t.id}>
                    <td>{when(t.created_at)}</td><td>{t.transition_type}</td>
                    <td><Badge kind={verdictKind(t.status)}>{t.status}</Badge></td>
                    <td>{pre ?? '–'} → {post ?? '–'}</td>
                    <td>{round(t.score as number | null)} / {round(t.threshold as number | null)}</td>
                    <td><Who row={t} person={t.actor} /></td>
                    <td class="small">{String(t.error_message ?? '')}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
    </article>
  );
}

/** Who acted: the person (by name, as the API lets this caller see them) or the role, and the way in. */
function Who({ row, person }: { row: Record<string, unknown>; person: Person | null | undefined }) {
  const via = row.actor_via ? ` via ${String(row.actor_via)}` : '';
  if (!person && !row.actor_role) return <>session {String(row.session_id ?? '–')}{via}</>;
  return <><PersonName p={person} role={row.actor_role} />{via}</>;
}

function List({ title, items }: { title: string; items: unknown[] }) {
  if (items.length === 0) return null;
  return (<><h3>{title}</h3><ul>{items.map((x, i) => <li key={i}>{typeof x === 'string' ? x : JSON.stringify(x)}</li>)}</ul></>);
}

function ActionResult({ action, threshold }: { action: Action; threshold: number | null }) {
  const r = action.result;
  return (
    <div class="action" aria-live="polite" data-testid="action">
      <h3>{action.kind === 'dry' ? 'Dry run' : 'Run'} {action.type}{!r && !action.error ? '…' : ''}</h3>
      {action.kind === 'run' && action.live.length > 0 && (
        <ul class="live" data-testid="live-gates">
          {action.live.map((g) => (
            <li key={g.code} data-gate={g.code} data-state={g.state}>
              <span class="key">{g.code}</span>{' '}
              {g.state === 'running' ? <Badge>running…</Badge> : g.outcome?.skipped
                ? <Badge>skipped {g.outcome.skipReason}</Badge>
                : <Badge kind={g.outcome?.passed ? 'ok' : 'bad'}>{round(g.outcome?.score)} / {round(g.outcome?.maxScore)} in {g.outcome?.durationMs} ms</Badge>}
            </li>
          ))}
        </ul>
      )}
      {action.error ? <ErrorNote error={action.error} /> : null}
      {r && (
        <>
          <p class="verdict" data-verdict={r.verdict}>
            <Badge kind={verdictKind(r.verdict)}>{r.verdict}</Badge> score {round(r.score)} against threshold {round(r.threshold)} ({r.validation_mode})
            {r.score < r.threshold && <strong> · {round(r.threshold - r.score)} short</strong>}
            {r.dry_run ? ' · dry run: nothing changed' : r.verdict === 'awaiting_approval' ? ` · stays in ${r.phase_before} until approved` : ` · ${r.phase_before} → ${r.phase_after}`}
          </p>
          {r.verdict === 'awaiting_approval' && r.approvals && (
            <p class="small" data-testid="awaiting">
              Waits for {r.approvals.approvals_needed} approval{r.approvals.approvals_needed === 1 ? '' : 's'}
              {r.approvals.approver_roles ? ` from ${r.approvals.approver_roles.join(' or ')}` : ''}
              {r.approvals.deadline ? ` by ${when(r.approvals.deadline)}` : ''}: see <a href="#approvals-title" onClick={(e) => { e.preventDefault(); document.getElementById('approvals-title')?.scrollIntoView(); }}>Approvals</a>.
            </p>
          )}
          <ScoreBar score={r.score} threshold={r.threshold ?? threshold} label="weighted score" />
          <GateTable gates={r.gates.map((g) => ({ code: g.code, passed: g.passed, score: g.score, max: g.maxScore, ms: g.durationMs, skipped: g.skipped, issues: g.issues }))} threshold={r.threshold ?? threshold} />
        </>
      )}
    </div>
  );
}

interface GateRow { code: string; passed: boolean; score: number; max: number; ms: number | null; skipped: boolean; issues: unknown[] }

function GateTable({ gates, threshold }: { gates: GateRow[]; threshold: number | null }) {
  return (
    <div class="scroll">
      <table class="gates">
        <thead><tr><th>gate</th><th>score</th><th class="wide">against threshold</th><th title="points below the threshold, as a percentage of the gate's maximum">deficit</th><th>time</th><th>issues</th></tr></thead>
        <tbody>
          {gates.map((g) => {
            const pct = g.max > 0 ? (g.score / g.max) * 100 : 0;
            // how far the gate's normalised score falls short of the SD type's threshold
            const deficit = threshold === null ? 0 : Math.max(0, threshold - pct);
            return (
              <tr key={g.code} data-gate={g.code}>
                <td><span class="key">{g.code}</span> {g.skipped ? <Badge>skipped</Badge> : <Badge kind={g.passed ? 'ok' : 'bad'}>{g.passed ? 'pass' : 'fail'}</Badge>}</td>
                <td>{round(g.score)} / {round(g.max)}</td>
                <td class="wide"><ScoreBar score={pct} threshold={threshold} label={g.code} /></td>
                <td>{deficit > 0 ? <strong>−{round(deficit)}</strong> : '0'}</td>
                <td>{g.ms === null ? '–' : `${g.ms} ms`}</td>
                <td class="small">{g.issues.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))).join('; ')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function AttemptItem({ a, threshold }: { a: AttemptRecord; threshold: number | null }) {
  return (
    <li class="attempt" data-attempt={a.id}>
      <div class="row wrap">
        <strong>{a.handoff_type}</strong>
        {a.dry_run ? <Badge>dry run</Badge> : <Badge kind={verdictKind(a.verdict ?? a.status)}>{a.verdict ?? a.status}</Badge>}
        <span class="muted small">{when(a.started_at)} · <Who row={a as Record<string, unknown>} person={a.requested_by} /> · {a.from_phase} → {a.to_phase}{a.validation_mode ? ` · ${a.validation_mode}` : ''}</span>
      </div>
      {a.score !== null ? (
        <>
          <div class="row"><span class="small">score {round(a.score)} / threshold {round(a.threshold ?? threshold)}</span></div>
          <ScoreBar score={a.score} threshold={a.threshold ?? threshold} label={`${a.handoff_type} score`} />
        </>
      ) : <div class="row"><span class="small muted">{a.dry_run ? 'dry run: no verdict stored' : 'no verdict yet'}</span></div>}
      {a.gates.length > 0 && (
        <details>
          <summary>{a.gates.length} gates{a.failed_gate ? ` · failed at ${a.failed_gate}` : ''}</summary>
          <GateTable gates={a.gates.map((g) => ({ code: g.code, passed: g.passed, score: g.score, max: g.max_score, ms: g.duration_ms, skipped: g.skipped, issues: g.issues }))} threshold={a.threshold ?? threshold} />
        </details>
      )}
    </li>
  );
}
