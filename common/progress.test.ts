// Progress reporting: when a bar is drawn rather than lines, and which lines a task writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { barProgress, createProgress, lineProgress, wantsProgressBar } from './progress.ts';

test('a bar only on an interactive terminal: TTY, not CI, not TERM=dumb; OPTINFER_PROGRESS overrides', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  assert.equal(wantsProgressBar(tty, { TERM: 'xterm-256color' }), true);
  assert.equal(wantsProgressBar(tty, {}), true);
  assert.equal(wantsProgressBar(pipe, {}), false, 'a pipe or file gets lines');
  assert.equal(wantsProgressBar({}, {}), false, 'a stream that does not say it is a TTY gets lines');
  assert.equal(wantsProgressBar(tty, { CI: 'true' }), false, 'CI logs get lines even on a pseudo-terminal');
  assert.equal(wantsProgressBar(tty, { CI: '1' }), false);
  assert.equal(wantsProgressBar(tty, { CI: 'false' }), true);
  assert.equal(wantsProgressBar(tty, { TERM: 'dumb' }), false);
  assert.equal(wantsProgressBar(tty, { OPTINFER_PROGRESS: 'lines' }), false);
  assert.equal(wantsProgressBar(tty, { CI: 'true', OPTINFER_PROGRESS: 'bar' }), true);
  assert.equal(wantsProgressBar(pipe, { OPTINFER_PROGRESS: 'bar' }), false, 'never a bar into a pipe');
});

test('lines: every step of a short task, with its note, and a closing line with the time taken', () => {
  const lines: string[] = [];
  let now = 1_000;
  const p = lineProgress((l) => lines.push(l), { prefix: 'x: ', now: () => now });
  const t = p.start('registering', 3);
  t.tick(1, 'register_model');
  t.log('a message');
  t.tick(1, 'init_model_shapes');
  now += 1_500;
  t.tick(1, 'add_model_ops page 0');
  t.done();
  t.done();
  t.tick();
  assert.deepEqual(lines, [
    'x: registering: 3 steps',
    'x: registering 1/3: register_model',
    'x: a message',
    'x: registering 2/3: init_model_shapes',
    'x: registering 3/3: add_model_ops page 0',
    'x: registering: done, 3/3 in 1.5 s',
  ]);
});

test('lines: a long task writes at each 10% and when a step comes after a quiet spell, not at every step', () => {
  const lines: string[] = [];
  let now = 0;
  const t = lineProgress((l) => lines.push(l), { now: () => now, everyMs: 5_000 }).start(
    'digesting layers',
    1000,
  );
  for (let i = 0; i < 1000; i++) {
    if (i === 505) now += 6_000;
    t.tick(1, 'MatMul');
  }
  t.done();
  assert.equal(lines[0], 'digesting layers: 1000 steps');
  assert.equal(lines[1], 'digesting layers 100/1000 (10%): MatMul');
  assert.ok(lines.includes('digesting layers 506/1000 (50%): MatMul'), 'the step after 6 s of silence');
  assert.equal(lines.at(-2), 'digesting layers 1000/1000 (100%): MatMul');
  assert.equal(lines.at(-1), 'digesting layers: done, 1000/1000 in 6.0 s');
  assert.equal(lines.length, 1 + 10 + 1 + 1);
});

/** A writable that says it is a terminal and keeps what is written. */
function fakeTty(): NodeJS.WriteStream & { text: () => string } {
  let out = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, {
    isTTY: true,
    columns: 100,
    clearLine: () => true,
    cursorTo: (_x: number, cb?: () => void) => {
      out += '\r';
      cb?.();
      return true;
    },
    moveCursor: () => true,
    text: () => out,
  });
  return w;
}

test('bar: drawn on the terminal with count and note, messages above it, a closing line', () => {
  const tty = fakeTty();
  const t = barProgress(tty, 'trace: ').start('digesting layers', 4);
  t.tick(1, 'Conv');
  t.log('between');
  t.tick(3, 'Relu');
  t.done();
  const out = tty.text();
  assert.match(out, /trace: digesting layers \[-+\] 0\/4 0% [\d.]+s/, 'drawn at the start');
  assert.match(out, /trace: between\n/);
  assert.match(out, /trace: digesting layers \[=+\] 4\/4 100% [\d.]+s Relu/);
  assert.match(out, /trace: digesting layers: done in [\d.]+ s\n$/);
});

test('createProgress: lines to the given writer off a terminal, a bar on one', () => {
  const lines: string[] = [];
  const pipe = Object.assign(fakeTty(), { isTTY: false });
  createProgress({ stream: pipe, env: {}, write: (l) => lines.push(l) })
    .start('phases', 1)
    .tick(1, 'batch root');
  assert.deepEqual(lines, ['phases: 1 step', 'phases 1/1: batch root']);
  assert.equal(pipe.text(), '');
  const tty = fakeTty();
  createProgress({ stream: tty, env: {}, write: (l) => lines.push(l) })
    .start('phases', 2)
    .tick(1, 'batch root');
  assert.match(tty.text(), /phases \[-+\] 0\/2 0%/);
  assert.equal(lines.length, 2, 'nothing to the line writer when a bar is drawn');
});
