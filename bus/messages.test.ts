// The wire vocabulary agrees with the streams: durable kinds are captured by exactly one stream, the others by none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MESSAGE_KINDS } from './messages.ts';
import { STREAMS } from './subjects.ts';
import { patternWithin, subjectMatches } from './match.ts';

const SAMPLE_ID = 'Fq3VnTEST1d';

function capturedBy(subject: string): string[] {
  return STREAMS.filter((s) => s.subjects.some((p) => subjectMatches(p, subject))).map((s) => s.name);
}

test("durable kinds: one party's subject and the all-parties subject fall in exactly one stream", () => {
  for (const [name, kind] of Object.entries(MESSAGE_KINDS)) {
    if (kind.delivery !== 'durable') continue;
    const one = (kind.subject as (to: string) => string)(SAMPLE_ID);
    assert.equal(capturedBy(one).length, 1, `${name}: ${one} must be captured by exactly one stream`);
    assert.ok(subjectMatches(kind.all, one), `${name}: ${kind.all} must cover ${one}`);
    const streams = STREAMS.filter((s) => s.subjects.some((p) => patternWithin(kind.all, p)));
    assert.equal(streams.length, 1, `${name}: ${kind.all} must lie inside one stream`);
  }
});

test('notifications and requests are not captured by the work stream (a core publish there would be stored)', () => {
  for (const [name, kind] of Object.entries(MESSAGE_KINDS)) {
    if (kind.delivery === 'durable') continue;
    const subject = (kind.subject as (to: string) => string)(SAMPLE_ID);
    assert.ok(!capturedBy(subject).includes('OPTINFER_WORK'), `${name}: ${subject} is in the work stream`);
    if (kind.delivery === 'request')
      assert.deepEqual(
        capturedBy(subject),
        [],
        `${name}: request subject ${subject} is captured by a stream`,
      );
  }
});

test('every kind names who sends it and who reads it', () => {
  for (const [name, kind] of Object.entries(MESSAGE_KINDS)) {
    assert.ok(kind.from.length > 0 && kind.readers.length > 0, name);
  }
});
