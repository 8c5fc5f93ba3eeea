// GET /functions/v1/metrics — the Prometheus text format (version 0.0.4) for a scrape job.
// Prometheus sends `Authorization: Bearer <JWT>` (scrape config `authorization.credentials`,
// see observability/prometheus/scrape-example.yml); the gateway verifies the JWT
// (verify_jwt = true) and this function admits the service role or a scrape-only token whose
// role claim is stagegate_metrics. The anon key is public, so anon is refused.
//
// Every count comes from the database in one call (public.fn_metrics_snapshot): instances are
// stateless and many, so a counter kept here would count one instance's share and reset on
// every cold start. The only numbers this instance keeps are about itself: its failed reads of
// the mode store and the normaliser latency it probes (normalizer-probe.ts).
// When the database does not answer, the scrape still succeeds with stagegate_database_up 0 and
// the local numbers, so the failure is a metric and not a gap.
import { CONTENT_TYPE, renderMetrics } from '../../../shared/prometheus.ts';
import { db } from '../_shared/db.ts';
import { configRefusal, settings } from '../_shared/config.ts';
import { errorResponse, log, requestId, verifiedClaims } from '../_shared/http.ts';
import { metricFamilies, type MetricsSnapshot } from './families.ts';
import { NORMALIZER_BOUNDS_S, NormalizerProbe } from './normalizer-probe.ts';

const ALLOWED_ROLES = new Set(['service_role', 'stagegate_metrics']);

const probe = new NormalizerProbe();
let modeStoreFetchErrors = 0;

async function snapshot(rid: string): Promise<MetricsSnapshot | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const query = db()<{ s: MetricsSnapshot }[]>`select public.fn_metrics_snapshot() as s`;
    timer = setTimeout(() => query.cancel(), settings().STAGEGATE_METRICS_TIMEOUT_MS);
    const [row] = await query;
    return row?.s ?? null;
  } catch (err) {
    log('error', 'metrics snapshot failed', { request_id: rid, error: String(err) });
    return null;
  } finally {
    clearTimeout(timer);
  }
}

Deno.serve(async (request) => {
  const rid = requestId(request);
  if (request.method !== 'GET') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use GET', null, { allow: 'GET' });
  const refused = configRefusal();
  if (refused) return refused;
  const role = (await verifiedClaims(request))?.role;
  if (typeof role !== 'string' || !ALLOWED_ROLES.has(role)) {
    log('warn', 'metrics scrape refused', { request_id: rid, role: role ?? null });
    return errorResponse(403, 'FORBIDDEN', 'metrics need the service role or a stagegate_metrics token');
  }

  const started = performance.now();
  const snap = await snapshot(rid);
  const snapshotSeconds = (performance.now() - started) / 1000;
  if (!snap?.mode_store.ok) {
    modeStoreFetchErrors += 1;
    log('warn', 'mode store fetch failed', { request_id: rid, error: snap ? snap.mode_store.error : 'database unreachable' });
  }
  probe.run();
  const body = renderMetrics(metricFamilies(snap, {
    snapshotSeconds,
    modeStoreFetchErrors,
    normalizerBounds: NORMALIZER_BOUNDS_S,
    normalizer: probe.histograms(),
  }));
  log('info', 'metrics scraped', {
    request_id: rid, role, database_up: snap !== null, mode_store_up: snap?.mode_store.ok ?? false,
    snapshot_ms: Math.round(snapshotSeconds * 1000), duration_ms: Math.round(performance.now() - started), bytes: body.length,
  });
  return new Response(body, { status: 200, headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' } });
});
