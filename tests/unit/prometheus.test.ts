import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeLabelValue,
  formatValue,
  MetricsFormatError,
  parseMetrics,
  renderMetrics,
  sampleValue,
  type MetricFamily,
} from '../../shared/prometheus.ts';
import { metricFamilies, type LocalMeasurements, type MetricsSnapshot } from '../../supabase/functions/metrics/families.ts';
import { NORMALIZER_BOUNDS_S, NormalizerProbe } from '../../supabase/functions/metrics/normalizer-probe.ts';

describe('renderMetrics', () => {
  it('writes HELP and TYPE once per family, then its samples', () => {
    const text = renderMetrics([
      { name: 'jobs_total', help: 'Jobs done.', type: 'counter', samples: [{ labels: { kind: 'a' }, value: 3 }, { labels: { kind: 'b' }, value: 0 }] },
      { name: 'up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] },
      { name: 'empty', help: 'No samples yet.', type: 'gauge', samples: [] },
    ]);
    expect(text).toBe([
      '# HELP jobs_total Jobs done.', '# TYPE jobs_total counter', 'jobs_total{kind="a"} 3', 'jobs_total{kind="b"} 0',
      '# HELP up Up.', '# TYPE up gauge', 'up 1',
      '# HELP empty No samples yet.', '# TYPE empty gauge', '',
    ].join('\n'));
  });

  it('writes histograms as cumulative buckets ending in +Inf, then _sum and _count', () => {
    const text = renderMetrics([{
      name: 'latency_seconds', help: 'Latency.', type: 'histogram', bounds: [0.1, 1],
      samples: [{ labels: { fn: 'x' }, buckets: [2, 3, 1], sum: 4.5 }],
    }]);
    expect(text.split('\n').slice(2, -1)).toEqual([
      'latency_seconds_bucket{fn="x",le="0.1"} 2',
      'latency_seconds_bucket{fn="x",le="1"} 5',
      'latency_seconds_bucket{fn="x",le="+Inf"} 6',
      'latency_seconds_sum{fn="x"} 4.5',
      'latency_seconds_count{fn="x"} 6',
    ]);
  });

  it('escapes label values and HELP text', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderMetrics([{ name: 'm', help: 'line one\nback\\slash', type: 'gauge', samples: [{ labels: { v: 'say "hi"\n' }, value: 1 }] }]);
    expect(text).toContain('# HELP m line one\\nback\\\\slash\n');
    expect(text).toContain('m{v="say \\"hi\\"\\n"} 1\n');
  });

  it('reads back label values and HELP text holding Unicode line separators (U+2028, U+2029)', () => {
    const text = renderMetrics([{ name: 'm', help: 'a\u2028b', type: 'gauge', samples: [{ labels: { v: 'x\u2029y' }, value: 1 }] }]);
    const [family] = parseMetrics(text);
    expect(family?.help).toBe('a\u2028b');
    expect(family?.samples[0]?.labels).toEqual({ v: 'x\u2029y' });
  });

  it('formats special values as Prometheus does', () => {
    expect([NaN, Infinity, -Infinity, 0.25, 1e-7].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0.25', '1e-7']);
  });

  it.each<[string, MetricFamily[]]>([
    ['a counter without _total', [{ name: 'jobs', help: 'h', type: 'counter', samples: [] }]],
    ['an invalid metric name', [{ name: '1bad', help: 'h', type: 'gauge', samples: [] }]],
    ['an invalid label name', [{ name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { 'bad-name': 'x' }, value: 1 }] }]],
    ['a reserved label name', [{ name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { __name__: 'x' }, value: 1 }] }]],
    ['a duplicate label set', [{ name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { a: '1', b: '2' }, value: 1 }, { labels: { b: '2', a: '1' }, value: 2 }] }]],
    ['le on a histogram sample', [{ name: 'h', help: 'h', type: 'histogram', bounds: [1], samples: [{ labels: { le: '1' }, buckets: [0, 0], sum: 0 }] }]],
    ['too few bucket counts', [{ name: 'h', help: 'h', type: 'histogram', bounds: [1, 2], samples: [{ buckets: [1, 1], sum: 0 }] }]],
    ['a negative bucket count', [{ name: 'h', help: 'h', type: 'histogram', bounds: [1], samples: [{ buckets: [-1, 1], sum: 0 }] }]],
    ['bounds out of order', [{ name: 'h', help: 'h', type: 'histogram', bounds: [2, 1], samples: [] }]],
    ['a family twice', [{ name: 'g', help: 'h', type: 'gauge', samples: [] }, { name: 'g', help: 'h', type: 'gauge', samples: [] }]],
  ])('refuses %s', (_, families) => {
    expect(() => renderMetrics(families)).toThrow(MetricsFormatError);
  });
});

