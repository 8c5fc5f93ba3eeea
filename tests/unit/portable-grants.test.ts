import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrationsDir, portableGrants } from '../../stack/schema.ts';

// The migrations must apply on PostgreSQL 15 and 16 as well as 17 (tests/e2e/existing-postgres
// runs them on Debian's 15); MAINTAIN is a PostgreSQL 17 table privilege.
describe('portable grants', () => {
  it('writes the full PostgreSQL 17 table privilege list as ALL', () => {
    const diff = 'GRANT DELETE, INSERT, MAINTAIN, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."t" TO "service_role";\n'
      + 'REVOKE DELETE, INSERT, MAINTAIN, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."t" FROM "anon";\n'
      + 'GRANT SELECT ON TABLE "public"."t" TO "authenticated";\n';
    expect(portableGrants(diff)).toBe('GRANT ALL ON TABLE "public"."t" TO "service_role";\n'
      + 'REVOKE ALL ON TABLE "public"."t" FROM "anon";\n'
      + 'GRANT SELECT ON TABLE "public"."t" TO "authenticated";\n');
  });

  it('refuses a partial list that names MAINTAIN', () => {
    expect(() => portableGrants('GRANT SELECT, MAINTAIN ON TABLE "public"."t" TO "x";')).toThrow(/MAINTAIN/);
  });

  it('no migration grants or revokes MAINTAIN', () => {
    for (const file of fs.readdirSync(migrationsDir).filter((f) => f.endsWith('.sql'))) {
      const lines = fs.readFileSync(path.join(migrationsDir, file), 'utf8').split('\n');
      const bad = lines.filter((l) => /^\s*(GRANT|REVOKE)\b.*\bMAINTAIN\b/i.test(l));
      expect(bad, file).toEqual([]);
    }
  });
});
