// Writes tests/fixtures/op-cases.json from the JS reference (run after changing lib/op-cases.ts).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCases } from './lib/op-cases.ts';

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/op-cases.json');
writeFileSync(out, JSON.stringify(buildCases(), null, 1) + '\n');
console.log(`wrote ${out}`);
