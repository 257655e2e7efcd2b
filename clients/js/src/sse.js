// Server-sent events, as Vicky streams them: `data: {"delta": "..."}` per piece of text,
// then `event: done` with the whole response body, then `data: [DONE]`; an error after the
// first byte comes as `event: error` (as the Python SDK's vokaflow_sdk._sse).

import { StreamError } from './errors.js';

export const DONE = '[DONE]';

/** Fed the stream's lines one by one; hands back the text pieces each line completes. */
export class SSEDecoder {
  constructor() {
    this.event = 'message';
    this.data = [];
    /** The `done` event's body (snake_case, as sent). */
    this.final = undefined;
    /** `[DONE]` was seen. */
    this.finished = false;
  }

  /** @param {string} line @returns {string[]} */
  feed(line) {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text === '') return this.dispatch();
    if (text.startsWith(':')) return []; // a comment (keep-alive)
    const colon = text.indexOf(':');
    const name = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data') this.data.push(value);
    return [];
  }

  /** The stream ended: an event not yet closed by a blank line still counts. */
  close() {
    return this.dispatch();
  }

  dispatch() {
    const event = this.event;
    const data = this.data.join('\n');
    this.event = 'message';
    this.data = [];
    if (!data) return [];
    if (data === DONE) {
      this.finished = true;
      return [];
    }
    const payload = parse(data);
    if (event === 'error') throw streamError(payload);
    if (event === 'done') {
      this.final = payload;
      return [];
    }
    const delta = payload !== null && typeof payload === 'object' ? payload.delta : undefined;
    return typeof delta === 'string' && delta ? [delta] : [];
  }
}

/**
 * The lines of a byte stream (a fetch body), decoded as UTF-8 across chunk boundaries.
 * @param {AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>} body
 */
export async function* lines(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks(body)) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  }
  buffer += decoder.decode();
  if (buffer) yield buffer;
}

async function* chunks(body) {
  if (typeof body.getReader !== 'function') {
    yield* body;
    return;
  }
  const reader = body.getReader();
  let done = false;
  try {
    while (true) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {}); // left early: close the connection
    reader.releaseLock();
  }
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch (cause) {
    throw new StreamError(
      `Unreadable server-sent event data: ${JSON.stringify(data.slice(0, 200))}`,
      {
        cause,
      },
    );
  }
}

function streamError(payload) {
  if (payload === null || typeof payload !== 'object') {
    return new StreamError(`The stream failed: ${JSON.stringify(payload)}`, { body: payload });
  }
  const message = String(payload.message || 'The stream failed');
  const code = payload.error === undefined || payload.error === null ? null : String(payload.error);
  return new StreamError(message, { code, body: payload });
}
