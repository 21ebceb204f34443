// Small DOM helpers for the explorer: element building (text only, never HTML strings), formatting of keys, lamports and times.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** An element with attributes (`on*` functions become listeners; false/null ones are left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
  return el;
}

/** A key or hash shortened for a narrow screen, with the whole value as its title. */
export function short(v: string | null | undefined, keep = 6): HTMLElement {
  if (!v) return h('span', { class: 'muted' }, '—');
  const text = v.length > keep * 2 + 1 ? `${v.slice(0, keep)}…${v.slice(-keep)}` : v;
  return h('code', { title: v, class: 'key' }, text);
}

const LAMPORTS_PER_SOL = 1_000_000_000n;

/** Lamports (a decimal string) as SOL with up to 4 decimals. */
export function sol(lamports: string): string {
  const l = BigInt(lamports);
  const whole = l / LAMPORTS_PER_SOL;
  const frac = (l % LAMPORTS_PER_SOL).toString().padStart(9, '0').slice(0, 4).replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} SOL`;
}

/** Milliseconds as `1m 05s`, `12s` or `0.4s`. */
export function duration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

export function time(at: number): string {
  return new Date(at).toLocaleTimeString();
}

/** A link inside the explorer (the router takes the click; the address stays linkable). */
export function link(path: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: `/explorer${path}`, 'data-route': '' }, ...children);
}

/** An error as a visible line (the API's code first when it has one). */
export function errorLine(e: unknown): HTMLElement {
  const err = e as { code?: string; message?: string };
  return h('p', { class: 'error', role: 'alert' }, err.code ? `${err.code}: ` : '', err.message ?? String(e));
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
}
