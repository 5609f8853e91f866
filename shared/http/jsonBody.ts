import type { HttpRequest } from '@azure/functions';
import { FacadeError, badRequest } from '../errors';

export const maxBodyBytes = 1024 * 1024;

/**
 * Deepest nesting of objects and arrays a body may have: the facade's own guard (Graph documents
 * none). Graph's bodies need a handful of levels, an Adaptive Card layout a dozen or two; what is
 * deeper would only reach recursive code (serialisers, comparisons) that a few thousand levels
 * make overflow the stack.
 */
export const maxJsonDepth = 64;

/**
 * Most object properties and array items a body may hold, counted together: the facade's own
 * guard (Graph documents none). The largest body served, a bulk request of 1,000 members with at
 * most four properties each, holds about 5,000; Adaptive Card layouts a few hundred. Validation
 * costs time and memory per property (joi builds an error for each unknown one), so a body of
 * tens of thousands of keys is refused on its text, before it is parsed or validated.
 */
export const maxJsonMembers = 10_000;

/** What a single pass over JSON text finds past the facade's guards, if anything. */
export type JsonShapeExcess = 'tooDeep' | 'tooManyMembers';

const Char = {
  quote: 0x22,
  backslash: 0x5c,
  colon: 0x3a,
  comma: 0x2c,
  openObject: 0x7b,
  closeObject: 0x7d,
  openArray: 0x5b,
  closeArray: 0x5d,
  space: 0x20,
  tab: 0x09,
  newline: 0x0a,
  carriageReturn: 0x0d,
} as const;

const isWhitespace = (char: number) => char === Char.space || char === Char.tab || char === Char.newline || char === Char.carriageReturn;

/**
 * Whether a JSON body nests objects and arrays deeper than `maxDepth`, or holds more than
 * `maxMembers` object properties and array items: one pass over its UTF-8 bytes, before they are
 * decoded or parsed, no recursion, stopping at the first limit passed. Every character JSON
 * structure uses is ASCII, and no byte of a multi-byte UTF-8 character is, so the bytes tell
 * strings from structure exactly. A body that is not JSON is measured as far as it goes; it is
 * refused either way.
 */
export function jsonShapeExcess(bytes: Uint8Array, maxDepth: number, maxMembers: number): JsonShapeExcess | undefined {
  // Whether each open container is an array, and whether the innermost array has had its first item.
  const inArray: boolean[] = [];
  let awaitingFirstItem = false;
  let members = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const char = bytes[index]!;
    if (inString) {
      if (char === Char.backslash) index += 1; // the next character is escaped
      else if (char === Char.quote) inString = false;
      continue;
    }
    if (isWhitespace(char)) continue;
    if (awaitingFirstItem) {
      awaitingFirstItem = false;
      if (char !== Char.closeArray) members += 1;
    }
    if (char === Char.quote) {
      inString = true;
    } else if (char === Char.openObject || char === Char.openArray) {
      inArray.push(char === Char.openArray);
      if (inArray.length > maxDepth) return 'tooDeep';
      awaitingFirstItem = char === Char.openArray;
    } else if (char === Char.closeObject || char === Char.closeArray) {
      inArray.pop();
    } else if (char === Char.colon || (char === Char.comma && inArray.at(-1) === true)) {
      members += 1;
    }
    if (members > maxMembers) return 'tooManyMembers';
  }
  return undefined;
}

const tooLarge = () =>
  new FacadeError(413, 'requestEntityTooLarge', `The request body is larger than ${maxBodyBytes} bytes.`);

function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/** Reads at most `limit` bytes: a larger body is refused as soon as it passes the limit. */
async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The request body as a JSON object: 415 for another media type, 413 past 1 MiB, 400 for text that
 * is not JSON, not an object, nested deeper than 64 levels or holding more than 10,000 properties
 * and array items (both measured on the text, before it is parsed or any recursive code sees it).
 */
export async function readJsonObject(request: HttpRequest, limit = maxBodyBytes): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(request.headers.get('content-type'))) {
    throw new FacadeError(415, 'unsupportedMediaType', 'The request body must be sent as Content-Type: application/json.');
  }
  const declaredLength = Number(request.headers.get('content-length') ?? 0);
  if (declaredLength > limit) throw tooLarge();
  const bytes = await readCapped(request.body, limit);
  // Measured on the bytes, before they are decoded or parsed: a body of many thousands of keys costs only this pass.
  const excess = jsonShapeExcess(bytes, maxJsonDepth, maxJsonMembers);
  if (excess === 'tooDeep') throw badRequest(`The request body nests objects and arrays deeper than ${maxJsonDepth} levels.`);
  if (excess === 'tooManyMembers') {
    throw badRequest(`The request body holds more than ${maxJsonMembers.toLocaleString('en-US')} properties and array items together; no body this facade takes needs so many.`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw badRequest('The request body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'unreadable';
    throw badRequest(text.trim() ? `The request body is not valid JSON: ${reason}` : 'The request body is empty; a JSON object is required.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}
