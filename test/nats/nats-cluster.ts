// Test helper: a 3-server JetStream cluster of real nats-server processes on free loopback ports, killable one by one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServer } from '../helpers/nats-server.ts';
import { freePort } from '../helpers/node-process.ts';

/** Generous: on a loaded 2-core machine the routes connect and the meta group elects in a few seconds. */
export const CLUSTER_FORM_TIMEOUT_MS = 60_000;

export interface ClusterServer {
  readonly name: string;
  /** Client URL, nats://127.0.0.1:PORT. */
  readonly url: string;
  /** Monitoring endpoint, http://127.0.0.1:PORT (/jsz, /routez, /healthz). */
  readonly monitorUrl: string;
  readonly configFile: string;
  alive(): boolean;
  /** Kills the server (SIGKILL: a crash) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

export interface NatsCluster {
  readonly servers: readonly ClusterServer[];
  /** All client URLs, comma-separated: what `--nats` takes to reach the cluster through any live server. */
  readonly urls: string;
  /** Resolves once every live server reports the same JetStream meta leader (streams can be created then). */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  dispose(): Promise<void>;
}

interface Jsz {
  server_name?: string;
  meta_cluster?: { leader?: string; cluster_size?: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The config file of one cluster member: client port, monitoring port, JetStream store, routes to all members. */
export function clusterConfig(o: {
  name: string;
  clusterName: string;
  port: number;
  monitorPort: number;
  routePort: number;
  routePorts: number[];
  storeDir: string;
  maxPayload?: number;
  host?: string;
}): string {
  const host = o.host ?? '127.0.0.1';
  return [
    `server_name: ${o.name}`,
    `host: ${host}`,
    `port: ${o.port}`,
    `http: ${host}:${o.monitorPort}`,
    ...(o.maxPayload === undefined ? [] : [`max_payload: ${o.maxPayload}`]),
    `jetstream {`,
    `  store_dir: ${JSON.stringify(o.storeDir)}`,
    `}`,
    `cluster {`,
    `  name: ${o.clusterName}`,
    `  listen: ${host}:${o.routePort}`,
    `  routes: [`,
    ...o.routePorts.map((p) => `    nats-route://${host}:${p}`),
    `  ]`,
    `}`,
    '',
  ].join('\n');
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function startNatsCluster(
  opts: { size?: number; maxPayload?: number } = {},
): Promise<NatsCluster> {
  const bin = findNatsServer();
  if (!bin) throw new Error('nats-server not found (apt-get install nats-server, or set NATS_SERVER_BIN)');
  const size = opts.size ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'optinfer-nats-cluster-'));
  const ports = await distinctPorts(size * 3);
  const routePorts = ports.slice(2 * size);
  const servers: (ClusterServer & { start(): Promise<void> })[] = [];
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`;
    const configFile = join(dir, `${name}.conf`);
    await writeFile(
      configFile,
      clusterConfig({
        name,
        clusterName: 'optinfer-test',
        port: ports[i],
        monitorPort: ports[size + i],
        routePort: routePorts[i],
        routePorts,
        storeDir: join(dir, name),
        maxPayload: opts.maxPayload,
      }),
    );
    let child: ChildProcess | undefined;
    let log = '';
    servers.push({
      name,
      url: `nats://127.0.0.1:${ports[i]}`,
      monitorUrl: `http://127.0.0.1:${ports[size + i]}`,
      configFile,
      alive: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      output: () => log,
      async start() {
        const proc = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
        child = proc;
        live.add(proc);
        proc.once('exit', () => live.delete(proc));
        const onData = (c: Buffer): void => {
          log += c.toString();
        };
        proc.stdout?.on('data', onData);
        proc.stderr?.on('data', onData);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${name} not listening after ${CLUSTER_FORM_TIMEOUT_MS} ms:\n${log}`)),
            CLUSTER_FORM_TIMEOUT_MS,
          );
          const check = (): void => {
            if (log.includes('Server is ready')) {
              clearTimeout(timer);
              resolve();
            }
          };
          proc.stdout?.on('data', check);
          proc.stderr?.on('data', check);
          proc.once('exit', (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited (code ${code}, signal ${signal}) before ready:\n${log}`));
          });
        });
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        const proc = child;
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      },
    });
  }
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url).join(','),
    async waitForMetaLeader(timeoutMs = CLUSTER_FORM_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const up = servers.filter((s) => s.alive());
        const leaders = await Promise.all(
          up.map(async (s) => {
            try {
              const res = await fetch(`${s.monitorUrl}/jsz`, { signal: AbortSignal.timeout(2_000) });
              const j = (await res.json()) as Jsz;
              last = JSON.stringify(j.meta_cluster ?? {});
              return j.meta_cluster?.leader;
            } catch (e) {
              last = (e as Error).message;
              return undefined;
            }
          }),
        );
        const leader = leaders[0];
        if (leader && leaders.every((l) => l === leader)) return leader;
        if (Date.now() > deadline) {
          throw new Error(
            `no JetStream meta leader agreed by ${up.map((s) => s.name).join(', ')} after ${timeoutMs} ms ` +
              `(last /jsz meta_cluster: ${last})\n` +
              servers.map((s) => `--- ${s.name}\n${s.output().slice(-3_000)}`).join('\n'),
          );
        }
        await sleep(250);
      }
    },
    async dispose() {
      await Promise.all(servers.map((s) => s.kill('SIGTERM')));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(servers.map((s) => s.start()));
  } catch (e) {
    await cluster.dispose();
    throw e;
  }
  return cluster;
}
