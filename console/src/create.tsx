// A new directive with its PRD and stories, sent as one request (created in one transaction).
import { useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { Workflow } from '../../shared/directives-schema.ts';
import { ErrorNote } from './ui.tsx';

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

export function CreateDirective({ api, workflow }: { api: StagegateClient; workflow: Workflow }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const get = (k: string) => String(f.get(k) ?? '').trim();
    const stories = lines(get('stories')).map((l, i) => {
      const m = /^([A-Za-z0-9_.-]+):\s*(.+)$/.exec(l);
      return m ? { story_key: m[1]!, title: m[2]!, acceptance_criteria: lines(get('story_criteria')) } : { story_key: `US-${i + 1}`, title: l, acceptance_criteria: lines(get('story_criteria')) };
    });
    setBusy(true);
    setError(null);
    try {
      const created = await api.createDirective({
        ...(get('id') ? { id: get('id') } : {}),
        title: get('title'),
        description: get('description') || undefined,
        sd_type: get('sd_type') || undefined,
        success_criteria: lines(get('success_criteria')),
        ...(get('prd_title') ? {
          prd: {
            title: get('prd_title'), executive_summary: get('prd_summary') || undefined,
            functional_requirements: lines(get('prd_requirements')), acceptance_criteria: lines(get('prd_criteria')), test_scenarios: lines(get('prd_tests')),
          },
        } : {}),
        stories,
      });
      location.hash = `#/d/${encodeURIComponent(created.directive.id)}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New directive</h1>
      <p class="muted">The directive, its PRD and its stories are created together or not at all. It starts in LEAD; phases change only through handoffs.</p>
      {error ? <ErrorNote error={error} /> : null}
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <fieldset>
          <legend>Directive</legend>
          <label>Key <span class="muted">(optional, e.g. SD-BILLING-001)</span><input name="id" pattern="SD-[A-Z0-9]+(-[A-Z0-9]+)*" /></label>
          <label>Title<input name="title" required maxLength={500} /></label>
          <label>Type
            <select name="sd_type" defaultValue="feature">
              {Object.entries(workflow.thresholds).filter(([t]) => t !== 'default').sort().map(([t, v]) => <option key={t} value={t}>{t} (threshold {v})</option>)}
            </select>
          </label>
          <label>Description<textarea name="description" rows={2} /></label>
          <label>Success criteria <span class="muted">(one per line)</span><textarea name="success_criteria" rows={2} /></label>
        </fieldset>
        <fieldset>
          <legend>PRD</legend>
          <label>PRD title <span class="muted">(leave empty for no PRD yet)</span><input name="prd_title" /></label>
          <label>Executive summary<textarea name="prd_summary" rows={2} /></label>
          <label>Functional requirements <span class="muted">(one per line)</span><textarea name="prd_requirements" rows={2} /></label>
          <label>Acceptance criteria <span class="muted">(one per line)</span><textarea name="prd_criteria" rows={2} /></label>
          <label>Test scenarios <span class="muted">(one per line)</span><textarea name="prd_tests" rows={2} /></label>
        </fieldset>
        <fieldset>
          <legend>User stories</legend>
          <label>Stories <span class="muted">(one per line, optionally KEY: title)</span><textarea name="stories" rows={3} /></label>
          <label>Acceptance criteria for each story <span class="muted">(one per line)</span><textarea name="story_criteria" rows={2} /></label>
        </fieldset>
        <div class="row"><button class="primary" type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create directive'}</button><a href="#/">Cancel</a></div>
      </form>
    </section>
  );
}
