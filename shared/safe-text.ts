// Text and integers that PostgreSQL will take as they are. A NUL cannot be stored in a text
// column, a lone UTF-16 surrogate cannot be encoded as UTF-8 (jsonb refuses its escape), and an
// integer past int4 overflows its column: each used to reach SQL and come back as a 500. Every
// zod schema at the edge builds its fields from these, so bad input is a structured 400.
import { z } from 'zod';

/** int4, the range of every integer column the API writes (expected_version, timeouts, …). */
export const INT4_MAX = 2_147_483_647;
export const INT4_MIN = -2_147_483_648;

// C0 and C1 control characters, DEL; free text may keep tab, line feed and carriage return.
// As patterns of the whole value, so the OpenAPI document shows them too. The control characters
// are the point of these patterns.
// deno-lint-ignore no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f]*$/;
// deno-lint-ignore no-control-regex
const NO_CONTROL_IN_PROSE = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** An identifier-like text: no control character at all, no lone surrogate. */
export function safeText(): z.ZodString {
  return z.string()
    .regex(NO_CONTROL, { message: 'must not contain control characters (NUL, tab, newline, …)', abort: true })
    .refine((v) => !hasLoneSurrogate(v), { message: 'must be valid Unicode (no lone surrogate)', abort: true });
}

/** Free text (a reason, a label): tab and newlines allowed, other control characters and lone surrogates not. */
export function safeProse(): z.ZodString {
  return z.string()
    .regex(NO_CONTROL_IN_PROSE, { message: 'must not contain control characters other than tab and newline', abort: true })
    .refine((v) => !hasLoneSurrogate(v), { message: 'must be valid Unicode (no lone surrogate)', abort: true });
}

/** An integer that fits an int4 column, within [min, max]. */
export function int4(min = INT4_MIN, max = INT4_MAX): z.ZodNumber {
  return z.number().int().min(Math.max(min, INT4_MIN)).max(Math.min(max, INT4_MAX));
}

// NUL and lone surrogates are the characters jsonb cannot store (other control characters are
// escaped). Data that is not a request (a sub-agent's answer) is repaired, not refused.
// deno-lint-ignore no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A deep copy of JSON-like data with NUL and lone surrogates replaced by U+FFFD, and how many were. */
export function replaceUnstorable(value: unknown): { value: unknown; replaced: number } {
  let replaced = 0;
  const text = (s: string) => s.replace(UNSTORABLE, () => { replaced += 1; return '\ufffd'; });
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return text(v);
    if (depth > 200 || typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[text(k)] = walk(x, depth + 1);
    return out;
  };
  const out = walk(value, 0);
  return { value: out, replaced };
}
