// Bounded Levenshtein distance (unit-cost insert/delete/substitute, no transpositions).
// Returns the exact distance when it is <= max, otherwise max + 1. The SQL twin is
// public.stage_edit_distance; both must agree on every pair of ASCII keys, which the
// parity test checks. Keys are short (<= 200 chars), so two reusable rows keep this
// allocation-free on the hot path.

let prev = new Int32Array(256);
let curr = new Int32Array(256);

export function boundedLevenshtein(a: string, b: string, max: number): number {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > max) return max + 1;
  if (n === 0) return m;
  if (m === 0) return n;
  if (m + 1 > prev.length) {
    prev = new Int32Array(m + 1);
    curr = new Int32Array(m + 1);
  }
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    curr[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      const del = prev[j]! + 1;
      const ins = curr[j - 1]! + 1;
      const sub = prev[j - 1]! + cost;
      const v = del < ins ? (del < sub ? del : sub) : ins < sub ? ins : sub;
      curr[j] = v;
      if (v < rowMin) rowMin = v;
    }
    // Every later row is >= this row's minimum, so the answer already exceeds max.
    if (rowMin > max) return max + 1;
    const t = prev;
    prev = curr;
    curr = t;
  }
  const d = prev[m]!;
  return d > max ? max + 1 : d;
}
