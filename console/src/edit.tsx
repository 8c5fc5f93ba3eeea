// Editing a directive's content: its title, description, scope, priority and success criteria,
// its PRD and its stories' titles and acceptance criteria, sent as one PATCH (one transaction).
// Only the fields that changed are sent, so structured list items nobody touched stay as they are.
// What is valid is the API's answer: its INVALID_INPUT issues are shown beside their fields.
import { useState } from 'preact/hooks';
import type { StagegateClient } from '../../shared/client.ts';
import type { DirectiveDetail, DirectivePatch } from '../../shared/directives-schema.ts';
import { ErrorNote, fieldIssues } from './ui.tsx';

const PRIORITIES = ['critical', 'high', 'medium', 'low'];
const asLines = (items: unknown[]) => items.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n');
const fromLines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** The form's values: every field as text, keyed by the API path it is sent under. */
function initial(d: DirectiveDetail): Record<string, string> {
  const v: Record<string, string> = {
    'directive.title': d.directive.title,
    'directive.description': d.directive.description ?? '',
    'directive.scope': d.directive.scope ?? '',
    'directive.priority': d.directive.priority,
    'directive.success_criteria': asLines(d.directive.success_criteria),
  };
  if (d.prd) {
    v['prd.title'] = d.prd.title;
    v['prd.executive_summary'] = d.prd.executive_summary ?? '';
    v['prd.functional_requirements'] = asLines(d.prd.functional_requirements);
    v['prd.acceptance_criteria'] = asLines(d.prd.acceptance_criteria);
    v['prd.test_scenarios'] = asLines(d.prd.test_scenarios);
  }
  for (const s of d.stories) {
    v[`story:${s.story_key}.title`] = s.title;
    v[`story:${s.story_key}.acceptance_criteria`] = asLines(s.acceptance_criteria);
  }
  return v;
}

const LISTS = new Set(['success_criteria', 'functional_requirements', 'acceptance_criteria', 'test_scenarios']);
const NULLABLE = new Set(['description', 'scope', 'executive_summary']);

/** The PATCH body of what changed, and where each story went in it (the API's issues name indexes). */
function patchOf(before: Record<string, string>, now: Record<string, string>): { patch: DirectivePatch; storyAt: string[] } {
  const directive: Record<string, unknown> = {};
  const prd: Record<string, unknown> = {};
  const stories = new Map<string, Record<string, unknown>>();
  for (const [key, value] of Object.entries(now)) {
    if (value === before[key]) continue;
    const [part, field] = key.split('.') as [string, string];
    const typed = LISTS.has(field) ? fromLines(value) : NULLABLE.has(field) && value.trim() === '' ? null : value;
    if (part === 'directive') directive[field] = typed;
    else if (part === 'prd') prd[field] = typed;
    else {
      const storyKey = part.slice('story:'.length);
      stories.set(storyKey, { ...(stories.get(storyKey) ?? { story_key: storyKey }), [field]: typed });
    }
  }
  const patch: Record<string, unknown> = {};
  if (Object.keys(directive).length > 0) patch.directive = directive;
  if (Object.keys(prd).length > 0) patch.prd = prd;
  if (stories.size > 0) patch.stories = [...stories.values()];
  return { patch: patch as DirectivePatch, storyAt: [...stories.keys()] };
}

export function EditDirective({ api, detail, onSaved, onCancel }: {
  api: StagegateClient; detail: DirectiveDetail; onSaved: (d: DirectiveDetail) => void; onCancel: () => void;
}) {
  const [before] = useState(() => initial(detail));
  const [values, setValues] = useState(before);
  const [error, setError] = useState<unknown>(null);
  const [issues, setIssues] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    const { patch, storyAt } = patchOf(before, values);
    setError(null);
    setIssues({});
    setNote('');
    if (Object.keys(patch).length === 0) return setNote('Nothing changed.');
    setBusy(true);
    try {
      onSaved(await api.updateDirective(detail.directive.id, patch));
    } catch (err) {
      // the API's paths (stories.<index>.title) back to the form's fields (story:<key>.title)
      const byPath: Record<string, string> = {};
      for (const [path, message] of Object.entries(fieldIssues(err))) {
        const m = /^stories\.(\d+)\.(\w+)$/.exec(path);
        byPath[m ? `story:${storyAt[Number(m[1])] ?? '?'}.${m[2]}` : path] = message;
      }
      setIssues(byPath);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (key: string, label: string, kind: 'input' | 'textarea' | 'lines' = 'input', hint?: string) => {
    const id = `edit-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
    const problem = issues[key];
    const common = {
      id, name: key, value: values[key] ?? '', 'aria-invalid': problem ? 'true' as const : undefined,
      'aria-describedby': problem ? `${id}-error` : undefined,
      onInput: (ev: Event) => setValues({ ...values, [key]: (ev.currentTarget as HTMLInputElement).value }),
    };
    return (
      <div class="field" key={key}>
        <label for={id}>{label}{kind === 'lines' ? <span class="muted"> (one per line)</span> : hint ? <span class="muted"> ({hint})</span> : null}</label>
        {kind === 'input' ? <input {...common} /> : <textarea rows={kind === 'lines' ? 3 : 2} {...common} />}
        {problem && <span class="field-error" id={`${id}-error`}>{problem}</span>}
      </div>
    );
  };

  return (
    <form class="panel stack edit" aria-labelledby="edit-title" data-testid="edit" onSubmit={(e) => void submit(e)} noValidate>
      <h2 id="edit-title">Edit content</h2>
      <p class="muted small">Phase, status and version change only through handoffs.</p>
      {error ? <ErrorNote error={error} /> : null}
      <fieldset>
        <legend>Directive</legend>
        {field('directive.title', 'Title')}
        {field('directive.description', 'Description', 'textarea')}
        {field('directive.scope', 'Scope', 'textarea')}
        <div class="field">
          <label for="edit-directive-priority">Priority</label>
          <select id="edit-directive-priority" value={values['directive.priority']}
            onChange={(ev) => setValues({ ...values, 'directive.priority': ev.currentTarget.value })}>
            {PRIORITIES.map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
          {issues['directive.priority'] && <span class="field-error">{issues['directive.priority']}</span>}
        </div>
        {field('directive.success_criteria', 'Success criteria', 'lines')}
      </fieldset>
      {detail.prd && (
        <fieldset>
          <legend>PRD {detail.prd.id}</legend>
          {field('prd.title', 'PRD title')}
          {field('prd.executive_summary', 'Executive summary', 'textarea')}
          {field('prd.functional_requirements', 'Functional requirements', 'lines')}
          {field('prd.acceptance_criteria', 'PRD acceptance criteria', 'lines')}
          {field('prd.test_scenarios', 'Test scenarios', 'lines')}
        </fieldset>
      )}
      {detail.stories.length > 0 && (
        <fieldset>
          <legend>Stories</legend>
          {detail.stories.map((s) => (
            <div class="story-fields" key={s.story_key}>
              {field(`story:${s.story_key}.title`, `${s.story_key} title`)}
              {field(`story:${s.story_key}.acceptance_criteria`, `${s.story_key} acceptance criteria`, 'lines')}
            </div>
          ))}
        </fieldset>
      )}
      {note && <p role="status">{note}</p>}
      <div class="row wrap">
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Saving…' : 'Save changes'}</button>
        <button type="button" onClick={onCancel} disabled={busy}>Cancel</button>
      </div>
    </form>
  );
}
