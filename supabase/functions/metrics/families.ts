// From fn_metrics_snapshot's answer (plus the few numbers only this instance knows) to metric
// families. Pure and runtime-agnostic, so the unit tests run it under Node.
//
// Counters are zero-filled for every label value we know of (all transition statuses, every
// verdict of a handoff type seen, both idempotency sources, every unknown-input kind): rate()
// needs the series to exist BEFORE its first increment, or the first failure is invisible.
import type { HistogramSample, MetricFamily, Sample } from '../../../shared/prometheus.ts';
import { VALIDATION_MODES } from '../../../shared/mode-cache.ts';

export interface Histogram {
  count: number;
  sum_s: number;
  buckets: number[];
}

/** The jsonb returned by public.fn_metrics_snapshot() (supabase/schemas/11_metrics.sql). */
export interface MetricsSnapshot {
  generated_at: string;
  window_s: number;
  handoff_bounds_s: number[];
  gate_bounds_s: number[];
  handoffs: { handoff_type: string; verdict: string; count: number }[];
  handoff_durations: ({ handoff_type: string } & Histogram)[];
  transitions: Record<string, number>;
  would_reject: number;
  attempts: number;
  attempts_in_progress: number;
  oldest_in_progress_s: number | null;
  notifications_pending: number;
  /** Approvals (20261201070100): attempts waiting for people, overrides per SD type (zero-filled). */
  attempts_awaiting_approval?: number;
  overrides?: Record<string, number>;
  oldest_notification_pending_s: number | null;
  gate_results: { sub_agent: string; verdict: string; count: number; invalid: number; normalized: number; hits: number }[];
  gate_durations: ({ sub_agent: string } & Histogram)[];
  http_idempotent_hits: number;
  /** Replays of a finished handoff request id (HTTP derived id or SQL request id), by reason. */
  handoff_request_replays: Record<string, number>;
  dry_runs: number;
  breakers: { sub_agent: string; state: string }[];
  mode_store: { ok: boolean; error: string | null; modes: { scope: string; mode: string }[]; global: string | null };
  unknown_inputs: Record<string, number>;
  ratios: Record<'transition_failure' | 'would_reject' | 'idempotent_hit' | 'gate_validation_failure' | 'unknown_input' | 'handoff_avg_duration_s', number | null>;
}

/** What this instance measured itself: the database's answer (or its absence) and the probes. */
export interface LocalMeasurements {
  snapshotSeconds: number;
  /** Failed mode-store reads by THIS instance since it started (a restart resets it; rate() copes). */
  modeStoreFetchErrors: number;
  normalizerBounds: readonly number[];
  normalizer: { fn: string; histogram: HistogramSample }[];
}

const TRANSITION_STATUSES = ['completed', 'rejected', 'failed'] as const;
const HANDOFF_VERDICTS = ['accepted', 'rejected', 'failed'] as const;
const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
const UNKNOWN_KINDS = ['handoff_type', 'stage', 'phase'] as const;

const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: 'counter', samples });
const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: 'gauge', samples });
const histogram = (name: string, help: string, bounds: readonly number[], samples: HistogramSample[]): MetricFamily =>
  ({ name, help, type: 'histogram', bounds, samples });
const fromDb = (h: Histogram, labels: Record<string, string>): HistogramSample => ({ labels, buckets: h.buckets, sum: h.sum_s });

function sumBy<T>(rows: readonly T[], key: (r: T) => string, value: (r: T) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
  return out;
}

