// The load generator, run by bench/load.ts as a SECOND PROCESS so its own CPU and event loop are
// not the function server's: an idle baseline (one handoff at a time), then an open-loop fixed
// request rate for a bounded time. Open loop: a request is sent on schedule whether or not the
// earlier ones have answered, so a slow server shows up as latency, not as a lower offered rate.
// Prints one JSON line with every latency summary on stdout.
import { percentile } from './env.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const url = env('LOAD_URL');
const key = env('LOAD_KEY');
const rate = Number(env('LOAD_RATE'));
const seconds = Number(env('LOAD_SECONDS'));
// SD-LOAD-<k>: even k are in LEAD (LEAD-TO-PLAN), odd k in PLAN (PLAN-TO-EXEC), as load.ts seeds them.
const targets = Array.from({ length: Number(env('LOAD_COUNT')) }, (_, i) => ({ sd: `SD-LOAD-${i + 1}`, type: (i + 1) % 2 === 0 ? 'LEAD-TO-PLAN' : 'PLAN-TO-EXEC' }));
const baselineCount = Number(process.env.LOAD_BASELINE ?? '20');

interface Sample { ms: number; status: number; code: string; sentAt: number }

async function handoff(target: { sd: string; type: string }): Promise<Omit<Sample, 'sentAt'>> {
  const t0 = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sd_id: target.sd, handoff_type: target.type, session_id: 'load' }),
    });
    const body = await response.json() as { verdict?: string; error?: { code?: string } };
    const code = response.status === 200 ? String(body.verdict) : String(body.error?.code ?? response.status);
    return { ms: performance.now() - t0, status: response.status, code };
  } catch (err) {
    return { ms: performance.now() - t0, status: 0, code: `network: ${(err as Error).message}` };
  }
}

function summary(samples: Sample[], wallSeconds: number) {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (p: number) => percentile(sorted, p);
  const ok = samples.filter((s) => s.status === 200 && s.code === 'accepted').length;
  const codes: Record<string, number> = {};
  for (const s of samples) codes[s.code] = (codes[s.code] ?? 0) + 1;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    requests: samples.length, ok, errors: samples.length - ok, error_rate: samples.length ? +(1 - ok / samples.length).toFixed(4) : 0,
    codes, p50_ms: r(at(50)), p90_ms: r(at(90)), p99_ms: r(at(99)), max_ms: r(sorted.at(-1) ?? NaN),
    wall_s: r(wallSeconds), throughput_per_s: r(ok / wallSeconds),
  };
}

let next = 0;
const take = () => {
  const t = targets[next++];
  if (!t) throw new Error(`ran out of seeded directives after ${next - 1}`);
  return t;
};

// Idle baseline: the same handoff, one at a time, nothing else running — after a warm-up, so it
// measures a warm server (pool connections open, JIT done), as the load phase does.
for (let i = 0; i < 10; i++) await handoff(take());
const baseline: Sample[] = [];
const b0 = performance.now();
for (let i = 0; i < baselineCount; i++) baseline.push({ ...(await handoff(take())), sentAt: performance.now() });
const baselineSummary = summary(baseline, (performance.now() - b0) / 1000);

process.stderr.write(`load-client: baseline p50 ${baselineSummary.p50_ms} ms; offering ${rate}/s for ${seconds} s\n`);
process.stdout.write(`${JSON.stringify({ phase: 'load-start' })}\n`);
const samples: Sample[] = [];
const pending: Promise<void>[] = [];
const total = Math.round(rate * seconds);
const t0 = performance.now();
for (let i = 0; i < total; i++) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const sentAt = performance.now();
  pending.push(handoff(take()).then((s) => { samples.push({ ...s, sentAt }); }));
}
const offeredSeconds = (performance.now() - t0) / 1000;
await Promise.all(pending);
const wall = (performance.now() - t0) / 1000;
// Latency per 10 s window: a server that degrades over the run shows a rising line here.
const windows: { from_s: number; p50_ms: number; p99_ms: number; n: number }[] = [];
for (let w = 0; w * 10 < seconds; w++) {
  const inWindow = samples.filter((s) => s.sentAt - t0 >= w * 10_000 && s.sentAt - t0 < (w + 1) * 10_000);
  const s = summary(inWindow, 10);
  windows.push({ from_s: w * 10, p50_ms: s.p50_ms, p99_ms: s.p99_ms, n: s.requests });
}
process.stdout.write(`${JSON.stringify({ phase: 'done', baseline: baselineSummary, load: { ...summary(samples, wall), offered_rate_per_s: +(total / offeredSeconds).toFixed(1) }, windows })}\n`);

export {};
