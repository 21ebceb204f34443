// Subject syntax checks and NATS-style wildcard matching (`*` one token, `>` one or more trailing tokens).
import { BusError, type StreamSpec } from './bus.ts';

const BAD_TOKEN = /[\s*>]/;
const NAME = /^[A-Za-z0-9_-]+$/;

/** Throws INVALID_SUBJECT unless subject is well formed; wildcards only when allowed, `>` only last. */
export function checkSubject(subject: string, allowWildcards: boolean): string[] {
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new BusError('INVALID_SUBJECT', `invalid subject ${JSON.stringify(subject)}: empty`);
  }
  const tokens = subject.split('.');
  tokens.forEach((t, i) => {
    const wildcard = t === '*' || (t === '>' && i === tokens.length - 1);
    if (wildcard && allowWildcards) return;
    if (t.length === 0 || BAD_TOKEN.test(t)) {
      throw new BusError(
        'INVALID_SUBJECT',
        `invalid subject ${JSON.stringify(subject)}: token ${i} ${JSON.stringify(t)}` +
          (allowWildcards ? '' : ' (wildcards are not allowed here)'),
      );
    }
  });
  return tokens;
}

/** A consumer, queue group or stream name: letters, digits, '_' and '-'. */
export function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new BusError('INVALID_SUBJECT', `invalid ${kind} ${JSON.stringify(name)}: use [A-Za-z0-9_-]+`);
  }
}

/** Does the concrete subject match the pattern? */
export function subjectMatches(pattern: string, subject: string): boolean {
  return tokensMatch(pattern.split('.'), subject.split('.'));
}

export function tokensMatch(p: readonly string[], s: readonly string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Can some concrete subject match both patterns? */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] === '>' || y[i] === '>') return true;
    if (x[i] !== '*' && y[i] !== '*' && x[i] !== y[i]) return false;
  }
}

/** Is every subject matched by `inner` also matched by `outer`? */
export function patternWithin(inner: string, outer: string): boolean {
  const f = inner.split('.');
  const s = outer.split('.');
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '>') return f.length > i;
    if (i >= f.length || f[i] === '>') return false;
    if (s[i] !== '*' && s[i] !== f[i]) return false;
  }
  return f.length === s.length;
}

/** The stream capturing a concrete subject (send) or containing a filter pattern (consume). */
export function streamFor(streams: readonly StreamSpec[], subject: string): StreamSpec {
  const found = streams.find((st) => st.subjects.some((p) => patternWithin(subject, p)));
  if (!found) {
    const known = streams.flatMap((st) => st.subjects).join(', ');
    throw new BusError(
      'NOT_DURABLE',
      `no durable stream captures ${JSON.stringify(subject)} (durable subjects: ${known}); use publish for notifications`,
    );
  }
  return found;
}
