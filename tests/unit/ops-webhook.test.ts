// Standard Webhooks verification (checked against the reference `standardwebhooks` signer),
// secret rotation, the timestamp window, and what each body asks for.
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  importWebhookKeys, parseDemoteAlerts, parseOpsBody, parseWebhookSecrets, planAlertActions, verifyWebhook,
  type AlertmanagerPayload,
} from '../../shared/ops-webhook.ts';

const secret = (fill: number, bytes = 32) => `whsec_${Buffer.alloc(bytes, fill).toString('base64')}`;
const OLD = secret(1);
const NEW = secret(2);
const OTHER = secret(3);
const NOW = 1_780_000_000;

function signed(s: string, body: string, o: { id?: string; ts?: number } = {}) {
  const id = o.id ?? 'msg_1';
  const ts = o.ts ?? NOW;
  return new Headers({ 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': new Webhook(s).sign(id, new Date(ts * 1000), body) });
}

async function verify(secrets: string, headers: Headers, body: string, nowSeconds = NOW) {
  const parsed = parseWebhookSecrets(secrets);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return verifyWebhook({ keys: await importWebhookKeys(parsed.keys), headers, body, nowSeconds });
}

describe('verifyWebhook', () => {
  const body = '{"mode":"WARN","reason":"r"}';

  it('accepts a signature made by the reference implementation', async () => {
    expect(await verify(OLD, signed(OLD, body), body)).toEqual({ ok: true, id: 'msg_1', timestamp: NOW, keyIndex: 0 });
  });

  it('rotation: with two secrets configured both verify, a third does not', async () => {
    expect(await verify(`${OLD}, ${NEW}`, signed(OLD, body), body)).toMatchObject({ ok: true, keyIndex: 0 });
    expect(await verify(`${OLD}, ${NEW}`, signed(NEW, body), body)).toMatchObject({ ok: true, keyIndex: 1 });
    expect(await verify(`${OLD}, ${NEW}`, signed(OTHER, body), body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('accepts any one valid signature among several, and ignores other versions', async () => {
    const h = signed(NEW, body);
    const good = h.get('webhook-signature')!;
    h.set('webhook-signature', `v2,${good.slice(3)} v1,AAAA ${signed(OTHER, body).get('webhook-signature')} ${good}`);
    expect(await verify(NEW, h, body)).toMatchObject({ ok: true });
    h.set('webhook-signature', `v2,${good.slice(3)}`);
    expect(await verify(NEW, h, body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('refuses a changed body, id or timestamp', async () => {
    const h = signed(OLD, body);
    expect(await verify(OLD, h, body.replace('WARN', 'OFF'))).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
    h.set('webhook-id', 'msg_2');
    expect(await verify(OLD, h, body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
    const t = signed(OLD, body);
    t.set('webhook-timestamp', String(NOW + 1));
    expect(await verify(OLD, t, body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('refuses timestamps more than 5 minutes away in either direction', async () => {
    expect(await verify(OLD, signed(OLD, body, { ts: NOW - 300 }), body)).toMatchObject({ ok: true });
    expect(await verify(OLD, signed(OLD, body, { ts: NOW + 300 }), body)).toMatchObject({ ok: true });
    expect(await verify(OLD, signed(OLD, body, { ts: NOW - 301 }), body))
      .toEqual({ ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID', message: expect.stringContaining('301 s in the past') });
    expect(await verify(OLD, signed(OLD, body, { ts: NOW + 301 }), body))
      .toEqual({ ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID', message: expect.stringContaining('301 s in the future') });
    const h = signed(OLD, body);
    h.set('webhook-timestamp', '2026-01-01T00:00:00Z');
    expect(await verify(OLD, h, body)).toMatchObject({ ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID' });
  });

  it('refuses missing headers and a malformed id', async () => {
    const h = signed(OLD, body);
    h.delete('webhook-signature');
    expect(await verify(OLD, h, body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', message: expect.stringContaining('required') });
    expect(await verify(OLD, signed(OLD, body, { id: 'bad id' }), body)).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
  });
});

describe('parseWebhookSecrets', () => {
  it('needs whsec_<base64> of at least 32 bytes each, and never echoes a secret', () => {
    expect(parseWebhookSecrets(`${OLD},${NEW}`)).toMatchObject({ ok: true, keys: [expect.any(Uint8Array), expect.any(Uint8Array)] });
    const short = parseWebhookSecrets(`${OLD}, ${secret(4, 31)}`);
    expect(short).toEqual({ ok: false, problems: ['secret #2 has 31 bytes, at least 32 are required'] });
    expect(parseWebhookSecrets('hunter2')).toEqual({ ok: false, problems: ['secret #1 is not whsec_<base64>'] });
    expect(parseWebhookSecrets(undefined)).toEqual({ ok: false, problems: ['OPS_WEBHOOK_SECRETS is not set'] });
    expect(parseWebhookSecrets(' , ')).toMatchObject({ ok: false });
  });
});

describe('bodies', () => {
  it('parses a plain mode request with defaults, strictly', () => {
    expect(parseOpsBody({ mode: 'ENFORCE', reason: ' canary green ' }))
      .toEqual({ ok: true, body: { kind: 'mode', value: { mode: 'ENFORCE', reason: 'canary green', scope: '*', force: false } } });
    expect(parseOpsBody({ mode: 'WARN', reason: 'r', scope: 'security', force: true })).toMatchObject({ ok: true, body: { value: { scope: 'security', force: true } } });
    for (const bad of [{ mode: 'STRICT', reason: 'r' }, { mode: 'WARN' }, { mode: 'WARN', reason: '' }, { mode: 'WARN', reason: 'r', extra: 1 }, { mode: 'WARN', reason: 'r', scope: 'Bad Scope' }, null, []]) {
      const r = parseOpsBody(bad);
      expect({ bad, ok: r.ok }).toEqual({ bad, ok: false });
    }
    const r = parseOpsBody({ mode: 'WARN' });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('reason'), issues: [{ path: 'reason' }] });
  });

  const alert = (alertname: string, status: 'firing' | 'resolved', labels: Record<string, string> = {}) =>
    ({ status, labels: { alertname, ...labels }, annotations: { summary: `${alertname} summary` }, startsAt: '2026-11-25T10:00:00Z', fingerprint: alertname });
  const payload = (alerts: ReturnType<typeof alert>[], status: 'firing' | 'resolved' = 'firing') =>
    ({ version: '4', groupKey: '{}:{alertname="x"}', status, receiver: 'stagegate', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am', alerts });

  it('parses an Alertmanager payload and plans: configured + firing demotes, resolved never promotes', () => {
    const r = parseOpsBody(payload([
      alert('EnforceGateUnknownRateHigh', 'firing'),
      alert('StageValidatorLatencyRegression', 'resolved'),
      alert('DiskFull', 'firing'),
      alert('EnforceGateUnknownRateHigh', 'firing', { sd_type: 'security' }),
      alert('EnforceGateUnknownRateHigh', 'firing', { scope: 'NOT A SCOPE' }),
    ]));
    expect(r.ok).toBe(true);
    if (!r.ok || r.body.kind !== 'alertmanager') throw new Error('not parsed');
    const plan = planAlertActions(r.body.value, parseDemoteAlerts(undefined));
    expect(plan.map((p) => [p.alertname, p.status, p.scope, p.action])).toEqual([
      ['EnforceGateUnknownRateHigh', 'firing', '*', 'demote'],
      ['StageValidatorLatencyRegression', 'resolved', '*', 'ignore'],
      ['DiskFull', 'firing', '*', 'ignore'],
      ['EnforceGateUnknownRateHigh', 'firing', 'security', 'demote'],
      ['EnforceGateUnknownRateHigh', 'firing', '*', 'demote'],
    ]);
    expect(plan[0]!.reason).toBe('Alertmanager alert EnforceGateUnknownRateHigh firing: EnforceGateUnknownRateHigh summary (since 2026-11-25T10:00:00Z)');
    expect(plan[1]!.why).toContain('never promotes');
  });

  it('reads OPS_DEMOTE_ALERTS, with the memo\'s two alerts by default', () => {
    expect(parseDemoteAlerts(undefined)).toEqual(['EnforceGateUnknownRateHigh', 'StageValidatorLatencyRegression']);
    expect(parseDemoteAlerts(' A , B,')).toEqual(['A', 'B']);
    const p = payload([alert('A', 'firing')]) as unknown as AlertmanagerPayload;
    expect(planAlertActions(p, ['A'])[0]!.action).toBe('demote');
    expect(planAlertActions(p, parseDemoteAlerts(''))[0]!.action).toBe('ignore');
  });

  it('refuses a malformed Alertmanager payload', () => {
    expect(parseOpsBody({ version: '3', status: 'firing', alerts: [] })).toMatchObject({ ok: false, message: expect.stringContaining('Alertmanager') });
    expect(parseOpsBody({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: {} }] })).toMatchObject({ ok: false, issues: [{ path: 'alerts.0.labels.alertname' }] });
  });
});
