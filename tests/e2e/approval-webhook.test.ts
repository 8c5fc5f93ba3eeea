// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// The approval webhook relay: approval events POSTed to a local receiver, signed per Standard
// Webhooks and verified here by the `standardwebhooks` library itself; a receiver that fails is
// retried, and one that keeps failing leaves a dead-letter record.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../stack/agent-server.ts';
import { startApprovalWebhook } from '../../stack/approval-webhook.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { approvalGate, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA } from '../helpers/people.ts';
import { execute, seedSd } from '../db/_handoff-fixtures.ts';

interface Received { headers: http.IncomingHttpHeaders; body: string }

let db: FreshDatabase;
let server: http.Server;
let url = '';
const received: Received[] = [];
let failuresLeft = 0;

beforeAll(async () => {
  db = await freshDatabase();
  await seedPeople(db.sql);
  await seedApprovers(db.sql);
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (failuresLeft > 0) {
        failuresLeft--;
        res.writeHead(503).end('try later');
      } else {
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/approvals`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await db.drop();
});

const deliveries = () => db.sql<{ event_id: string; status: string; attempts: number; last_status: number | null; last_error: string | null }[]>`
  select event_id::text, status, attempts, last_status, last_error from approval_webhook_deliveries order by event_id`;

describe('approval webhook relay', () => {
  it('signs every event per Standard Webhooks, retries a failing receiver, and dead-letters one that never answers 2xx', async () => {
    await approvalGate(db.sql, { required: 1 });
    await seedSd(db.sql, { id: 'SD-HOOK-1', phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, 'SD-HOOK-1');
    const lead = asUser(db.url, 'lead');
    const waiting = await execute(lead, 'SD-HOOK-1', 'LEAD-TO-PLAN', 'req-hook-1', [], 'sess-hook');
    await lead.end({ timeout: 1 });
    expect(waiting.verdict).toBe('awaiting_approval');

    const secret = generateWebhookSecret();
    failuresLeft = 1;
    const relay = await startApprovalWebhook({ dbUrl: db.url, url, secret, pollMs: 60_000, log: () => {} });
    try {
      expect(await relay.runOnce()).toBe(1);
      expect(await deliveries()).toEqual([{ event_id: expect.any(String), status: 'pending', attempts: 1, last_status: 503, last_error: 'HTTP 503' }]);
      // the retry is due after 2 s; make it due now
      await db.sql`update approval_webhook_deliveries set next_attempt_at = now()`;
      expect(await relay.runOnce()).toBe(1);
      expect((await deliveries())[0]).toMatchObject({ status: 'delivered', attempts: 2, last_status: 204 });
      expect(await relay.runOnce()).toBe(0);

      expect(received).toHaveLength(2);
      const verifier = new Webhook(secret);
      for (const r of received) {
        const payload = verifier.verify(r.body, r.headers as Record<string, string>) as Record<string, any>;
        expect(payload).toMatchObject({ event: 'approval_requested', attempt_id: waiting.attempt_id, sd_id: 'SD-HOOK-1', approvals_needed: 1, approver_roles: ['LEAD'] });
      }
      expect(received[0]!.headers['webhook-id']).toBe(received[1]!.headers['webhook-id']);
      // a forged signature does not verify
      expect(() => new Webhook(generateWebhookSecret()).verify(received[0]!.body, received[0]!.headers as Record<string, string>)).toThrow();
    } finally {
      await relay.stop();
    }

    // a receiver that never answers 2xx: retried up to maxAttempts, then dead-lettered
    const [decided] = await db.sql`select fn_sweep_expired_approvals()`;
    expect(decided).toBeDefined();
    await db.sql`update handoff_attempts set approval_deadline = now() - interval '1 second' where id = ${waiting.attempt_id}`;
    await db.sql`select fn_sweep_expired_approvals()`;
    failuresLeft = 100;
    const stubborn = await startApprovalWebhook({ dbUrl: db.url, url, secret, pollMs: 60_000, maxAttempts: 3, log: () => {} });
    try {
      for (let i = 0; i < 3; i++) {
        await stubborn.runOnce();
        await db.sql`update approval_webhook_deliveries set next_attempt_at = now() where status = 'pending'`;
      }
      const rows = await deliveries();
      expect(rows[1]).toMatchObject({ status: 'dead', attempts: 3, last_status: 503, last_error: 'HTTP 503' });
      expect(await stubborn.runOnce()).toBe(0);
    } finally {
      await stubborn.stop();
      failuresLeft = 0;
    }
  });
});
