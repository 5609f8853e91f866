/**
 * A V8 CPU profile (inspector `Profiler.stop`, or `node --cpu-prof`) turned into CPU time by
 * component: the package or part of the app that spent it. Frames of the bundle are mapped back
 * to their sources through its source map, so `dist/index.mjs` splits into jose, the Table SDK,
 * joi, shared/pipeline and the rest.
 *
 * A sample is charged to its owner: the innermost frame on its stack that belongs to a package or
 * to the app. Time in Node's own JavaScript (http, streams, crypto, undici) and in native functions
 * (JSON.stringify, a WebCrypto call) is charged to the package that called it; undici (Node's
 * fetch, Request and web streams) is named with its caller ("undici, called by …"), the Graph
 * client's being the Graph calls. Only what runs with no package or app frame on the stack
 * (parsing a request as it arrives, the event loop's own callbacks) stays with Node's internals.
 * Idle samples are not CPU and are left out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between samples. */
  timeDeltas: number[];
}

export interface Component {
  name: string;
  /** Whether a sample in this frame is charged here (a package, the app), or to a caller found further up. */
  owns: boolean;
}

export interface ComponentTime {
  component: string;
  ms: number;
  msPerCreate: number;
  /** Of the profile's CPU time. */
  share: number;
}

export interface ProfileSplit {
  creates: number;
  /** CPU time the samples cover (the main thread; idle excluded). */
  totalMs: number;
  msPerCreate: number;
  components: ComponentTime[];
}

export const components = {
  jose: 'jose (caller token verification)',
  tables: 'Table SDK (@azure/data-tables, core-*)',
  identity: 'managed identity (@azure/identity, MSAL)',
  functionsLibrary: '@azure/functions request objects',
  joi: 'joi (validation)',
  fetch: 'fetch (undici in Node) for Graph calls',
  undiciAsync: 'undici in Node, nobody on the stack (sockets, streams)',
  localHost: 'local host (dev/)',
  loader: 'tsx loader',
  gc: 'GC',
  native: 'V8 and native, unattributed',
  nodeHttp: 'Node http internals',
  nodeNet: 'Node net and streams',
  nodeCrypto: 'Node crypto',
  nodeTimers: 'Node timers',
  nodeOther: 'Node internals, other',
  unmapped: 'bundle, unmapped',
} as const;

const tablePackages = /^(@azure\/(data-tables|core-[\w-]+|abort-controller|logger)|@typespec\/ts-http-runtime|tslib|fast-xml-parser|strnum|uuid)$/;
const identityPackages = /^(@azure\/(identity|msal-[\w-]+)|jsonwebtoken|jws|jwa|open|stoppable)$/;
const functionsPackages = /^(@azure\/functions|undici|cookie|long)$/;
const joiPackages = /^(joi|@hapi\/[\w-]+|@sideway\/[\w-]+|@standard-schema\/[\w-]+)$/;
const loaderPackages = /^(tsx|esbuild|get-tsconfig|resolve-pkg-maps)$/;

function packageOf(path: string): string | undefined {
  const at = path.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const [first = '', second = ''] = path.slice(at + 'node_modules/'.length).split('/');
  return first.startsWith('@') ? `${first}/${second}` : first;
}

/** The path inside the project (`shared/pipeline/pipeline.ts`), from a URL, an absolute path or `../shared/...`. */
export function projectPath(source: string, projectRoot: string): string {
  const path = source.replace(/^file:\/\//, '');
  if (path.startsWith(projectRoot)) return path.slice(projectRoot.length).replace(/^\/+/, '');
  return path.replace(/^(\.\.?\/)+/, '');
}

/**
 * The component of one source: `source` is a module URL or a path (a bundle frame's original
 * source); `inBundle` says whether the frame ran from the deployed bundle or from the local host's
 * own modules, loaded beside it.
 */
export function componentOfSource(source: string, inBundle: boolean, projectRoot: string): Component {
  if (source === '') return { name: components.native, owns: false };
  // Node's fetch, Request, Response and web streams are undici; its HTTP parser is WebAssembly (wasm://).
  if (source.startsWith('node:internal/deps/undici') || source.startsWith('wasm://')) return { name: components.undiciAsync, owns: false };
  if (source.startsWith('node:')) {
    const module = source.slice('node:'.length);
    if (/^(_http_|http$|internal\/http)/.test(module)) return { name: components.nodeHttp, owns: false };
    if (/^(net$|stream$|internal\/(stream_base_commons|streams\/|net$|js_stream_socket))/.test(module)) return { name: components.nodeNet, owns: false };
    if (/^(crypto$|internal\/crypto\/)/.test(module)) return { name: components.nodeCrypto, owns: false };
    if (/^(timers$|internal\/timers$)/.test(module)) return { name: components.nodeTimers, owns: false };
    return { name: components.nodeOther, owns: false };
  }
  const name = packageOf(source);
  if (name) {
    if (name === 'jose') return { name: components.jose, owns: true };
    if (tablePackages.test(name)) return { name: components.tables, owns: true };
    if (identityPackages.test(name)) return { name: components.identity, owns: true };
    if (functionsPackages.test(name)) return { name: components.functionsLibrary, owns: true };
    if (joiPackages.test(name)) return { name: components.joi, owns: true };
    if (loaderPackages.test(name)) return { name: components.loader, owns: true };
    return { name: `package ${name}`, owns: true };
  }
  const path = projectPath(source, projectRoot);
  // The local host's own modules (dev/, and what it imports from shared/) are loaded beside the bundle.
  // The benchmark runs the local host compiled into one file (bench/support/compiledHost.ts).
  if (!inBundle && (/^(dev|shared)\//.test(path) || path === '.bench/host.mjs')) return { name: components.localHost, owns: true };
  const folder = /^shared\/([\w-]+)\//.exec(path)?.[1];
  if (folder) return { name: `app: shared/${folder}`, owns: true };
  if (/^shared\/[\w.-]+$/.test(path)) return { name: 'app: shared/*.ts (config, errors, runtime)', owns: true };
  if (path.startsWith('functions/')) return { name: 'app: functions/', owns: true };
  if (path.startsWith('bench/')) return { name: 'benchmark profiler hook', owns: true };
  return { name: path.startsWith('/') ? 'other, outside the project' : `other: ${path}`, owns: true };
}

/** Maps positions in the bundle (its entry and its chunks) back to their sources. */
export interface BundleSources {
  /** Whether a frame's URL is a file of the bundle. */
  owns(url: string): boolean;
  /** The original source of a 0-based position, or undefined when the map has none. */
  sourceAt(url: string, line: number, column: number): string | undefined;
}

const originalSource = (map: SourceMap | undefined, line: number, column: number) =>
  (map?.findEntry(line, column) as { originalSource?: string } | undefined)?.originalSource;

/** One bundled file and its source map. */
export function bundleSources(url: string, map: SourceMapPayload): BundleSources {
  const sourceMap = new SourceMap(map);
  return { owns: (candidate) => candidate === url, sourceAt: (_url, line, column) => originalSource(sourceMap, line, column) };
}

/** Every `.mjs` file under `folder` (the entry and `chunks/`), each with the `.map` beside it, read when first needed. */
export function bundleSourcesIn(folder: string): BundleSources {
  const prefix = `${pathToFileURL(folder).href}/`;
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string) => {
    if (!maps.has(url)) {
      const file = `${fileURLToPath(url)}.map`;
      maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload) : undefined);
    }
    return maps.get(url);
  };
  return {
    owns: (url) => url.startsWith(prefix) && url.endsWith('.mjs'),
    sourceAt: (url, line, column) => originalSource(mapOf(url), line, column),
  };
}

