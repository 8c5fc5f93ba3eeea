import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES, errorBody, httpStatus, isErrorCode, isRetryableError, mapDbError, StagegateError,
} from '../../shared/errors.ts';

describe('error table', () => {
  it('has the agreed statuses', () => {
    expect(Object.fromEntries(Object.entries(ERROR_CODES).map(([k, v]) => [k, v.status]))).toEqual({
      INVALID_INPUT: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_A_MEMBER: 403, ROLE_NOT_ALLOWED: 403,
      AWAITING_APPROVAL: 409, SELF_APPROVAL: 403, NOT_AN_APPROVER: 403, APPROVAL_CLOSED: 409, OVERRIDE_NOT_ALLOWED: 403, NOT_OVERRIDABLE: 409,
      SD_NOT_FOUND: 404, ATTEMPT_NOT_FOUND: 404,
      UNKNOWN_HANDOFF_TYPE: 400, UNKNOWN_GATE: 400, WRONG_PHASE: 409, CLAIMED_BY_OTHER_SESSION: 409, SD_BUSY: 409,
      VERSION_CONFLICT: 409, ALREADY_TRANSITIONED: 409, IDEMPOTENCY_IN_FLIGHT: 409, IDEMPOTENCY_MISMATCH: 422,
      INVALID_GATE_RESULT: 422, METHOD_NOT_ALLOWED: 405, PAYLOAD_TOO_LARGE: 413, UNSUPPORTED_MEDIA_TYPE: 415,
      INTERNAL: 500, DB_UNAVAILABLE: 503, CONFIG_INVALID: 503, NOT_FOUND: 404, PROMOTION_BLOCKED: 409, WEBHOOK_SIGNATURE_INVALID: 401,
      WEBHOOK_TIMESTAMP_INVALID: 401, WEBHOOK_REPLAYED: 409, WEBHOOK_NOT_CONFIGURED: 503, DIRECTIVE_EXISTS: 409,
    });
    expect(isRetryableError('SD_BUSY')).toBe(true);
    expect(isRetryableError('DB_UNAVAILABLE')).toBe(true);
    expect(isRetryableError('WRONG_PHASE')).toBe(false);
    expect(isErrorCode('SD_BUSY')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(httpStatus('PAYLOAD_TOO_LARGE')).toBe(413);
  });
  it('errorBody and StagegateError share one shape', () => {
    expect(errorBody('SD_NOT_FOUND', 'no SD')).toEqual({ error: { code: 'SD_NOT_FOUND', message: 'no SD', details: null } });
    const e = new StagegateError('UNKNOWN_HANDOFF_TYPE', 'bad type', { suggestions: ['EXEC-TO-PLAN'] });
    expect(e.status).toBe(400);
    expect(e.toBody()).toEqual({ error: { code: 'UNKNOWN_HANDOFF_TYPE', message: 'bad type', details: { suggestions: ['EXEC-TO-PLAN'] } } });
    expect(mapDbError(e)).toMatchObject({ code: 'UNKNOWN_HANDOFF_TYPE', status: 400 });
  });
});

describe('mapDbError', () => {
  const pg = (message: string, code = 'P0001', extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { code, ...extra });

  it('maps by the message prefix first', () => {
    expect(mapDbError(pg('SD_BUSY: strategic directive SD-1 is being transitioned by another request', 'SG006')))
      .toEqual({ code: 'SD_BUSY', status: 409, message: 'strategic directive SD-1 is being transitioned by another request', details: null });
    expect(mapDbError(pg('WRONG_PHASE: SD-1 is in LEAD, EXEC-TO-PLAN needs EXEC', 'SG999', { detail: '{"current_phase":"LEAD"}' })))
      .toMatchObject({ code: 'WRONG_PHASE', status: 409, details: { current_phase: 'LEAD' } });
    expect(mapDbError({ message: 'VERSION_CONFLICT: expected 3, found 4', code: 'P0001', details: 'plain text' }))
      .toMatchObject({ code: 'VERSION_CONFLICT', details: 'plain text' }); // supabase-js shape
    expect(mapDbError(pg('SD_NOT_FOUND:')).message).toBe('SD_NOT_FOUND');
  });
  it('then by SQLSTATE', () => {
    expect(mapDbError(pg('claim held by s2', 'SG005'))).toMatchObject({ code: 'CLAIMED_BY_OTHER_SESSION', message: 'claim held by s2' });
    expect(mapDbError(pg("DEPENDENCY_CYCLE: sub-agent 'A' depends on itself", 'SG014')))
      .toMatchObject({ code: 'INVALID_INPUT', status: 400, message: "sub-agent 'A' depends on itself" });
    expect(mapDbError(pg('DIRECT_UPDATE_REFUSED: call fn_execute_handoff', 'SG012'))).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(mapDbError(pg('could not obtain lock on row in relation "x"', '55P03'))).toMatchObject({ code: 'SD_BUSY', status: 409 });
    expect(mapDbError(pg('invalid input syntax for type uuid: "zz"', '22P02')))
      .toEqual({ code: 'INVALID_INPUT', status: 400, message: 'The request contains an invalid value', details: null });
    expect(mapDbError(pg('sorry, too many clients already', '53300')).code).toBe('DB_UNAVAILABLE');
    // what answered 500 before (issue #15): NUL in text, \u0000 in jsonb, a number past int4, a bad interval
    for (const state of ['22021', '22P05', '22003', '22007', '22008']) {
      expect(mapDbError(pg('invalid value', state))).toMatchObject({ code: 'INVALID_INPUT', status: 400, message: 'The request contains an invalid value' });
    }
    expect(mapDbError(pg('terminating connection due to administrator command', '57P01')).code).toBe('DB_UNAVAILABLE');
  });
  it('maps connection failures to DB_UNAVAILABLE', () => {
    expect(mapDbError(pg('connection failure', '08006'))).toMatchObject({ code: 'DB_UNAVAILABLE', status: 503 });
    expect(mapDbError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })).code).toBe('DB_UNAVAILABLE');
    expect(mapDbError(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })).code).toBe('DB_UNAVAILABLE');
    expect(mapDbError(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } })).code).toBe('DB_UNAVAILABLE');
    expect(mapDbError({ message: 'TypeError: fetch failed' }).code).toBe('DB_UNAVAILABLE');
    expect(mapDbError({ message: 'x', errno: 'ECONNRESET' }).code).toBe('DB_UNAVAILABLE');
  });
  it('anything else is INTERNAL with a generic message that leaks nothing', () => {
    const leaky = pg('relation "secret_table" does not exist', '42P01');
    expect(mapDbError(leaky)).toEqual({ code: 'INTERNAL', status: 500, message: 'Internal error', details: null });
    expect(mapDbError(pg('ERROR: something')).code).toBe('INTERNAL');
    expect(mapDbError(pg('NOT_A_CODE: x')).code).toBe('INTERNAL');
    expect(mapDbError('boom').code).toBe('INTERNAL');
    expect(mapDbError(null).code).toBe('INTERNAL');
    expect(JSON.stringify(mapDbError(new Error('at Object.<anonymous> (/srv/x.ts:1:1)')))).not.toMatch(/srv|anonymous/);
  });
});
