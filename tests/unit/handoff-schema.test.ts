import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ErrorResponseSchema, GateOutcomeSchema, HandoffRequestSchema, HandoffResponseSchema, parseHandoffRequest,
} from '../../shared/handoff-schema.ts';
import { runGates } from '../../shared/dag-runner.ts';
import { errorBody } from '../../shared/errors.ts';

const valid = { sd_id: 'SD-DEMO-001', handoff_type: 'EXEC-TO-PLAN', session_id: 'sess-1' };

describe('parseHandoffRequest', () => {
  it('accepts a minimal request and fills defaults', () => {
    expect(parseHandoffRequest(valid)).toEqual({
      ok: true,
      value: { ...valid, dry_run: false, skip_idempotency: false, handoff_type_input: 'EXEC-TO-PLAN', handoff_type_fixes: [] },
    });
  });
  it('normalises handoff type variants and keeps what was sent', () => {
    for (const t of ['exec-to-plan', 'EXEC_TO_PLAN', 'ExecToPlan']) {
      const r = parseHandoffRequest({ ...valid, handoff_type: t, timeout_ms: 5000, dry_run: true, expected_version: 0 });
      expect(r.ok && r.value).toMatchObject({ handoff_type: 'EXEC-TO-PLAN', handoff_type_input: t, timeout_ms: 5000, dry_run: true, expected_version: 0 });
    }
  });
  it('answers an unknown handoff type with suggestions', () => {
    const r = parseHandoffRequest({ ...valid, handoff_type: 'exec-too-plan' });
    expect(r).toMatchObject({ ok: false, error: { code: 'UNKNOWN_HANDOFF_TYPE', details: { suggestions: ['EXEC-TO-PLAN'] } } });
    expect(!r.ok && r.error.message).toBe('Unknown handoff type "exec-too-plan"; did you mean EXEC-TO-PLAN?');
    const none = parseHandoffRequest({ ...valid, handoff_type: 'banana' });
    expect(!none.ok && none.error.message).toBe('Unknown handoff type "banana"');
  });
  it('refuses bad input as INVALID_INPUT with flattened issues', () => {
    const r = parseHandoffRequest({ ...valid, sd_id: '', timeout_ms: 50, extra: 1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('INVALID_INPUT');
    const paths = (r.error.details as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['(body)', 'sd_id', 'timeout_ms']);
    expect(r.error.message).toMatch(/^Invalid handoff request: /);
    for (const body of [null, 'x', [], { ...valid, dry_run: 'yes' }, { ...valid, timeout_ms: 1.5 }, { ...valid, expected_version: -1 },
      { ...valid, session_id: 'x'.repeat(201) }, { ...valid, handoff_type: 'x'.repeat(65) }, { sd_id: 'SD-1' }]) {
      expect(parseHandoffRequest(body)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    }
  });
  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.anything(), (body) => {
      const r = parseHandoffRequest(body);
      expect(typeof r.ok).toBe('boolean');
    }));
    fc.assert(fc.property(fc.string({ maxLength: 70 }), (t) => {
      const r = parseHandoffRequest({ ...valid, handoff_type: t });
      if (!r.ok) expect(['INVALID_INPUT', 'UNKNOWN_HANDOFF_TYPE']).toContain(r.error.code);
    }));
  });
});

describe('response schemas', () => {
  it('a runner outcome is a valid GateOutcome and an error body a valid ErrorResponse', async () => {
    const r = await runGates([{ code: 'A', kind: 'builtin' }, { code: 'B', kind: 'builtin', skip: true }], {
      execute: async () => ({ passed: true, score: 1, maxScore: 1, issues: [], warnings: [], details: { n: 1 } }), context: {},
    });
    for (const o of r.outcomes) expect(GateOutcomeSchema.parse(o)).toEqual(o);
    expect(ErrorResponseSchema.safeParse(errorBody('SD_BUSY', 'busy')).success).toBe(true);
    expect(ErrorResponseSchema.safeParse(errorBody('NOPE' as never, 'x')).success).toBe(false);
    const response = {
      verdict: 'accepted', sd_id: 'uuid', handoff_type: 'EXEC-TO-PLAN', phase_before: 'EXEC', phase_after: 'EXEC_COMPLETE',
      score: 92.5, threshold: 85, validation_mode: 'strict', dry_run: false, replay: false, request_id: 'r', attempt_id: 'a',
      audit_id: 'x', gates: r.outcomes, wall_ms: r.wallMs, critical_path_ms: r.criticalPathMs,
    };
    expect(HandoffResponseSchema.safeParse(response).success).toBe(true);
    expect(HandoffResponseSchema.safeParse({ ...response, verdict: 'maybe' }).success).toBe(false);
  });
  it('converts to JSON Schema for the OpenAPI document', () => {
    type Obj = { additionalProperties?: boolean; required?: string[] };
    const doc = z.toJSONSchema(HandoffRequestSchema, { io: 'input' }) as { $defs: Record<string, Obj> };
    const req = doc.$defs.HandoffRequest!; // the meta id names the component
    expect(req.additionalProperties).toBe(false);
    expect(req.required?.sort()).toEqual(['handoff_type', 'sd_id', 'session_id']);
    expect(() => z.toJSONSchema(HandoffResponseSchema)).not.toThrow();
    expect(() => z.toJSONSchema(ErrorResponseSchema)).not.toThrow();
  });
});