describe('parseMetrics', () => {
  it('reads back what renderMetrics wrote, for any label values and numbers', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.string({ unit: 'grapheme' }), fc.oneof(fc.double({ noNaN: true }), fc.integer())), { minLength: 1, maxLength: 5 }),
      (rows) => {
        const samples = rows.map(([label, value], i) => ({ labels: { id: String(i), v: label }, value }));
        const [family] = parseMetrics(renderMetrics([{ name: 'prop_gauge', help: rows[0]![0], type: 'gauge', samples }]));
        expect(family!.help).toBe(rows[0]![0]);
        expect(family!.samples).toEqual(samples.map((s) => ({ name: 'prop_gauge', labels: s.labels, value: s.value === 0 ? 0 : s.value })));
      },
    ));
  });

  it('groups histogram series under their family and finds values by labels', () => {
    const families = parseMetrics(renderMetrics([
      { name: 'h_seconds', help: 'h', type: 'histogram', bounds: [1], samples: [{ labels: { a: 'x' }, buckets: [1, 2], sum: 9 }] },
    ]));
    expect(families).toHaveLength(1);
    expect(families[0]!.samples.map((s) => s.name)).toEqual(['h_seconds_bucket', 'h_seconds_bucket', 'h_seconds_sum', 'h_seconds_count']);
    expect(sampleValue(families, 'h_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(sampleValue(families, 'h_seconds_count', { a: 'y' })).toBeUndefined();
  });

  it.each([
    ['a sample before its TYPE line', 'orphan 1\n'],
    ['malformed labels', '# TYPE g gauge\ng{a=b} 1\n'],
    ['a label given twice', '# TYPE g gauge\ng{a="1",a="2"} 1\n'],
    ['a value that is not a number', '# TYPE g gauge\ng one\n'],
    ['an unknown type', '# TYPE g thing\n'],
  ])('refuses %s', (_, text) => {
    expect(() => parseMetrics(text)).toThrow(MetricsFormatError);
  });
});

const snapshot = (over: Partial<MetricsSnapshot> = {}): MetricsSnapshot => ({
  generated_at: '2026-11-25T00:00:00Z',
  window_s: 3600,
  handoff_bounds_s: [1, 10],
  gate_bounds_s: [0.1],
  handoffs: [{ handoff_type: 'EXEC-TO-PLAN', verdict: 'accepted', count: 4 }],
  handoff_durations: [{ handoff_type: 'EXEC-TO-PLAN', count: 4, sum_s: 6, buckets: [3, 1, 0] }],
  transitions: { completed: 4 },
  would_reject: 0,
  attempts: 5,
  attempts_in_progress: 1,
  oldest_in_progress_s: 12.5,
  notifications_pending: 3,
  oldest_notification_pending_s: 0.4,
  gate_results: [
    { sub_agent: 'A', verdict: 'PASS', count: 3, invalid: 0, normalized: 1, hits: 2 },
    { sub_agent: 'A', verdict: 'ERROR', count: 1, invalid: 1, normalized: 0, hits: 0 },
  ],
  gate_durations: [{ sub_agent: 'A', count: 4, sum_s: 0.2, buckets: [4, 0] }],
  http_idempotent_hits: 7,
  handoff_request_replays: { accepted: 2, unchanged_inputs: 1 },
  dry_runs: 4,
  breakers: [{ sub_agent: 'A', state: 'half_open' }],
  mode_store: { ok: true, error: null, global: 'WARN', modes: [{ scope: '*', mode: 'WARN' }, { scope: 'security', mode: 'ENFORCE' }] },
  unknown_inputs: { handoff_type: 2 },
  ratios: { transition_failure: 0, would_reject: null, idempotent_hit: 0.5, gate_validation_failure: 0.25, unknown_input: 0.004, handoff_avg_duration_s: 1.5 },
  ...over,
});
const local: LocalMeasurements = {
  snapshotSeconds: 0.01, modeStoreFetchErrors: 3, normalizerBounds: [0.001], normalizer: [{ fn: 'normalizeStage', histogram: { buckets: [9, 1], sum: 0.003 } }],
};

