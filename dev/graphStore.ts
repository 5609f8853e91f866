import { randomUUID } from 'node:crypto';
import { graphVersionsOf } from '../shared/openapi/model';
import { GraphRefusal } from '../shared/operations/graphFacts';
import { existenceCheckOf, readBackOf, type OperationDefinition } from '../shared/operations/operation';

/**
 * The emulator's entities and routes, derived from the registered create operations: each
 * operation's Graph path is a collection (`/external/connections/{connectionId}/groups`) whose
 * parameters name entities of other collections (its parents, which must exist: 404 otherwise),
 * and its Graph facts (`graph`) say what Graph refuses, stores and answers, how it answers a
 * duplicate, and whether one entity can be read back (a list and a read by id) or not (members).
 * Nothing here names an operation.
 */

type Entity = Record<string, unknown>;

/** One operation's collection, as the emulator serves it. */
export interface EmulatedCollection {
  operation: OperationDefinition;
  /** The Graph path below the version, as segments; `{name}` segments are parameters. */
  template: string[];
  /** The collections whose entities the parameters name, in path order. */
  parents: EmulatedCollection[];
  versions: Set<string>;
  /** Graph offers a read of one entity (and a list). */
  readable: boolean;
  entities: Map<string, Entity>;
}

const isParameter = (segment: string) => /^\{\w+\}$/.test(segment);
const shapeOf = (segments: readonly string[]) => segments.map((segment) => (isParameter(segment) ? '{}' : segment.toLowerCase())).join('/');

export class GraphStore {
  readonly collections: EmulatedCollection[];

  constructor(operations: readonly OperationDefinition[]) {
    const collections = operations.map((operation): EmulatedCollection => {
      const readBack = readBackOf(operation);
      const versions = new Set(graphVersionsOf(operation));
      if (readBack?.version) versions.add(readBack.version);
      return {
        operation,
        template: operation.graphPath.split('/').filter(Boolean).slice(1),
        parents: [],
        versions,
        // Only members have no read in Graph: a 409 to a create is all that tells they exist.
        readable: existenceCheckOf(operation) !== 'createConflict',
        entities: new Map(),
      };
    });
    for (const collection of collections) {
      collection.template.forEach((segment, index) => {
        if (!isParameter(segment)) return;
        const shape = shapeOf(collection.template.slice(0, index));
        const parent = collections.find((candidate) => shapeOf(candidate.template) === shape);
        if (!parent) throw new Error(`${collection.operation.name}: no registered operation creates the ${segment} of ${collection.operation.graphPath}`);
        collection.parents.push(parent);
      });
    }
    this.collections = collections;
  }

  /** The collection called `name` in its facts (`connections`). */
  collection(name: string): EmulatedCollection {
    const found = this.collections.find((collection) => collection.operation.graph.collectionName === name);
    if (!found) throw new Error(`the emulator has no collection ${name}`);
    return found;
  }

  /** The store key of an entity: its parents' ids and its own, each compared as Graph compares them. */
  static keyOf(collection: EmulatedCollection, parentIds: readonly string[], id: string): string {
    const ids = [...parentIds, id];
    return ids.map((value, index) => ((collection.parents[index] ?? collection).operation.graph.idsIgnoreCase ? value.toLowerCase() : value)).join('/');
  }

