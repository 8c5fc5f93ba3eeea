// POST /functions/v1/ops-webhook — signed operations requests (Standard Webhooks). No JWT: the
// signature is the authentication (verify_jwt = false in config.toml). Bodies: a plain
// { mode, scope?, reason, force? } (fn_set_validation_mode, promotion gate included) or an
// Alertmanager payload (a configured alert that fires demotes ENFORCE to WARN; resolved does not
// promote). The webhook-id is claimed in the transaction of the effect: a replay is 409, no effect.
import { errorBody, mapDbError } from '../../../shared/errors.ts';
import {
  importWebhookKeys, parseDemoteAlerts, parseOpsBody, parseWebhookSecrets, planAlertActions, verifyWebhook,
  type AlertAction,
} from '../../../shared/ops-webhook.ts';
import { isValidationMode, type ModeRead } from '../../../shared/mode-cache.ts';
import { setCaller } from '../../../shared/rpc.ts';
import { db } from '../_shared/db.ts';
import { configRefusal } from '../_shared/config.ts';
import { errorResponse, json, log, readBody, requestId } from '../_shared/http.ts';
import { modeCache } from '../_shared/modes.ts';

const demoteAlerts = parseDemoteAlerts(Deno.env.get('OPS_DEMOTE_ALERTS'));

// Checked once at start. A bad secret is a deployment error: say so once, in one structured line
// (never the secret), and answer every request 503 instead of running half-configured.
const secrets = parseWebhookSecrets(Deno.env.get('OPS_WEBHOOK_SECRETS'));
if (!secrets.ok) {
  log('error', 'ops-webhook disabled: invalid OPS_WEBHOOK_SECRETS', { function: 'ops-webhook', code: 'WEBHOOK_NOT_CONFIGURED', details: secrets.problems });
}
const keys = secrets.ok ? importWebhookKeys(secrets.keys) : Promise.resolve([]);

interface ModeChange {
  changed: boolean;
  scope: string;
  old_mode: string;
  new_mode: string;
  forced: boolean;
  change_id: number | null;
  actor?: string | null;
  at?: string | null;
  gate: Record<string, unknown>;
}

class Replayed extends Error {}

/** One structured line per mode change (the database also logs and audits it). */
function logChanges(changes: ModeChange[], reasonFor: (scope: string) => string | undefined, webhookId: string, rid: string): void {
  for (const c of changes) {
    if (!c.changed) continue;
    log('info', 'validation mode changed', {
      request_id: rid, webhook_id: webhookId, scope: c.scope, old_mode: c.old_mode, new_mode: c.new_mode,
      actor: c.actor ?? null, reason: reasonFor(c.scope) ?? null, forced: c.forced, timestamp: c.at ?? new Date().toISOString(),
    });
  }
}

async function handle(request: Request, rid: string): Promise<Response> {
  if (!secrets.ok) return errorResponse(503, 'WEBHOOK_NOT_CONFIGURED', 'the ops webhook has no valid OPS_WEBHOOK_SECRETS; see the function log');
  if (request.method !== 'POST') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use POST', null, { allow: 'POST' });
  const refused = configRefusal();
  if (refused) return refused;
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    return errorResponse(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  const read = await readBody(request, undefined, rid);
  if (!read.ok) return read.response;
  const raw = read.text;

  const verified = await verifyWebhook({ keys: await keys, headers: request.headers, body: raw, nowSeconds: Math.floor(Date.now() / 1000) });
  if (!verified.ok) {
    log('warn', 'ops webhook refused', { request_id: rid, code: verified.code, message: verified.message });
    return errorResponse(401, verified.code, verified.message);
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return errorResponse(400, 'INVALID_INPUT', 'the body is not valid JSON');
  }
  const parsed = parseOpsBody(body);
  if (!parsed.ok) return errorResponse(400, 'INVALID_INPUT', parsed.message, { issues: parsed.issues });

  const cache = modeCache();
  const ops = parsed.body;
  const plan: AlertAction[] = ops.kind === 'alertmanager' ? planAlertActions(ops.value, demoteAlerts) : [];
  const scopes = ops.kind === 'mode' ? [ops.value.scope] : [...new Set(plan.filter((a) => a.action === 'demote').map((a) => a.scope))];
  const modeRead: ModeRead | undefined = scopes[0] !== undefined ? await cache.read(scopes[0]) : undefined;

  const sql = db();
  let changes: ModeChange[];
  try {
    changes = await sql.begin(async (tx) => {
      // recorded as the service role over http (the webhook's signature stands for the operator)
      await setCaller(tx, { role: 'service_role', claims: { role: 'service_role' }, via: 'http' });
      const [claim] = await tx<{ claimed: boolean }[]>`
        select public.fn_claim_webhook_id(${verified.id}, to_timestamp(${verified.timestamp})) as claimed`;
      if (!claim?.claimed) throw new Replayed();
      await tx`select set_config('stagegate.mode_via', ${`ops-webhook ${verified.id}`}, true)`;
      if (ops.kind === 'mode') {
        const { scope, mode, reason, force } = ops.value;
        const [row] = await tx<{ r: ModeChange }[]>`select public.fn_set_validation_mode(${scope}, ${mode}, ${reason}, ${force}) as r`;
        return [row!.r];
      }
      const out: ModeChange[] = [];
      for (const action of plan) {
        if (action.action !== 'demote') continue;
        const [row] = await tx<{ r: { changes: ModeChange[] } }[]>`select public.fn_demote_validation_mode(${action.scope}, ${action.reason ?? action.why}) as r`;
        out.push(...(row?.r.changes ?? []));
      }
      return out;
    });
  } catch (err) {
    if (err instanceof Replayed) {
      log('warn', 'ops webhook replay refused', { request_id: rid, webhook_id: verified.id });
      return errorResponse(409, 'WEBHOOK_REPLAYED', `webhook-id ${verified.id} was already processed; nothing was done`);
    }
    const m = mapDbError(err);
    if (m.code === 'INTERNAL') log('error', 'ops webhook failed', { request_id: rid, webhook_id: verified.id, error: String(err) });
    else log('warn', 'ops webhook refused', { request_id: rid, webhook_id: verified.id, code: m.code, message: m.message });
    return json(errorBody(m.code, m.message, m.details), m.status, m.status === 503 ? { 'retry-after': '1' } : {});
  }

  for (const c of changes) if (c.changed && isValidationMode(c.new_mode)) cache.set(c.scope, c.new_mode);
  const reasonFor = (scope: string) => ops.kind === 'mode'
    ? ops.value.reason
    : (plan.find((a) => a.action === 'demote' && a.scope === scope) ?? plan.find((a) => a.action === 'demote' && a.scope === '*'))?.reason;
  logChanges(changes, reasonFor, verified.id, rid);

  return json({
    changed: changes.some((c) => c.changed),
    kind: ops.kind,
    webhook_id: verified.id,
    changes: changes.filter((c) => c.changed),
    mode_read: modeRead,
    ...(ops.kind === 'alertmanager' ? { alerts: plan.map(({ alertname, status, scope, action, why }) => ({ alertname, status, scope, action, why })) } : {}),
  });
}

Deno.serve(async (request) => {
  const rid = requestId(request);
  try {
    return await handle(request, rid);
  } catch (err) {
    const m = mapDbError(err);
    log('error', 'ops webhook failed', { request_id: rid, error: String(err) });
    return json(errorBody(m.code, m.message, m.details), m.status);
  }
});
