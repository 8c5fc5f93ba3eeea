// A small local HTTP server playing external sub-agents: the demo's architecture reviewer and
// the e2e tests' slow, flapping, hanging and misbehaving agents. It checks the Standard Webhooks
// signature of every call, as a real agent should, and answers per route:
//   POST /agents/<name>?delay=ms&score=n&fail=n&status=code&mode=hang|garbage|close|mutate
// (fail=n: the first n calls answer `status` (default 500), later ones succeed)
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface AgentCall { name: string; at: number; attempt: number; body: Record<string, unknown>; finishedAt?: number }

export interface AgentServer {
  url: string;
  calls: AgentCall[];
  stop: () => Promise<void>;
}

export async function startAgentServer(opts: { secret: string; port?: number }): Promise<AgentServer> {
  const verifier = new Webhook(opts.secret);
  const calls: AgentCall[] = [];
  const failures = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://agent');
      const name = /^\/agents\/([\w-]+)$/.exec(url.pathname)?.[1];
      const raw = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (!name || req.method !== 'POST') return send(404, { error: 'no such agent' });
      let body: Record<string, unknown>;
      try {
        body = verifier.verify(raw, {
          'webhook-id': String(req.headers['webhook-id'] ?? ''),
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        }) as Record<string, unknown>;
      } catch {
        return send(401, { error: 'bad signature' });
      }
      const call: AgentCall = { name, at: Date.now(), attempt: Number(body.attempt ?? 1), body };
      calls.push(call);
      const q = url.searchParams;
      const delay = Number(q.get('delay') ?? '0');
      const mode = q.get('mode');
      const failTimes = Number(q.get('fail') ?? '0');
      const key = `${name}:${q.toString()}`;
      setTimeout(() => {
        call.finishedAt = Date.now();
        if (mode === 'hang') return; // never answers; the orchestrator's timeout must fire
        if (mode === 'close') return req.socket.destroy();
        if (mode === 'garbage') return send(200, 'this is not json');
        const failed = failures.get(key) ?? 0;
        if (failed < failTimes) {
          failures.set(key, failed + 1);
          return send(Number(q.get('status') ?? '500'), { error: 'simulated failure' });
        }
        // Without fail=N, status=code answers that status every time; with it, only the first N.
        if (failTimes === 0 && q.get('status')) return send(Number(q.get('status')), { error: 'simulated status' });
        if (mode === 'mutate') {
          // Scribbles on its copy of the context and reports what it saw.
          const ctx = body.context as { sd?: Record<string, unknown> } | undefined;
          if (ctx?.sd) ctx.sd.title = 'MUTATED BY AGENT';
        }
        const score = Number(q.get('score') ?? '100');
        send(200, { passed: score >= 50, score, max_score: 100, issues: score >= 50 ? [] : [`${name} scored ${score}`], warnings: [], details: { saw_title: (body.context as { sd?: { title?: unknown } })?.sd?.title } });
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A fresh Standard Webhooks secret (whsec_ + base64 of 32 random bytes). */
export function generateWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${Buffer.from(bytes).toString('base64')}`;
}
