// The Prometheus text exposition format, version 0.0.4: a small hand-written writer (prom-client
// keeps its registry in process memory and leans on Node's APIs; our counts come from the
// database on every scrape, so all we need is the text) and a strict reader used by the tests
// and by anyone who wants to check a scrape without promtool.
//
// Format rules kept here: every family gets one HELP and one TYPE line before its samples; HELP
// escapes \ and newline, label values escape \, " and newline; histograms expose cumulative
// `_bucket{le="…"}` series ending in le="+Inf", then `_sum` and `_count` (= the +Inf bucket);
// counter names end in _total (OpenMetrics insists, promtool's linter warns otherwise).

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface HistogramSample {
  labels?: Labels;
  /** Count per bucket, NOT cumulative: one per bound, then the values above every bound. */
  buckets: readonly number[];
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; bounds: readonly number[]; samples: readonly HistogramSample[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsFormatError extends Error {
  override name = 'MetricsFormatError';
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(family: string, labels: Labels = {}, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new MetricsFormatError(`${family}: invalid label name ${JSON.stringify(k)}`);
    return `${k}="${escapeLabelValue(v)}"`;
  }).join(',')}}`;
}

function checkFamily(f: MetricFamily): void {
  if (!METRIC_NAME.test(f.name)) throw new MetricsFormatError(`invalid metric name ${JSON.stringify(f.name)}`);
  if (f.type === 'counter' && !f.name.endsWith('_total')) throw new MetricsFormatError(`${f.name}: a counter's name must end in _total`);
  const seen = new Set<string>();
  for (const s of f.samples) {
    if (f.type === 'histogram' && s.labels && 'le' in s.labels) throw new MetricsFormatError(`${f.name}: le is reserved for histogram buckets`);
    const key = JSON.stringify(Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
    if (seen.has(key)) throw new MetricsFormatError(`${f.name}: duplicate label set ${key}`);
    seen.add(key);
  }
  if (f.type !== 'histogram') return;
  f.bounds.forEach((b, i) => {
    if (!Number.isFinite(b) || (i > 0 && b <= f.bounds[i - 1]!)) throw new MetricsFormatError(`${f.name}: bounds must be finite and increasing`);
  });
  for (const s of f.samples) {
    if (s.buckets.length !== f.bounds.length + 1) {
      throw new MetricsFormatError(`${f.name}: ${s.buckets.length} bucket counts for ${f.bounds.length} bounds (want bounds + 1)`);
    }
    if (s.buckets.some((n) => !Number.isInteger(n) || n < 0)) throw new MetricsFormatError(`${f.name}: bucket counts must be non-negative integers`);
  }
}

/** Renders the families in the order given; throws MetricsFormatError on anything promtool would refuse. */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const names = new Set<string>();
  const lines: string[] = [];
  for (const f of families) {
    checkFamily(f);
    if (names.has(f.name)) throw new MetricsFormatError(`${f.name}: family rendered twice`);
    names.add(f.name);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.samples) lines.push(`${f.name}${formatLabels(f.name, s.labels)} ${formatValue(s.value)}`);
      continue;
    }
    for (const s of f.samples) {
      let cumulative = 0;
      s.buckets.forEach((n, i) => {
        cumulative += n;
        const le = i < f.bounds.length ? formatValue(f.bounds[i]!) : '+Inf';
        lines.push(`${f.name}_bucket${formatLabels(f.name, s.labels, ['le', le])} ${cumulative}`);
      });
      lines.push(`${f.name}_sum${formatLabels(f.name, s.labels)} ${formatValue(s.sum)}`);
      lines.push(`${f.name}_count${formatLabels(f.name, s.labels)} ${cumulative}`);
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

// ============================================================================================
// Reader: the subset we write (no timestamps, no exemplars), strictly.
// ============================================================================================
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  samples: ParsedSample[];
}

function unescape(text: string, quotes: boolean): string {
  return text.replace(quotes ? /\\(["\\n])/g : /\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new MetricsFormatError(`line ${line}: invalid value ${JSON.stringify(text)}`);
  return n;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    pair.lastIndex = at;
    const m = pair.exec(text);
    if (!m) throw new MetricsFormatError(`line ${line}: malformed labels {${text}}`);
    if (m[1]! in labels) throw new MetricsFormatError(`line ${line}: label ${m[1]} given twice`);
    labels[m[1]!] = unescape(m[2]!, true);
    at = pair.lastIndex;
  }
  return labels;
}

/** The family a sample belongs to: histogram series carry _bucket, _sum or _count suffixes. */
function familyOf(name: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  const f = base ? families.get(base) : undefined;
  return f?.type === 'histogram' ? f : undefined;
}

export function parseMetrics(text: string): ParsedFamily[] {
  const families = new Map<string, ParsedFamily>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    // [\s\S], not `.`: a label or help text may hold U+2028/U+2029, which `.` does not match.
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?([\s\S]*)$/.exec(raw);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const f = families.get(name) ?? { name, help: '', type: 'untyped', samples: [] };
      families.set(name, f);
      if (kind === 'HELP') f.help = unescape(rest, false);
      else if (/^(counter|gauge|histogram|summary|untyped)$/.test(rest)) f.type = rest;
      else throw new MetricsFormatError(`line ${line}: unknown type ${JSON.stringify(rest)}`);
      return;
    }
    if (raw.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([\s\S]*)\})? (\S+)$/.exec(raw);
    if (!m) throw new MetricsFormatError(`line ${line}: malformed sample ${JSON.stringify(raw)}`);
    const f = familyOf(m[1]!, families);
    if (!f) throw new MetricsFormatError(`line ${line}: ${m[1]} has no TYPE line before it`);
    f.samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) });
  });
  return [...families.values()];
}

/** The value of one series, matching every label given; undefined when there is none. */
export function sampleValue(families: readonly ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
