// The board: directives by phase with counts, filters, waiting-for-approval marked.
import { useEffect, useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { DirectiveList, DirectiveSummary, Workflow } from '../../shared/directives-schema.ts';
import { Badge, ErrorNote, round, verdictKind } from './ui.tsx';

interface Filters { phase: string; sd_type: string; q: string; team: string }

export function Board({ api, workflow }: { api: StagegateClient; workflow: Workflow }) {
  const [filters, setFilters] = useState<Filters>({ phase: '', sd_type: '', q: '', team: '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [page, setPage] = useState<DirectiveList | null>(null);
  const [items, setItems] = useState<DirectiveSummary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  const load = async (cursor?: string) => {
    setLoading(true);
    setError(null);
    try {
      const next = await api.listDirectives({ phase: applied.phase || undefined, sd_type: applied.sd_type || undefined, q: applied.q || undefined, team: applied.team || undefined, limit: 60, cursor });
      setPage(next);
      setItems((prev) => (cursor ? [...prev, ...next.items] : next.items));
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { void load(); }, [applied]);

  const phases = workflow.phases.filter((p) => !applied.phase || p.phase === applied.phase);
  const total = Object.values(page?.counts ?? {}).reduce((a, b) => a + b, 0);
  return (
    <section aria-labelledby="board-title">
      <div class="titlebar">
        <h1 id="board-title">Directives <span class="muted">({total})</span></h1>
        <a class="button primary" href="#/new">New directive</a>
      </div>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setApplied(filters); }}>
        <label>Phase
          <select value={filters.phase} onChange={(e) => setFilters({ ...filters, phase: e.currentTarget.value })}>
            <option value="">all</option>
            {workflow.phases.map((p) => <option key={p.phase} value={p.phase}>{p.phase}</option>)}
          </select>
        </label>
        <label>Type
          <select value={filters.sd_type} onChange={(e) => setFilters({ ...filters, sd_type: e.currentTarget.value })}>
            <option value="">all</option>
            {Object.keys(workflow.thresholds).filter((t) => t !== 'default').sort().map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        <label>Team id
          <input value={filters.team} placeholder="any" onInput={(e) => setFilters({ ...filters, team: e.currentTarget.value.trim() })} />
        </label>
        <label class="grow">Text
          <input type="search" value={filters.q} placeholder="key, title or description" onInput={(e) => setFilters({ ...filters, q: e.currentTarget.value })} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {error ? <ErrorNote error={error} onRetry={() => void load()} /> : null}
      <div class="board" aria-busy={loading}>
        {phases.map((p) => {
          const cards = items.filter((d) => d.current_phase === p.phase);
          const count = page?.counts[p.phase] ?? 0;
          return (
            <section class="column" key={p.phase} aria-label={`${p.phase}: ${count}`} data-phase={p.phase}>
              <h2 title={p.description}>{p.phase} <span class="count">{count}</span></h2>
              {cards.length === 0 && <p class="muted small">{count > 0 ? 'more below the loaded page' : 'none'}</p>}
              {cards.map((d) => <Card key={d.id} d={d} />)}
            </section>
          );
        })}
      </div>
      {page?.next_cursor && (
        <p><button type="button" disabled={loading} onClick={() => void load(page.next_cursor ?? undefined)}>Load more</button></p>
      )}
    </section>
  );
}

function Card({ d }: { d: DirectiveSummary }) {
  const last = d.last_handoff;
  return (
    <a class="card" href={`#/d/${encodeURIComponent(d.id)}`} data-sd={d.id}>
      <span class="key">{d.id}</span>
      <span class="title">{d.title}</span>
      <span class="meta">
        <Badge>{d.sd_type} · {round(d.threshold, 0)}</Badge>
        {d.awaiting_approval && <Badge kind="warn">awaiting approval</Badge>}
        {last && <Badge kind={verdictKind(last.status)}>{last.handoff_type} {last.status} {round(last.score, 0)}</Badge>}
      </span>
    </a>
  );
}