function ratios(s: MetricsSnapshot): MetricFamily[] {
  const window = s.window_s % 3600 === 0 ? `${s.window_s / 3600}h` : `${Math.round(s.window_s / 60)}m`;
  const ratio = (name: string, key: keyof MetricsSnapshot['ratios'], help: string): MetricFamily => {
    const v = s.ratios[key];
    // No events in the window: no sample (a rate of nothing is not 0).
    return gauge(name, help, v === null || v === undefined ? [] : [{ labels: { window }, value: Number(v) }]);
  };
  return [
    ratio('stagegate_transition_failure_ratio', 'transition_failure', 'Failed / (completed + failed) transitions over the window, computed in SQL (runbook alert: > 0.05).'),
    ratio('stagegate_would_reject_ratio', 'would_reject', 'Judged handoffs ENFORCE would refuse on the threshold (would_reject or score below threshold) / judged handoffs, over the window (promotion gate: <= 0.005).'),
    ratio('stagegate_idempotent_hit_ratio', 'idempotent_hit', 'Gate results recorded more than once / gate results, over the window (runbook formula; alert: > 0.5).'),
    ratio('stagegate_gate_validation_failure_ratio', 'gate_validation_failure', 'Gate results that failed the gate-result contract / gate results run, over the window (alert: > 0.1).'),
    ratio('stagegate_unknown_input_ratio', 'unknown_input', 'Unknown inputs / (unknown inputs + judged handoffs), over the window (promotion gate: <= 0.005).'),
  ];
}

function fromSnapshot(s: MetricsSnapshot): MetricFamily[] {
  const handoffCounts = new Map(s.handoffs.map((h) => [`${h.handoff_type}\n${h.verdict}`, h.count]));
  const handoffTypes = [...new Set(s.handoffs.map((h) => h.handoff_type))];
  const results = s.gate_results;
  const subAgents = [...new Set(results.map((r) => r.sub_agent))];
  const invalid = sumBy(results, (r) => r.sub_agent, (r) => r.invalid);
  const normalized = sumBy(results, (r) => r.sub_agent, (r) => r.normalized);
  const modes = new Map(s.mode_store.modes.map((m) => [m.scope, m.mode]));
  const knownKinds = [...new Set([...UNKNOWN_KINDS, ...Object.keys(s.unknown_inputs)])];

  return [
    counter('stagegate_handoffs_total', 'Handoffs judged, by handoff type and verdict (sd_phase_handoffs).',
      handoffTypes.flatMap((t) => HANDOFF_VERDICTS.map((v) => ({ labels: { handoff_type: t, verdict: v }, value: handoffCounts.get(`${t}\n${v}`) ?? 0 })))),
    histogram('stagegate_handoff_duration_seconds', 'Handoff duration from begin to complete, by handoff type (runbook: average < 30 s, alert > 60 s).',
      s.handoff_bounds_s, s.handoff_durations.map((h) => fromDb(h, { handoff_type: h.handoff_type }))),
    counter('stagegate_handoff_attempts_total', 'Handoff attempts begun (every request with a known handoff type).', [{ value: s.attempts }]),
    gauge('stagegate_handoff_attempts_in_progress', 'Handoff attempts begun and not finished.', [{ value: s.attempts_in_progress }]),
    gauge('stagegate_oldest_in_progress_attempt_age_seconds', 'Age of the oldest unfinished handoff attempt (absent when none).',
      s.oldest_in_progress_s === null ? [] : [{ value: s.oldest_in_progress_s }]),
    gauge('stagegate_transition_notifications_pending', 'Accepted transitions whose NOTIFY stagegate_transition waits in the outbox for the relay sweep.', [{ value: s.notifications_pending }]),
    gauge('stagegate_oldest_pending_notification_age_seconds', 'Age of the oldest notification waiting in the outbox (absent when none); the relay runs every second.',
      s.oldest_notification_pending_s === null ? [] : [{ value: s.oldest_notification_pending_s }]),
    gauge('stagegate_handoff_attempts_awaiting_approval', 'Handoff attempts whose automated gates passed, waiting for approvals.', [{ value: s.attempts_awaiting_approval ?? 0 }]),
    counter('stagegate_overrides_total', 'Rejected handoffs accepted by an override (a member with the override permission, with a reason), by SD type.',
      Object.entries(s.overrides ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([sd_type, value]) => ({ labels: { sd_type }, value }))),
    counter('stagegate_transitions_total', 'Transition audit rows by status: completed, rejected (gates said no), failed (state change rolled back).',
      [...new Set([...TRANSITION_STATUSES, ...Object.keys(s.transitions)])].map((status) => ({ labels: { status }, value: s.transitions[status] ?? 0 }))),
    counter('stagegate_would_reject_total', 'Judged handoffs ENFORCE would refuse on the threshold: let through by WARN (would_reject) or scored below the threshold.', [{ value: s.would_reject }]),
    counter('stagegate_gate_results_total', 'Gate (sub-agent) results recorded, by sub-agent and verdict (PASS, FAIL, SKIPPED, ERROR).',
      results.map((r) => ({ labels: { sub_agent: r.sub_agent, verdict: r.verdict }, value: r.count }))),
    histogram('stagegate_gate_duration_seconds', 'Gate run time including retries, by sub-agent (skipped gates left out).',
      s.gate_bounds_s, s.gate_durations.map((h) => fromDb(h, { sub_agent: h.sub_agent }))),
    counter('stagegate_gate_validation_failures_total', 'Gate results that failed the gate-result contract (invalid_result), by sub-agent.',
      subAgents.map((a) => ({ labels: { sub_agent: a }, value: invalid.get(a) ?? 0 }))),
    counter('stagegate_gate_results_normalized_total', 'Gate results accepted after normalisation fixes, by sub-agent.',
      subAgents.map((a) => ({ labels: { sub_agent: a }, value: normalized.get(a) ?? 0 }))),
    counter('stagegate_idempotent_hits_total', 'Repeated calls answered from a stored record: gate results recorded again (sub_agent_result), Idempotency-Key replays (http; keys are purged after 24 h) and retries of a finished handoff request id over HTTP or SQL (handoff_request; purged after 24 h).', [
      { labels: { source: 'sub_agent_result' }, value: results.reduce((n, r) => n + r.hits, 0) },
      { labels: { source: 'http' }, value: s.http_idempotent_hits },
      { labels: { source: 'handoff_request' }, value: Object.values(s.handoff_request_replays ?? {}).reduce((n, v) => n + Number(v), 0) },
    ]),
    counter('stagegate_dry_runs_total', 'Dry-run handoffs judged (they leave no attempt, claim or audit row; purged after 24 h).', [{ value: s.dry_runs ?? 0 }]),
    gauge('stagegate_breaker_state', 'Circuit breaker state per active sub-agent: 1 for the current state, 0 for the others.',
      s.breakers.flatMap((b) => BREAKER_STATES.map((state) => ({ labels: { sub_agent: b.sub_agent, state }, value: b.state === state ? 1 : 0 })))),
    gauge('stagegate_validation_mode', 'Validation mode per scope (* = global, else an SD type override): 1 for the current mode.',
      [...modes].flatMap(([scope, mode]) => VALIDATION_MODES.map((m) => ({ labels: { scope, mode: m }, value: mode === m ? 1 : 0 })))),
    counter('stagegate_unknown_inputs_total', 'Handoff requests refused because a stage or handoff type could not be normalised, by kind.',
      knownKinds.map((kind) => ({ labels: { kind }, value: s.unknown_inputs[kind] ?? 0 }))),
    ...ratios(s),
  ];
}

