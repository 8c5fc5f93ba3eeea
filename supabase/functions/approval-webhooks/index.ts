// POST /functions/v1/approval-webhooks — one delivery pass of the approval webhooks on hosted
// Supabase: claim the due approval events, POST each to STAGEGATE_APPROVAL_WEBHOOK_URL signed per
// Standard Webhooks with STAGEGATE_APPROVAL_WEBHOOK_SECRET, record the outcomes (retries with
// backoff, the dead-letter record after the last attempt). The same pass as the local stack's relay
// (shared/approval-webhook.ts). Called by the 'approval_webhooks' sweep through pg_net with the
// service-role key (pg_cron every 5 s, only while something is due); nobody else may call it.
// Answers { claimed, delivered, retrying, dead }.
import { deliverApprovalWebhooks } from '../../../shared/approval-webhook.ts';
import { mapDbError } from '../../../shared/errors.ts';
import { settings } from '../_shared/config.ts';
import { db } from '../_shared/db.ts';
import { authorisedCaller, errorResponse, json, log, requestId } from '../_shared/http.ts';

Deno.serve(async (request) => {
  const rid = requestId(request);
  if (request.method !== 'POST') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use POST', null, { allow: 'POST' });
  const auth = await authorisedCaller(request, 'may not run approval webhook passes: use the service role');
  if ('response' in auth) return auth.response;
  if (auth.claims.role !== 'service_role') {
    log('warn', 'approval webhook pass refused', { request_id: rid, role: auth.claims.role ?? null });
    return errorResponse(403, 'FORBIDDEN', 'approval webhook passes need the service role');
  }
  await request.body?.cancel();
  const { STAGEGATE_APPROVAL_WEBHOOK_URL: url, STAGEGATE_APPROVAL_WEBHOOK_SECRET: secret } = settings();
  if (!url || !secret) {
    return errorResponse(503, 'WEBHOOK_NOT_CONFIGURED',
      'set the function secrets STAGEGATE_APPROVAL_WEBHOOK_URL and STAGEGATE_APPROVAL_WEBHOOK_SECRET, or turn the sweep off (handoff_request_dispatch.approval_webhooks = false)');
  }
  try {
    const pass = await deliverApprovalWebhooks(db(), { url, secret }, ({ level, msg, ...fields }) => log(level, msg, { request_id: rid, ...fields }));
    if (pass.claimed > 0) log('info', 'approval webhook pass', { request_id: rid, ...pass });
    return json(pass);
  } catch (err) {
    const m = mapDbError(err);
    log('error', 'approval webhook pass failed', { request_id: rid, error: String(err) });
    return errorResponse(m.status, m.code, m.message, m.details);
  }
});
