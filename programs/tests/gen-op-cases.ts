// Writes tests/fixtures/op-cases.json from the JS reference (run after changing lib/op-cases.ts).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { buildCases } from './lib/op-cases.ts';

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/op-cases.json');
// Formatted with the repository's prettier config so `prettier --check` stays green.
const config = (await prettier.resolveConfig(out)) ?? {};
writeFileSync(out, await prettier.format(JSON.stringify(buildCases()), { ...config, filepath: out }));
console.log(`wrote ${out}`);
