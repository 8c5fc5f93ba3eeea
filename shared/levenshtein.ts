// Bounded Levenshtein distance (unit-cost insert/delete/substitute, no transpositions).
// Returns the exact distance when it is <= max, otherwise max + 1. The SQL twin is
// public.stage_edit_distance; both must agree on every pair of keys, which the parity test
// checks through the suggestions. Only the diagonal band |i - j| <= max is computed: a cell
// outside it is already more than max away, and a path of cost <= max never leaves the band,
// so saturating everything else at max + 1 cannot change an answer <= max.

let prev = new Int32Array(256);
let curr = new Int32Array(256);

export function boundedLevenshtein(a: string, b: string, max: number): number {
  const n = a.length;
  const m = b.length;
  const cap = max + 1;
  if (Math.abs(n - m) > max) return cap;
  if (n === 0 || m === 0) return Math.min(n + m, cap);
  if (m + 2 > prev.length) {
    prev = new Int32Array(m + 2);
    curr = new Int32Array(m + 2);
  }
  for (let j = 0; j <= m; j++) prev[j] = j < cap ? j : cap;
  for (let i = 1; i <= n; i++) {
    const lo = i - max > 1 ? i - max : 1;
    const hi = i + max < m ? i + max : m;
    let rowMin = lo === 1 ? (i < cap ? i : cap) : cap;
    curr[lo - 1] = rowMin;
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const del = prev[j]! + 1;
      const ins = curr[j - 1]! + 1;
      let v = sub < del ? sub : del;
      if (ins < v) v = ins;
      if (v > cap) v = cap;
      curr[j] = v;
      if (v < rowMin) rowMin = v;
    }
    // The next row reads curr[hi + 1] as "above": outside this band, so out of reach.
    if (hi < m) curr[hi + 1] = cap;
    // Every later row is >= this row's minimum, so the answer already exceeds max.
    if (rowMin > max) return cap;
    const t = prev;
    prev = curr;
    curr = t;
  }
  return prev[m]!;
}
