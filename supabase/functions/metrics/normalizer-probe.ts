// The memo's latency budget (p99 < 1 ms) is about the stage normaliser as deployed. Handoff
// requests normalise their inputs in other instances, which keep no counters (stateless), so
// this instance measures the same code itself: at every scrape it times the shared normaliser
// on a fixed probe of inputs (canonical names, variants, typos, junk, distributions) and adds
// the timings to a histogram it keeps in memory. Cumulative within the instance; a restart is a
// counter reset, which rate() and histogram_quantile() handle. Pure: the clock is injected.
import type { HistogramSample } from '../../../shared/prometheus.ts';
import { HANDOFF_TYPES, PHASES, PHASE_SYNONYMS, normalizeHandoffType, normalizeStage, parseStageDistribution } from '../../../shared/stages.ts';

/** Seconds; 1 ms sits on a bound so the alert's threshold is exact. */
export const NORMALIZER_BOUNDS_S: readonly number[] = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01,
];

const variants = (name: string): string[] => [
  name, name.toLowerCase(), ` ${name.replace(/[_-]/g, ' ')} `, name.replace(/[_-]/g, ''), name.toLowerCase().replace(/[_-]/g, '-'),
];
const typo = (name: string): string => `${name.slice(0, 2)}x${name.slice(3)}`;

const STAGE_INPUTS: readonly string[] = [
  ...PHASES.flatMap(variants),
  ...Object.values(PHASE_SYNONYMS).flat().map((s) => s.toLowerCase()),
  ...PHASES.map(typo),
  'deploy', 'qa?', 'vérification', '', 'x'.repeat(180),
];
const HANDOFF_INPUTS: readonly string[] = [
  ...HANDOFF_TYPES.flatMap(variants), 'exec2plan', 'implementation to planning', ...HANDOFF_TYPES.map(typo), 'EXEC-TO-QA',
];
const DISTRIBUTIONS: readonly unknown[] = [
  { LEAD: 1, PLAN: 2, EXEC: 3 },
  { lead: 1, planning: 2, 'exec impl': 3, verify: 1, deploy: 4 },
  ['LEAD', 'plan', 'exec', 'done', 'unknown-stage'],
  'EXEC_COMPLETE',
  { PLAN: -1, EXEC: 1.5, VERIFICATION: '2' },
];

export const PROBE_FUNCTIONS = ['normalizeStage', 'normalizeHandoffType', 'parseStageDistribution'] as const;
type ProbeFn = (typeof PROBE_FUNCTIONS)[number];

export class NormalizerProbe {
  private readonly buckets = new Map<ProbeFn, number[]>();
  private readonly sums = new Map<ProbeFn, number>();

  constructor(private readonly nowMs: () => number = () => performance.now()) {
    for (const fn of PROBE_FUNCTIONS) {
      this.buckets.set(fn, new Array<number>(NORMALIZER_BOUNDS_S.length + 1).fill(0));
      this.sums.set(fn, 0);
    }
  }

  /** Adds one observation, in seconds, to fn's histogram. */
  observe(fn: ProbeFn, seconds: number): void {
    const counts = this.buckets.get(fn)!;
    const i = NORMALIZER_BOUNDS_S.findIndex((b) => seconds <= b);
    counts[i === -1 ? NORMALIZER_BOUNDS_S.length : i]! += 1;
    this.sums.set(fn, this.sums.get(fn)! + seconds);
  }

  private time(fn: ProbeFn, call: () => unknown): void {
    const started = this.nowMs();
    call();
    this.observe(fn, Math.max(0, this.nowMs() - started) / 1000);
  }

  /** Times every probe input once. */
  run(): void {
    for (const input of STAGE_INPUTS) this.time('normalizeStage', () => normalizeStage(input));
    for (const input of HANDOFF_INPUTS) this.time('normalizeHandoffType', () => normalizeHandoffType(input));
    for (const input of DISTRIBUTIONS) this.time('parseStageDistribution', () => parseStageDistribution(input));
  }

  histograms(): { fn: string; histogram: HistogramSample }[] {
    return PROBE_FUNCTIONS.map((fn) => ({ fn, histogram: { buckets: [...this.buckets.get(fn)!], sum: this.sums.get(fn)! } }));
  }
}