  /** Adds an entity as if made elsewhere (the portal, another tool). */
  seed(collection: EmulatedCollection, entity: Entity & { id: string }, parentIds: readonly string[] = []): void {
    collection.entities.set(GraphStore.keyOf(collection, parentIds, entity.id), entity);
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.collections.map((collection) => [collection.operation.graph.collectionName, collection.entities.size]));
  }

  clear(): void {
    for (const collection of this.collections) collection.entities.clear();
  }

  /**
   * Graph's answer to a request on a collection or one of its entities, or undefined when no
   * collection serves the path on that version (the emulator then answers Graph's 400).
   */
  execute(
    request: { method: string; version: string; segments: string[]; body: Entity; query: URLSearchParams; appId?: string },
    links: { origin: string; pageSize: number },
  ): [number, unknown] | undefined {
    const { method, version, segments } = request;
    for (const collection of this.collections) {
      if (!collection.versions.has(version)) continue;
      const onCollection = this.#match(collection, segments);
      const onEntity = onCollection ? undefined : this.#match(collection, segments.slice(0, -1));
      if (!onCollection && !onEntity) continue;
      const params = (onCollection ?? onEntity)!;
      const context = `${links.origin}/${version}/$metadata#${this.#entitySet(collection, params)}/$entity`;
      if (onCollection && method === 'POST') return this.#create(collection, params, request, context);
      if (!collection.readable || method !== 'GET') continue;
      if (onCollection) return this.#list(collection, params, request, links);
      const id = segments.at(-1)!;
      const entity = collection.entities.get(GraphStore.keyOf(collection, params, id));
      if (!entity) throw new GraphRefusal(404, 'itemNotFound', `The requested ${collection.operation.graph.noun} was not found.`);
      return [200, { '@odata.context': context, ...entity }];
    }
    return undefined;
  }

  /** The parameter values (the parents' ids) when `segments` are the collection's path, else undefined. */
  #match(collection: EmulatedCollection, segments: readonly string[]): string[] | undefined {
    if (segments.length !== collection.template.length) return undefined;
    const values: string[] = [];
    for (const [index, segment] of collection.template.entries()) {
      const actual = segments[index]!;
      if (isParameter(segment)) values.push(decodeURIComponent(actual));
      else if (segment !== actual) return undefined;
    }
    return values;
  }

  /** Graph's entity set name: `external/connections('c1')/groups`. */
  #entitySet(collection: EmulatedCollection, params: readonly string[]): string {
    let next = 0;
    return collection.template.map((segment) => (isParameter(segment) ? `('${params[next++]}')` : `/${segment}`)).join('').replace(/^\//, '');
  }

  /** 404 for the first parent that does not exist. */
  #requireParents(collection: EmulatedCollection, params: readonly string[]): void {
    collection.parents.forEach((parent, index) => {
      if (!parent.entities.has(GraphStore.keyOf(parent, params.slice(0, index), params[index]!))) {
        throw new GraphRefusal(404, 'itemNotFound', `The requested ${parent.operation.graph.noun} was not found.`);
      }
    });
  }

  #create(collection: EmulatedCollection, params: string[], request: { body: Entity; appId?: string }, context: string): [number, unknown] {
    const facts = collection.operation.graph;
    this.#requireParents(collection, params);
    const entity = facts.accept(request.body, { ...(request.appId ? { appId: request.appId } : {}), newId: randomUUID });
    const id = typeof entity.id === 'string' ? entity.id : '';
    const key = GraphStore.keyOf(collection, params, id);
    if (collection.entities.has(key)) throw new GraphRefusal(facts.duplicate.status, facts.duplicate.code, facts.duplicateMessage(id));
    collection.entities.set(key, entity);
    return [201, { '@odata.context': context, ...entity }];
  }

  /** Paged like Graph: a page, and an @odata.nextLink while more remain. */
  #list(collection: EmulatedCollection, params: string[], request: { version: string; segments: string[]; query: URLSearchParams }, links: { origin: string; pageSize: number }): [number, unknown] {
    this.#requireParents(collection, params);
    const prefix = params.length > 0 ? `${GraphStore.keyOf(collection, params.slice(0, -1), params.at(-1)!)}/` : '';
    const filter = request.query.get('$filter');
    const equality = filter === null ? undefined : /^(\w+) eq '((?:[^']|'')*)'$/.exec(filter);
    if (filter !== null && !equality) throw new GraphRefusal(400, 'BadRequest', `Invalid filter clause: ${filter}`);
    const wanted = equality ? { property: equality[1]!, value: equality[2]!.replace(/''/g, "'") } : undefined;
    const all = [...collection.entities.entries()]
      .filter(([key, entity]) => key.startsWith(prefix) && (!wanted || entity[wanted.property] === wanted.value))
      .map(([, entity]) => entity);
    const skip = Number(request.query.get('$skiptoken') ?? 0);
    const page = all.slice(skip, skip + links.pageSize);
    const more = skip + links.pageSize < all.length;
    const route = request.segments.join('/');
    return [200, { value: page, ...(more ? { '@odata.nextLink': `${links.origin}/${request.version}/${route}?$skiptoken=${skip + links.pageSize}` } : {}) }];
  }
}
