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

/** Whether JSON text nests objects and arrays deeper than `limit`: one pass over the text, no recursion. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index += 1; // a backslash: the next character is escaped
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b || char === 0x5b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === 0x7d || char === 0x5d) {
      depth -= 1;
    }
  }
  return false;
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
 * is not JSON, not an object, or nested deeper than 64 levels (checked on the text, before any
 * recursive code sees the value).
 */
export async function readJsonObject(request: HttpRequest, limit = maxBodyBytes): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(request.headers.get('content-type'))) {
    throw new FacadeError(415, 'unsupportedMediaType', 'The request body must be sent as Content-Type: application/json.');
  }
  const declaredLength = Number(request.headers.get('content-length') ?? 0);
  if (declaredLength > limit) throw tooLarge();
  const bytes = await readCapped(request.body, limit);
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
  // Scanned once the text is known to be JSON, so strings are told from structure exactly.
  if (nestsDeeperThan(text, maxJsonDepth)) {
    throw badRequest(`The request body nests objects and arrays deeper than ${maxJsonDepth} levels.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}
