// The explorer's entry: one client for the node that served the page, a router over /explorer/..., live views that poll.
import { OptinferClient } from '../../client/index.ts';
import { fill, h } from './dom.ts';
import { batchesView } from './views/batches.ts';
import { disputesView } from './views/disputes.ts';
import { jobView } from './views/job.ts';
import { operatorsView } from './views/operators.ts';
import { submitView } from './views/submit.ts';

/** What every view gets: the client, where to draw, and a way to move to another address. */
export interface ViewContext {
  client: OptinferClient;
  root: HTMLElement;
  go: (path: string) => void;
  /** Calls `fn` now and every `ms` until the view is left; errors are shown by the view itself. */
  every: (ms: number, fn: () => Promise<void>) => void;
  /** Aborted when the view is left. */
  signal: AbortSignal;
}

type View = (ctx: ViewContext, params: string[]) => void;

const ROUTES: [RegExp, View, string][] = [
  [/^\/?$/, batchesView, 'batches'],
  [/^\/batches\/?$/, batchesView, 'batches'],
  [/^\/jobs\/([^/]+)\/?$/, jobView, 'batches'],
  [/^\/disputes\/?$/, disputesView, 'disputes'],
  [/^\/operators\/?$/, operatorsView, 'operators'],
  [/^\/submit\/?$/, submitView, 'submit'],
];

const client = new OptinferClient({ url: location.origin, pollMs: 500 });
const root = document.getElementById('app')!;
let leave: AbortController | undefined;

function route(): void {
  leave?.abort();
  const controller = new AbortController();
  leave = controller;
  const path = location.pathname.replace(/^\/explorer/, '');
  const hit = ROUTES.map(([re, view, nav]) => [re.exec(path), view, nav] as const).find(([m]) => m);
  document.querySelectorAll('[data-nav]').forEach((a) => {
    a.classList.toggle('active', hit?.[2] === a.getAttribute('data-nav'));
  });
  fill(root);
  const ctx: ViewContext = {
    client,
    root,
    go,
    signal: controller.signal,
    every(ms, fn) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = async () => {
        if (controller.signal.aborted) return;
        await fn().catch(() => {});
        if (!controller.signal.aborted) timer = setTimeout(tick, ms);
      };
      controller.signal.addEventListener('abort', () => clearTimeout(timer));
      void tick();
    },
  };
  if (!hit) {
    fill(root, h('h1', {}, 'Not found'), h('p', {}, `No page at ${location.pathname}.`));
    return;
  }
  hit[1](ctx, hit[0]!.slice(1).map(decodeURIComponent));
}

function go(path: string): void {
  const target = path.startsWith('/explorer') ? path : `/explorer${path}`;
  if (target !== location.pathname) history.pushState(null, '', target);
  route();
}

// Links inside the explorer change the view without a reload; others (and modified clicks) go as usual.
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/explorer')) return;
  e.preventDefault();
  go(url.pathname);
});
window.addEventListener('popstate', route);

// The node's health in the header, every few seconds.
const status = document.getElementById('node-status')!;
async function health(): Promise<void> {
  try {
    const s = (await client.health()) as { ok: boolean; queued?: number; executors?: number };
    status.textContent = s.ok
      ? `node up · ${s.executors ?? 0} executors · ${s.queued ?? 0} queued`
      : 'node degraded';
    status.className = s.ok ? 'muted' : 'error';
  } catch {
    status.textContent = 'node unreachable';
    status.className = 'error';
  }
  setTimeout(health, 3000);
}
void health();
route();
