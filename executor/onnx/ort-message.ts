// onnxruntime's error text made fit for users: no filesystem paths, no source locations or C++ signatures.
import { realpathSync } from 'node:fs';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A C++ source location (`/onnxruntime_src/.../graph.cc:1295` or `tensorprotoutils.cc:461`) and the function
 * onnxruntime names after it: a full signature `void a::B::c(int, T&) const`, or a bare name.
 */
const SOURCE_LOCATION =
  /(?:\/[^\s:"']*\/)?[\w.-]+\.(?:cc|cpp|cxx|h|hpp|cu|inc):\d+\s+(?:(?:[\w:<>,*&~]+ )*[\w:~<>]+\([^()]*\)(?: const)?\s*|[A-Za-z_]\w*\s+)?/g;
const ORT_PREFIX = /\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g;
/** An absolute path as a token: after start, space, quote, bracket, '=' or ','. */
const ABSOLUTE_PATH = /(^|[\s"'(=,[])(?:\/|[A-Za-z]:\\)[^\s"',)\]]+/g;

function cwdForms(): string[] {
  const cwd = process.cwd();
  const forms = [cwd];
  try {
    const real = realpathSync(cwd);
    if (real !== cwd) forms.push(real);
  } catch {
    // The working directory can vanish; the plain form is still replaced.
  }
  return forms;
}

/**
 * The first line of an onnxruntime message with the node's working directory, every absolute path and
 * onnxruntime's source locations removed, so a user learns what failed but nothing about the machine.
 */
export function userFacingOrtMessage(e: unknown): string {
  let msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  for (const cwd of cwdForms()) {
    if (cwd.length > 1) msg = msg.replace(new RegExp(`${escape(cwd)}(?=[\\/"'\\s,)]|$)`, 'g'), '.');
  }
  return msg
    .replace(SOURCE_LOCATION, '')
    .replace(ORT_PREFIX, '')
    .replace(ABSOLUTE_PATH, '$1<path>')
    .replace(/\s+/g, ' ')
    .trim();
}
