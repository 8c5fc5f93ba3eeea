// Builtin gates: TypeScript checks over the handoff's context snapshot ({ sd, prd, stories }).
// The snapshot's shape belongs to the SQL core and may grow, so every field is read tolerantly.
import type { GateResult } from './gate-result.ts';

export type BuiltinGate = (context: unknown, signal: AbortSignal) => Promise<GateResult>;

type Row = Record<string, unknown>;

const isRow = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

function snapshot(context: unknown): { sd: Row | null; prd: Row | null; stories: Row[] } {
  const c = isRow(context) ? context : {};
  return {
    sd: isRow(c.sd) ? c.sd : null,
    prd: isRow(c.prd) ? c.prd : null,
    stories: Array.isArray(c.stories) ? c.stories.filter(isRow) : [],
  };
}

function storyName(s: Row, i: number): string {
  for (const k of ['story_key', 'key', 'title', 'id']) {
    const v = s[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  return `story #${i + 1}`;
}

/** Share of items that passed, as a 0..100 score rounded to one decimal. */
function percent(good: number, total: number): number {
  return total === 0 ? 100 : Math.round((good / total) * 1000) / 10;
}

/** A JSON array column may arrive parsed or as JSON text. */
function asList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v);
      return Array.isArray(parsed) ? parsed : v.trim() ? [v] : [];
    } catch {
      return v.trim() ? [v] : [];
    }
  }
  return [];
}

/** The checks are synchronous; this gives them the async gate signature and honours the signal. */
function gate(check: (context: unknown) => GateResult): BuiltinGate {
  return (context, signal) => {
    if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    try {
      return Promise.resolve(check(context));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/** Every story carries a positive story-point estimate. */
const storyPointsEstimated = gate((context) => {
  const { stories } = snapshot(context);
  if (stories.length === 0) {
    return { passed: true, score: 100, maxScore: 100, issues: [], warnings: ['No user stories to estimate'] };
  }
  const missing = stories
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => {
      const p = typeof s.story_points === 'string' ? Number(s.story_points) : s.story_points;
      return !(typeof p === 'number' && Number.isFinite(p) && p > 0);
    });
  return {
    passed: missing.length === 0,
    score: percent(stories.length - missing.length, stories.length),
    maxScore: 100,
    issues: missing.map(({ s, i }) => `${storyName(s, i)} has no story-point estimate`),
    warnings: [],
  };
});

const MEASURE_KEYS = ['metric', 'target', 'measure', 'success_metric', 'kpi', 'threshold'];
const MEASURABLE_TEXT = /\d|%|percent|latency|throughput|per (second|minute|hour|day)|at (least|most)|within|fewer|less than|more than/i;

function objectiveText(o: unknown): string {
  if (typeof o === 'string') return o;
  if (isRow(o)) {
    for (const k of ['objective', 'title', 'description', 'text', 'name']) if (typeof o[k] === 'string') return o[k];
  }
  return JSON.stringify(o) ?? '';
}

function isMeasurable(o: unknown): boolean {
  if (isRow(o) && MEASURE_KEYS.some((k) => o[k] !== undefined && o[k] !== null && o[k] !== '')) return true;
  return MEASURABLE_TEXT.test(objectiveText(o));
}

/** The PRD states objectives, and each one names a metric, a target or a number. */
const prdObjectivesMeasurable = gate((context) => {
  const { prd } = snapshot(context);
  if (!prd) return { passed: false, score: 0, maxScore: 100, issues: ['No PRD for this strategic directive'], warnings: [] };
  const objectives = [...asList(prd.objectives), ...asList(prd.success_metrics), ...asList(prd.success_criteria)];
  if (objectives.length === 0) {
    return { passed: false, score: 0, maxScore: 100, issues: ['PRD states no objectives or success metrics'], warnings: [] };
  }
  const vague = objectives.filter((o) => !isMeasurable(o));
  return {
    passed: vague.length === 0,
    score: percent(objectives.length - vague.length, objectives.length),
    maxScore: 100,
    issues: vague.map((o) => `Objective is not measurable: ${objectiveText(o).slice(0, 120)}`),
    warnings: [],
  };
});

const OPEN_BLOCKER = /^(blocked|on[_ -]?hold|impeded)$/i;
const CLOSED = /^(resolved|closed|done|fixed|mitigated|cancel+ed|wont[_ -]?fix)$/i;

function openSdBlockers(sd: Row | null): string[] {
  if (!sd) return [];
  const meta = isRow(sd.metadata) ? sd.metadata : {};
  return [...asList(sd.blockers), ...asList(meta.blockers)]
    .filter((b) => !(isRow(b) && typeof b.status === 'string' && CLOSED.test(b.status)))
    .map((b) => `Open blocker on the directive: ${objectiveText(b).slice(0, 120)}`);
}

/** No story is blocked and the directive lists no unresolved blocker. */
const noOpenBlockers = gate((context) => {
  const { sd, stories } = snapshot(context);
  const blocked = stories
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => (typeof s.status === 'string' && OPEN_BLOCKER.test(s.status)) || s.blocked === true);
  const sdIssues = openSdBlockers(sd);
  const issues = [...sdIssues, ...blocked.map(({ s, i }) => `${storyName(s, i)} is blocked`)];
  const total = stories.length + (sdIssues.length > 0 ? 1 : 0);
  return {
    passed: issues.length === 0,
    score: sdIssues.length > 0 ? 0 : percent(stories.length - blocked.length, total),
    maxScore: 100,
    issues,
    warnings: sd ? [] : ['Context has no directive row'],
  };
});

export const BUILTIN_GATES: Readonly<Record<string, BuiltinGate>> = {
  STORY_POINTS_ESTIMATED: storyPointsEstimated,
  PRD_OBJECTIVES_MEASURABLE: prdObjectivesMeasurable,
  NO_OPEN_BLOCKERS: noOpenBlockers,
};

/** Dispatches a builtin gate by its target (or code); an unknown name is a 4xx-like failure. */
export function builtinGate(name: string): BuiltinGate | undefined {
  return Object.hasOwn(BUILTIN_GATES, name) ? BUILTIN_GATES[name] : undefined;
}