describe('metricFamilies', () => {
  const read = (s: MetricsSnapshot | null) => parseMetrics(renderMetrics(metricFamilies(s, local)));

  it('zero-fills the label values alerts divide by, so the first failure is a visible increase', () => {
    const f = read(snapshot());
    expect(sampleValue(f, 'stagegate_transitions_total', { status: 'failed' })).toBe(0);
    expect(sampleValue(f, 'stagegate_transitions_total', { status: 'completed' })).toBe(4);
    expect(sampleValue(f, 'stagegate_handoffs_total', { handoff_type: 'EXEC-TO-PLAN', verdict: 'rejected' })).toBe(0);
    expect(sampleValue(f, 'stagegate_unknown_inputs_total', { kind: 'stage' })).toBe(0);
    expect(sampleValue(f, 'stagegate_unknown_inputs_total', { kind: 'handoff_type' })).toBe(2);
  });

  it('maps breakers and modes to 0/1 state sets, sums per sub-agent, and labels ratios with their window', () => {
    const f = read(snapshot());
    expect(['closed', 'open', 'half_open'].map((state) => sampleValue(f, 'stagegate_breaker_state', { sub_agent: 'A', state }))).toEqual([0, 0, 1]);
    expect(sampleValue(f, 'stagegate_validation_mode', { scope: '*', mode: 'WARN' })).toBe(1);
    expect(sampleValue(f, 'stagegate_validation_mode', { scope: 'security', mode: 'WARN' })).toBe(0);
    expect(sampleValue(f, 'stagegate_gate_validation_failures_total', { sub_agent: 'A' })).toBe(1);
    expect(sampleValue(f, 'stagegate_idempotent_hits_total', { source: 'sub_agent_result' })).toBe(2);
    expect(sampleValue(f, 'stagegate_idempotent_hits_total', { source: 'http' })).toBe(7);
    expect(sampleValue(f, 'stagegate_idempotent_hits_total', { source: 'handoff_request' })).toBe(3);
    expect(sampleValue(f, 'stagegate_dry_runs_total', {})).toBe(4);
    expect(sampleValue(f, 'stagegate_unknown_input_ratio', { window: '1h' })).toBe(0.004);
    expect(sampleValue(f, 'stagegate_would_reject_ratio')).toBeUndefined(); // nothing judged: no sample, not 0
    expect(sampleValue(f, 'stagegate_handoff_duration_seconds_bucket', { le: '10' })).toBe(4);
    expect(sampleValue(f, 'stagegate_oldest_in_progress_attempt_age_seconds')).toBe(12.5);
    expect(sampleValue(f, 'stagegate_transition_notifications_pending')).toBe(3);
    expect(sampleValue(f, 'stagegate_oldest_pending_notification_age_seconds')).toBe(0.4);
    expect(sampleValue(f, 'stagegate_mode_store_up')).toBe(1);
  });

  it('has no outbox age sample when nothing waits (an absent series, not a 0 that looks healthy or stale)', () => {
    const f = read(snapshot({ notifications_pending: 0, oldest_notification_pending_s: null }));
    expect(sampleValue(f, 'stagegate_transition_notifications_pending')).toBe(0);
    expect(sampleValue(f, 'stagegate_oldest_pending_notification_age_seconds')).toBeUndefined();
  });

  it('reports a failed mode-store read as down and keeps the rest', () => {
    const f = read(snapshot({ mode_store: { ok: false, error: 'relation does not exist', modes: [], global: null } }));
    expect(sampleValue(f, 'stagegate_mode_store_up')).toBe(0);
    expect(sampleValue(f, 'stagegate_database_up')).toBe(1);
    expect(sampleValue(f, 'stagegate_handoff_attempts_total')).toBe(5);
  });

  it('without the database: only this instance\'s own numbers, no zeros that would look like resets', () => {
    const f = read(null);
    expect(f.map((x) => x.name)).toEqual(['stagegate_database_up', 'stagegate_snapshot_duration_seconds', 'stagegate_mode_store_up',
      'stagegate_mode_store_fetch_errors_total', 'stagegate_normalizer_duration_seconds']);
    expect(sampleValue(f, 'stagegate_database_up')).toBe(0);
    expect(sampleValue(f, 'stagegate_mode_store_fetch_errors_total')).toBe(3);
    expect(sampleValue(f, 'stagegate_normalizer_duration_seconds_count', { fn: 'normalizeStage' })).toBe(10);
  });
});

describe('NormalizerProbe', () => {
  it('puts an observation in the first bucket whose bound it does not exceed (le is inclusive)', () => {
    const probe = new NormalizerProbe(() => 0);
    probe.observe('normalizeStage', 0.001);
    probe.observe('normalizeStage', 0.0010001);
    probe.observe('normalizeStage', 5);
    const [stage] = probe.histograms();
    const at = (bound: number) => stage!.histogram.buckets[NORMALIZER_BOUNDS_S.indexOf(bound)];
    expect([at(0.001), at(0.0025), stage!.histogram.buckets.at(-1)]).toEqual([1, 1, 1]);
    expect(stage!.histogram.sum).toBeCloseTo(5.0020001, 9);
  });

  it('times every probe input once per run with the injected clock, accumulating across runs', () => {
    let t = 0;
    const probe = new NormalizerProbe(() => (t += 1)); // every call "takes" 1 ms
    probe.run();
    probe.run();
    const byFn = Object.fromEntries(probe.histograms().map((h) => [h.fn, h.histogram]));
    for (const h of Object.values(byFn)) {
      const total = h.buckets.reduce((a, b) => a + b, 0);
      expect(total % 2).toBe(0);
      expect(h.buckets[NORMALIZER_BOUNDS_S.indexOf(0.001)]).toBe(total);
      expect(h.sum).toBeCloseTo(total * 0.001, 9);
    }
    expect(byFn.normalizeStage!.buckets.reduce((a, b) => a + b, 0)).toBeGreaterThan(60);
    expect(byFn.parseStageDistribution!.buckets.reduce((a, b) => a + b, 0)).toBe(10);
  });
});
