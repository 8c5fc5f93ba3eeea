// Approvals on a directive's page: each handoff that waited for people, who asked and when, what
// it still needs, every decision with who made it; approve / reject for those the API says may
// decide (can_decide, computed in SQL by the rule fn_decide_approval applies), and why not for
// everyone else. Overrides of rejected handoffs, with who and why.
import { useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { ApprovalRequest, DirectiveDetail } from '../../shared/directives-schema.ts';
import { Badge, ErrorNote, PersonName, round, verdictKind, when } from './ui.tsx';

/** Why the signed-in person cannot decide, in words; the API's code stays visible beside it. */
function whyNot(r: ApprovalRequest): string {
  const code = r.cannot_decide?.code;
  const roles = r.approver_roles?.join(' or ');
  if (code === 'SELF_APPROVAL') return `You asked for this handoff, so someone else${roles ? ` (${roles})` : ''} must decide it.`;
  if (code === 'NOT_AN_APPROVER') return `You are not one of its approvers${roles ? `: it waits for ${roles}` : ''}.`;
  if (code === 'ALREADY_DECIDED') return `You ${r.my_decision === 'reject' ? 'rejected' : 'approved'} it; a decision is made once.`;
  return r.cannot_decide?.message ?? '';
}

const STATUS: Record<string, string> = {
  awaiting_approval: 'waiting for approval', completed: 'approved', rejected: 'rejected', failed: 'failed', expired: 'expired',
};

export function ApprovalsPanel({ api, detail, onChanged }: { api: StagegateClient; detail: DirectiveDetail; onChanged: () => void }) {
  if (detail.approvals.length === 0 && detail.overrides.length === 0) return null;
  return (
    <section class="panel" aria-labelledby="approvals-title" data-testid="approvals">
      <h2 id="approvals-title">Approvals</h2>
      <ol class="timeline">
        {detail.approvals.map((r) => <ApprovalItem key={r.attempt_id} api={api} r={r} onChanged={onChanged} />)}
      </ol>
      {detail.overrides.length > 0 && (
        <>
          <h3>Overrides</h3>
          <ul class="plain">
            {detail.overrides.map((o) => (
              <li key={o.id} data-override={o.id}>
                <strong>{o.handoff_type}</strong> accepted by <PersonName p={o.by} /> ({o.role}) · {when(o.created_at)}
                <span class="muted small"> · score {round(o.score)} / {round(o.threshold)}{o.failed_gate ? `, failed ${o.failed_gate}` : ''}</span>
                <div class="small">“{o.reason}”</div>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function ApprovalItem({ api, r, onChanged }: { api: StagegateClient; r: ApprovalRequest; onChanged: () => void }) {
  const waiting = r.status === 'awaiting_approval';
  // kept here, not in the form: a refusal stays readable after the reload that may close the form
  const [error, setError] = useState<unknown>(null);
  return (
    <li class="attempt approval" data-attempt={r.attempt_id} data-status={r.status}>
      <div class="row wrap">
        <strong>{r.handoff_type}</strong>
        <Badge kind={waiting ? 'warn' : verdictKind(r.verdict ?? r.status)}>{STATUS[r.status] ?? r.status}</Badge>
        <span class="muted small">{r.from_phase} → {r.to_phase}</span>
      </div>
      <p class="small" data-testid="requested-by">
        Requested by <PersonName p={r.requested_by} role="service role" /> · {when(r.requested_at)}
        {waiting && r.deadline ? <> · decide by {when(r.deadline)}</> : null}
        {!waiting && r.settled_at ? <> · settled {when(r.settled_at)}</> : null}
      </p>
      {waiting && (
        <p class="small">
          Needs <strong>{r.approvals_needed ?? '?'}</strong> more approval{r.approvals_needed === 1 ? '' : 's'}
          {r.approver_roles && r.approver_roles.length > 0 ? <> from {r.approver_roles.join(' or ')}</> : null}
          {r.gates.length > 0 && <span class="muted"> ({r.gates.map((g) => `${g.code} ${g.approvals}/${g.approvals_required}`).join(', ')})</span>}
        </p>
      )}
      {r.decisions.length > 0 && (
        <ul class="plain decisions small" aria-label="Decisions">
          {r.decisions.map((d) => (
            <li key={`${d.by.user_id}-${d.decided_at}`} data-decision={d.decision}>
              <Badge kind={verdictKind(d.decision)}>{d.decision === 'approve' ? 'approved' : 'rejected'}</Badge>{' '}
              by <PersonName p={d.by} /> <span class="muted">({d.role})</span> · {when(d.decided_at)}
              {d.comment && <div class="small">“{d.comment}”</div>}
            </li>
          ))}
        </ul>
      )}
      {waiting && (r.can_decide
        ? <DecisionForm api={api} r={r} onChanged={onChanged} onError={setError} />
        : <p class="muted small" data-testid="cannot-decide">{whyNot(r)} <code>{r.cannot_decide?.code}</code></p>)}
      {error ? <ErrorNote error={error} /> : null}
    </li>
  );
}

function DecisionForm({ api, r, onChanged, onError }: { api: StagegateClient; r: ApprovalRequest; onChanged: () => void; onError: (e: unknown) => void }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const id = `comment-${r.attempt_id}`;

  const decide = async (decision: 'approve' | 'reject') => {
    setBusy(decision);
    onError(null);
    try {
      await api.decideApproval(r.attempt_id, { decision, ...(comment.trim() ? { comment: comment.trim() } : {}) });
      onChanged();
    } catch (err) {
      onError(err);
      // a refusal can mean the state moved on (decided by someone else, expired): show it as it is now
      onChanged();
    } finally {
      setBusy(null);
    }
  };

  return (
    <form class="decide stack" data-testid="decide" onSubmit={(e) => { e.preventDefault(); void decide('approve'); }}>
      <label for={id}>Comment <span class="muted">(the requester reads it; a rejection needs one)</span></label>
      <textarea id={id} rows={2} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      <div class="row wrap">
        <button type="submit" class="primary" disabled={busy !== null}>{busy === 'approve' ? 'Approving…' : 'Approve'}</button>
        <button type="button" class="danger" disabled={busy !== null} onClick={() => void decide('reject')}>{busy === 'reject' ? 'Rejecting…' : 'Reject'}</button>
      </div>
    </form>
  );
}