/** Every family of one scrape. snapshot null = the database did not answer: only local numbers. */
export function metricFamilies(snapshot: MetricsSnapshot | null, local: LocalMeasurements): MetricFamily[] {
  const modeStoreUp = snapshot?.mode_store.ok === true;
  return [
    gauge('stagegate_database_up', '1 when fn_metrics_snapshot answered this scrape, 0 when the database did not.', [{ value: snapshot ? 1 : 0 }]),
    gauge('stagegate_snapshot_duration_seconds', 'Time this scrape spent in fn_metrics_snapshot (or failing to reach it).', [{ value: local.snapshotSeconds }]),
    gauge('stagegate_mode_store_up', '1 when the validation mode could be read this scrape.', [{ value: modeStoreUp ? 1 : 0 }]),
    counter('stagegate_mode_store_fetch_errors_total', 'Failed reads of the validation mode store by this function instance since it started.',
      [{ value: local.modeStoreFetchErrors }]),
    ...(snapshot ? fromSnapshot(snapshot) : []),
    histogram('stagegate_normalizer_duration_seconds', 'Latency of the shared stage normaliser, timed by this instance on a fixed probe of inputs at every scrape (memo budget: p99 < 1 ms).',
      local.normalizerBounds, local.normalizer.map((n) => ({ ...n.histogram, labels: { fn: n.fn } }))),
  ];
}