const special: Record<string, Component | null> = {
  '(idle)': null,
  '(root)': null,
  '(garbage collector)': { name: components.gc, owns: true },
  '(program)': { name: components.native, owns: true },
};

export function splitProfile(profile: CpuProfile, creates: number, bundle: BundleSources | undefined, projectRoot: string): ProfileSplit {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const frameComponents = new Map<number, Component | null>();
  const componentOfNode = (node: CpuProfileNode): Component | null => {
    let found = frameComponents.get(node.id);
    if (found !== undefined) return found;
    const frame = node.callFrame;
    if (frame.functionName in special && frame.url === '') {
      found = special[frame.functionName]!;
    } else if (bundle?.owns(frame.url)) {
      const source = bundle.sourceAt(frame.url, frame.lineNumber, frame.columnNumber);
      found = source === undefined ? { name: components.unmapped, owns: true } : componentOfSource(source, true, projectRoot);
    } else {
      found = componentOfSource(frame.url, false, projectRoot);
    }
    frameComponents.set(node.id, found);
    return found;
  };

  /** The owner of a sample whose innermost frame is `leafId`; null for idle. */
  const owners = new Map<number, string | null>();
  const ownerOf = (leafId: number): string | null => {
    const known = owners.get(leafId);
    if (known !== undefined) return known;
    let owner: string | null = null;
    let fallback: string | undefined;
    let inUndici = false;
    for (let id: number | undefined = leafId; id !== undefined; id = parentOf.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const component = componentOfNode(node);
      if (component === null) {
        if (node.callFrame.functionName === '(idle)') break;
        continue;
      }
      if (component.owns) {
        owner = !inUndici ? component.name : component.name === 'app: shared/graph' ? components.fetch : `undici, called by ${component.name}`;
        break;
      }
      if (component.name === components.undiciAsync) inUndici = true;
      fallback ??= component.name;
    }
    if (owner === null && inUndici) fallback = components.undiciAsync;
    const leaf = byId.get(leafId);
    if (leaf?.callFrame.functionName === '(idle)') owner = null;
    else owner ??= fallback ?? components.native;
    owners.set(leafId, owner);
    return owner;
  };

  const microseconds = new Map<string, number>();
  const deltas = profile.timeDeltas;
  const meanDelta = deltas.length > 1 ? (profile.endTime - profile.startTime) / deltas.length : 0;
  profile.samples.forEach((leafId, index) => {
    const owner = ownerOf(leafId);
    if (owner === null) return;
    // A sample stands for the time until the next one.
    const duration = index + 1 < deltas.length ? deltas[index + 1]! : meanDelta;
    microseconds.set(owner, (microseconds.get(owner) ?? 0) + duration);
  });
  const totalMicroseconds = [...microseconds.values()].reduce((sum, value) => sum + value, 0);
  const perCreate = (value: number) => (creates > 0 ? value / 1000 / creates : Number.NaN);
  return {
    creates,
    totalMs: totalMicroseconds / 1000,
    msPerCreate: perCreate(totalMicroseconds),
    components: [...microseconds.entries()]
      .map(([component, value]) => ({ component, ms: value / 1000, msPerCreate: perCreate(value), share: totalMicroseconds > 0 ? value / totalMicroseconds : 0 }))
      .sort((a, b) => b.ms - a.ms),
  };
}
