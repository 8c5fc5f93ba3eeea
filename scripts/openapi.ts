// npm run openapi: writes docs/openapi.json from the zod schemas (shared/openapi.ts).
// tests/unit/openapi.test.ts fails when the committed file and the generated one differ.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderOpenApi } from '../shared/openapi.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const target = path.join(root, 'docs', 'openapi.json');
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target, renderOpenApi(version));
console.log(`wrote ${path.relative(root, target)}`);
