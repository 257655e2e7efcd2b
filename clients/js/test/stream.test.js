import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RateLimitExceeded, StreamError, ValidationError, VokaFlowClient } from '../src/index.js';
import { SSEDecoder, lines } from '../src/sse.js';
import { BASE, fakeFetch, json, sse } from './helpers.js';

const client = (fetch, options = {}) =>
  new VokaFlowClient({ baseUrl: BASE, apiKey: 'k', fetch, ...options });

const DONE_BODY = {
  message: { role: 'assistant', content: 'Hola mundo' },
  session_id: 'session_1',
  model_used: 'tiny',
  personality: 'conversational',
  tokens_used: 4,
  execution_time: 0.1,
  confidence: 0.5,
  metadata: { model_version: 'v', processing_node: 'n' },
};

function events(...pieces) {
  return [
    ...pieces.map((piece) => `data: ${JSON.stringify({ delta: piece })}\n\n`),
    `event: done\ndata: ${JSON.stringify(DONE_BODY)}\n\n`,
    'data: [DONE]\n\n',
  ].join('');
}

/** Cut a text into chunks of `size` bytes, splitting lines and UTF-8 characters. */
function chunked(text, size) {
  const bytes = new TextEncoder().encode(text);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
  return chunks;
}

describe('server-sent events', () => {
  it('decodes deltas, the done event and [DONE], ignoring comments and unknown fields', () => {
    const decoder = new SSEDecoder();
    const pieces = [];
    for (const line of [
      ': keep-alive',
      'id: 1',
      'data: {"delta": "Ho"}',
      '',
      'data:{"delta":"la"}\r',
      '',
      'event: done',
      'data: {"a": 1}',
      '',
      'data: [DONE]',
      '',
    ]) {
      pieces.push(...decoder.feed(line));
    }
    assert.deepEqual(pieces, ['Ho', 'la']);
    assert.deepEqual(decoder.final, { a: 1 });
    assert.equal(decoder.finished, true);
  });

  it('joins multi-line data and dispatches an unterminated event when the stream closes', () => {
    const decoder = new SSEDecoder();
    decoder.feed('data: {"delta":');
    decoder.feed('data: "x"}');
    assert.deepEqual(decoder.close(), ['x']);
  });

  it('throws a StreamError for an error event or unreadable data', () => {
    const decoder = new SSEDecoder();
    decoder.feed('event: error');
    decoder.feed('data: {"error": "RuntimeError", "message": "the model crashed"}');
    assert.throws(
      () => decoder.feed(''),
      (e) =>
        e instanceof StreamError && e.code === 'RuntimeError' && e.message === 'the model crashed',
    );
    const bad = new SSEDecoder();
    bad.feed('data: {nope');
    assert.throws(() => bad.feed(''), StreamError);
  });

  it('splits a byte stream into lines across chunk and UTF-8 boundaries', async () => {
    const text = 'data: {"delta": "¿Qué tal? ñ"}\n\nlast line';
    const body = new Response(new Blob(chunked(text, 3))).body;
    const found = [];
    for await (const line of lines(body)) found.push(line);
    assert.deepEqual(found, ['data: {"delta": "¿Qué tal? ñ"}', '', 'last line']);
  });
});

describe('vickyChatStream', () => {
  it('yields the pieces of text and then holds the whole answer in camelCase', async () => {
    const fetch = fakeFetch(() => sse(chunked(events('Hola', ' ', 'mundo'), 7)));
    const stream = client(fetch).vickyChatStream('Hola', { model: 'tiny', maxTokens: 8 });
    assert.equal(stream.response, null);
    const pieces = [];
    for await (const piece of stream) pieces.push(piece);
    assert.deepEqual(pieces, ['Hola', ' ', 'mundo']);
    assert.equal(stream.response.message.content, pieces.join(''));
    assert.equal(stream.response.sessionId, 'session_1');
    assert.deepEqual(stream.response.metadata, { modelVersion: 'v', processingNode: 'n' });
    const [call] = fetch.calls;
    assert.equal(call.path, '/api/vicky/chat');
    assert.equal(call.headers.accept, 'text/event-stream');
    assert.deepEqual(call.body, {
      messages: [{ role: 'user', content: 'Hola' }],
      model: 'tiny',
      parameters: { max_tokens: 8 },
      stream: true,
    });
  });

  it('reads the whole text with text(), and only once', async () => {
    const fetch = fakeFetch(() => sse([events('a', 'b')]));
    const stream = client(fetch).vickyInferenceStream({ text: 'x', context: { user_id: 1 } });
    assert.equal(await stream.text(), 'ab');
    assert.deepEqual(fetch.calls[0].body, { text: 'x', context: { user_id: 1 }, stream: true });
    assert.equal(fetch.calls[0].path, '/api/vicky/inference');
    await assert.rejects(stream.text(), /only once/);
  });

  it('raises the typed error of a refused stream before the first byte', async () => {
    const body = {
      error: 'validation_error',
      message: 'm',
      details: { field: 'model', error: 'unknown model' },
    };
    const stream = client(fakeFetch(() => json(body, 400))).vickyChatStream('Hola', {
      model: 'gpt-9',
    });
    await assert.rejects(stream.text(), (e) => e instanceof ValidationError && e.field === 'model');
  });

  it('retries a rate-limited stream when opted in', async () => {
    const limited = json(
      { error: 'rate_limit_exceeded', message: 'm', details: { retry_after: 0 } },
      429,
    );
    const fetch = fakeFetch([limited, sse([events('ok')])]);
    assert.equal(await client(fetch, { retryOnRateLimit: true }).vickyChatStream('x').text(), 'ok');
    const refused = fakeFetch([json({ error: 'rate_limit_exceeded', message: 'm' }, 429)]);
    await assert.rejects(client(refused).vickyChatStream('x').text(), RateLimitExceeded);
  });

  it('throws the error event that comes in the middle of a stream', async () => {
    const body =
      'data: {"delta": "a"}\n\nevent: error\ndata: {"error": "RuntimeError", "message": "boom"}\n\ndata: [DONE]\n\n';
    const stream = client(fakeFetch(() => sse([body]))).vickyChatStream('x');
    const pieces = [];
    await assert.rejects(
      async () => {
        for await (const piece of stream) pieces.push(piece);
      },
      (e) => e instanceof StreamError && e.message === 'boom',
    );
    assert.deepEqual(pieces, ['a']);
  });

  it('closes the connection when the reader stops early', async () => {
    let cancelled = false;
    const encoder = new TextEncoder();
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        sent += 1;
        controller.enqueue(encoder.encode(`data: {"delta": "${sent}"}\n\n`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const fetch = fakeFetch(
      () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
    );
    const stream = client(fetch).vickyChatStream('x');
    for await (const piece of stream) {
      if (piece === '2') break;
    }
    assert.equal(cancelled, true);
    assert.equal(stream.response, null);
  });

  it('takes a JSON answer from a service that did not stream as one piece', async () => {
    const fetch = fakeFetch(() => json(DONE_BODY));
    const stream = client(fetch).vickyChatStream('x');
    assert.equal(await stream.text(), 'Hola mundo');
    assert.equal(stream.response.sessionId, 'session_1');
  });
});
