// Assembles programs/idl/optinfer.json from the sections printed by the idl-build test (stdin).
import { readFileSync, writeFileSync } from 'node:fs';

const text = readFileSync(0, 'utf8');
const sections = [...text.matchAll(/--- IDL begin (\w+) ---\n([\s\S]*?)\n--- IDL end \1 ---/g)];
const get = (name) => sections.filter((m) => m[1] === name).map((m) => m[2].trim());

const [address] = get('address');
const [programJson] = get('program');
if (!address || !programJson) {
  console.error('gen-idl: no IDL sections in the test output');
  process.exit(1);
}
const idl = JSON.parse(programJson);
idl.address = address;
const [errors] = get('errors');
idl.errors = errors ? JSON.parse(errors) : [];
idl.events = [];
const types = new Map((idl.types ?? []).map((t) => [t.name, t]));
for (const raw of get('event')) {
  const e = JSON.parse(raw);
  idl.events.push(e.event);
  for (const t of e.types ?? []) types.set(t.name, t);
}
// Stable order so the staleness check compares content, not print order.
idl.events.sort((a, b) => a.name.localeCompare(b.name));
idl.types = [...types.values()].sort((a, b) => a.name.localeCompare(b.name));
const out = process.argv[2];
writeFileSync(out, JSON.stringify(idl, null, 2) + '\n');
console.error(
  `gen-idl: wrote ${out} (${idl.instructions.length} instructions, ${idl.errors.length} errors, ${idl.events.length} events)`,
);
