// docs/openapi.json is generated (npm run openapi) and must not drift; a real OpenAPI 3.1
// validator checks it; every endpoint, header and error code is documented.
import fs from 'node:fs';
import path from 'node:path';
import { validate, compileErrors } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/errors.ts';
import { buildOpenApi, OPERATION_ERRORS, renderOpenApi } from '../../shared/openapi.ts';

const root = path.resolve(import.meta.dirname, '../..');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const committed = fs.readFileSync(path.join(root, 'docs/openapi.json'), 'utf8');
type Doc = { paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[]; responses: Record<string, { content?: Record<string, { examples?: Record<string, unknown> }> }> }>>; [k: string]: unknown };

describe('docs/openapi.json', () => {
  it('equals the generated document (run `npm run openapi` after changing a schema)', () => {
    expect(committed).toBe(renderOpenApi(version));
  });

  it('is a valid OpenAPI 3.1 document according to @readme/openapi-parser', async () => {
    const result = await validate(JSON.parse(committed));
    expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid');
    expect(JSON.parse(committed).openapi).toBe('3.1.0');
  }, 30_000); // the validator resolves every $ref: seconds on a loaded machine

  it('a broken document is refused by the same validator (the check can fail)', async () => {
    const broken = JSON.parse(committed);
    broken.paths['/health'].get.responses = 'none';
    expect((await validate(broken)).valid).toBe(false);
  }, 30_000);

  it('documents every endpoint, the handoff and webhook headers, and both security schemes', () => {
    const doc = buildOpenApi({ version }) as Doc;
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/directives', '/directives/workflow', '/directives/{sd}', '/handoff', '/handoff/attempts/{attempt_id}', '/handoff/attempts/{attempt_id}/approvals', '/handoff/attempts/{attempt_id}/override', '/health', '/metrics', '/operations',
      '/operations/modes', '/ops-webhook',
    ]);
    const names = (p: string, m: string) => (doc.paths[p]![m]!.parameters ?? []).map((x) => `${x.in}:${x.name}:${x.required ? 'required' : 'optional'}`);
    expect(names('/handoff', 'post')).toEqual(['header:Idempotency-Key:optional', 'header:Prefer:optional', 'header:Accept:optional', 'header:X-Stagegate-Handoff-Request:optional']);
    expect(names('/ops-webhook', 'post')).toEqual(['header:webhook-id:required', 'header:webhook-timestamp:required', 'header:webhook-signature:required']);
    expect(Object.keys((doc.components as { securitySchemes: object }).securitySchemes)).toEqual(['bearerAuth', 'standardWebhooks']);
  });

  it('lists every error code of shared/errors.ts with its status', () => {
    const doc = buildOpenApi({ version }) as Doc;
    const documented = new Map<string, string>();
    for (const methods of Object.values(doc.paths)) {
      for (const op of Object.values(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          for (const code of Object.keys(response.content?.['application/json']?.examples ?? {})) documented.set(code, status);
        }
      }
    }
    for (const [code, { status }] of Object.entries(ERROR_CODES)) expect({ code, status: documented.get(code) }).toEqual({ code, status: String(status) });
    expect(Object.keys(doc['x-error-codes'] as object).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(Object.keys(OPERATION_ERRORS)).toHaveLength(14);
  });
});
