import type { HttpRequest } from '@azure/functions';
import { FacadeError, badRequest } from '../errors';

export const maxBodyBytes = 1024 * 1024;

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

/** The request body as a JSON object: 415 for another media type, 413 past 1 MiB, 400 otherwise. */
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}
