import { describe, expect, it } from 'vitest';
import { BUILTIN_GATES, builtinGate } from '../../shared/builtin-gates.ts';
import { normalizeGateResult } from '../../shared/gate-result.ts';

const signal = new AbortController().signal;
const run = async (code: string, context: unknown) => {
  const raw = await BUILTIN_GATES[code]!(context, signal);
  const n = normalizeGateResult(raw, code, { strict: true }); // builtins must need no repair
  if (!n.ok) throw new Error(n.error);
  return n.result;
};

describe('STORY_POINTS_ESTIMATED', () => {
  it('passes when every story is estimated, scores the share otherwise', async () => {
    expect(await run('STORY_POINTS_ESTIMATED', { stories: [{ story_points: 3 }, { story_points: '5' }] }))
      .toMatchObject({ passed: true, score: 100 });
    const r = await run('STORY_POINTS_ESTIMATED', { stories: [{ story_key: 'US-1', story_points: 3 }, { title: 'Login', story_points: 0 }, {}] });
    expect(r).toMatchObject({ passed: false, score: 33.3, issues: ['Login has no story-point estimate', 'story #3 has no story-point estimate'] });
  });
  it('is vacuously true without stories, with a warning', async () => {
    expect(await run('STORY_POINTS_ESTIMATED', {})).toMatchObject({ passed: true, warnings: ['No user stories to estimate'] });
    expect(await run('STORY_POINTS_ESTIMATED', null)).toMatchObject({ passed: true });
  });
});

describe('PRD_OBJECTIVES_MEASURABLE', () => {
  it('fails without a PRD or objectives', async () => {
    expect(await run('PRD_OBJECTIVES_MEASURABLE', { prd: null })).toMatchObject({ passed: false, issues: ['No PRD for this strategic directive'] });
    expect(await run('PRD_OBJECTIVES_MEASURABLE', { prd: { title: 'x' } })).toMatchObject({ passed: false, score: 0 });
  });
  it('accepts objectives with numbers or metric fields, flags vague ones', async () => {
    const prd = {
      objectives: ['Cut p95 latency to 200 ms', { objective: 'Happier users', metric: 'NPS', target: 40 }, 'Make it better'],
      success_metrics: JSON.stringify([{ title: 'Fewer errors' }]),
    };
    const r = await run('PRD_OBJECTIVES_MEASURABLE', { prd });
    expect(r).toMatchObject({ passed: false, score: 75, issues: ['Objective is not measurable: Make it better'] });
    expect(await run('PRD_OBJECTIVES_MEASURABLE', { prd: { objectives: 'Reach 99.9% uptime' } })).toMatchObject({ passed: true, score: 100 });
    expect(await run('PRD_OBJECTIVES_MEASURABLE', { prd: { objectives: 'not json [' } })).toMatchObject({ passed: false });
  });
});

describe('NO_OPEN_BLOCKERS', () => {
  it('passes with no blocked story and no open directive blocker', async () => {
    expect(await run('NO_OPEN_BLOCKERS', { sd: { blockers: [{ title: 'x', status: 'resolved' }] }, stories: [{ status: 'done' }] }))
      .toMatchObject({ passed: true, score: 100, issues: [] });
  });
  it('reports blocked stories and open directive blockers', async () => {
    const r = await run('NO_OPEN_BLOCKERS', {
      sd: { metadata: { blockers: ['Vendor contract unsigned'] } },
      stories: [{ story_key: 'US-2', status: 'blocked' }, { status: 'in_progress', blocked: true }, { status: 'done' }],
    });
    expect(r.passed).toBe(false);
    expect(r.score).toBe(0);
    expect(r.issues).toEqual(['Open blocker on the directive: Vendor contract unsigned', 'US-2 is blocked', 'story #2 is blocked']);
    expect(await run('NO_OPEN_BLOCKERS', { stories: [{ status: 'ON_HOLD' }, { status: 'done' }] }))
      .toMatchObject({ passed: false, score: 50, warnings: ['Context has no directive row'] });
  });
});

describe('registry', () => {
  it('looks gates up by name only among own keys and honours an aborted signal', async () => {
    expect(builtinGate('NO_OPEN_BLOCKERS')).toBe(BUILTIN_GATES.NO_OPEN_BLOCKERS);
    expect(builtinGate('toString')).toBeUndefined();
    const c = new AbortController();
    c.abort(new Error('stop'));
    for (const g of Object.values(BUILTIN_GATES)) await expect(g({}, c.signal)).rejects.toThrow('stop');
  });
});
