// The phase table against the program's (Phase, Move, PHASES in game.rs, read from source) and its own invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IDL } from '../settlement/idl.ts';
import { PHASE, PHASE_NAMES, PHASE_TABLE, allows, phaseRule, type Phase } from './phases.ts';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../programs/optinfer/src');
const rust = (f: string) => readFileSync(path.join(SRC, f), 'utf8');

/** The body of the first `{ ... }` or `[ ... ]` after `head` and then `then` (brackets balanced). */
function body(src: string, head: string, then = ''): string {
  const at = src.indexOf(head);
  assert.ok(at >= 0, `${head} in game.rs`);
  const from = src.indexOf(then, at + head.length) + then.length;
  const open = src.slice(from).search(/[{[]/) + from;
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if ('{['.includes(src[i])) depth++;
    else if ('}]'.includes(src[i]) && --depth === 0) return src.slice(open + 1, i);
  }
  throw new Error(`${head}: unbalanced brackets`);
}
const upperSnake = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
const variants = (list: string, enumName: string) =>
  [...list.matchAll(new RegExp(`${enumName}::(\\w+)`, 'g'))].map((m) => m[1]);

/** game.rs's table in the TypeScript table's shape. */
function rustTable() {
  const src = rust('game.rs');
  const numbers = new Map(
    [...body(src, 'pub enum Phase').matchAll(/^\s*(\w+) = (\d+),/gm)].map((m) => [m[1], Number(m[2])]),
  );
  const rows = body(src, 'pub const PHASES', '=')
    .split(/PhaseRule\s*\{/)
    .slice(1);
  return rows.map((row, index) => {
    const field = (name: string) => {
      const m = row.match(new RegExp(`\\b${name}: (&\\[[^\\]]*\\]|[^,\\n]*)`));
      assert.ok(m, `row ${index}: field ${name}`);
      return m[1];
    };
    const [phase] = variants(field('phase'), 'Phase');
    return {
      index,
      number: numbers.get(phase),
      name: upperSnake(phase),
      mover: variants(field('mover'), 'Mover')[0].toLowerCase(),
      alternates: field('alternates') === 'true',
      instructions: variants(field('moves'), 'Move').map((v) => upperSnake(v).toLowerCase()),
      next: variants(field('next'), 'Phase').map(upperSnake),
    };
  });
}

test('the phase table equals PHASES and the Phase enum in game.rs', () => {
  const fromRust = rustTable();
  assert.equal(fromRust.length, PHASE_TABLE.length, 'row count');
  for (const r of fromRust) {
    // The program indexes PHASES by the stored phase byte, so row i must be phase i.
    assert.equal(r.number, r.index, `game.rs row ${r.index} is phase ${r.name} = ${r.number}`);
  }
  assert.deepEqual(
    fromRust.map(({ name, mover, alternates, instructions, next }) => ({
      name,
      mover,
      alternates,
      instructions,
      next,
    })),
    PHASE_TABLE.map((r) => ({ ...r, instructions: [...r.instructions], next: [...r.next] })),
  );
});

test('every instruction in the table is a program instruction in the committed IDL', () => {
  const names = new Set(IDL.instructions.map((i) => i.name));
  for (const r of PHASE_TABLE) for (const i of r.instructions) assert.ok(names.has(i), `${r.name}: ${i}`);
});

test('rule: a dispute can always end, and nothing acts on it once it has', () => {
  for (const r of PHASE_TABLE) {
    if (r.name === 'RESOLVED') continue;
    assert.ok(allows(PHASE[r.name], 'claim_timeout'), `${r.name}: claim_timeout`);
    assert.ok(phaseRule(PHASE[r.name]).next.includes(PHASE.RESOLVED), `${r.name} -> RESOLVED`);
    assert.notEqual(r.mover, 'none', `${r.name}: someone is to move`);
  }
  const end = phaseRule(PHASE.RESOLVED);
  assert.deepEqual([end.mover, end.instructions, end.next], ['none', [], []]);
});

test('rule: every phase is reachable from the first, and a phase stays put only between half-rounds or steps', () => {
  const seen = new Set<Phase>([PHASE.EXEC_TRACE]);
  for (const p of seen) for (const n of phaseRule(p).next) seen.add(n);
  assert.equal(seen.size, PHASE_TABLE.length);
  for (const r of PHASE_TABLE) {
    const self = (r.next as readonly string[]).includes(r.name);
    assert.equal(self, r.alternates || r.name === 'ONE_STEP', `${r.name} -> itself`);
  }
});

test('PHASE and PHASE_NAMES number the phases as the program stores them', () => {
  assert.deepEqual(PHASE, {
    EXEC_TRACE: 0,
    CHAL_TRACE: 1,
    LAYER_BISECT: 2,
    LAYER_REVEAL: 3,
    CHUNK_BISECT: 4,
    LEAF_REVEAL: 5,
    ONE_STEP: 6,
    RESOLVED: 7,
  });
  assert.equal(PHASE_NAMES[PHASE.LAYER_REVEAL], 'layer_reveal');
  assert.equal(allows(PHASE.LAYER_BISECT, 'reveal_layer'), false);
  assert.throws(() => phaseRule(8), RangeError);
});
