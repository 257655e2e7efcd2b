// A fake `fetch` for the unit tests: answers from a handler, records every request.
// (Node's test runner also runs this file; it defines no tests.)

/** A JSON answer. */
export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** A server-sent event answer, sent in the given chunks (strings, split anywhere). */
export function sse(chunks, status = 200) {
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(typeof next === 'string' ? encoder.encode(next) : next);
    },
  });
  return new Response(body, { status, headers: { 'content-type': 'text/event-stream' } });
}

/**
 * A fake fetch. `handler(request)` gets `{ method, url, path, query, headers, body }` (body
 * parsed from JSON) and returns a Response (or a list of them, answered in turn).
 */
export function fakeFetch(handler) {
  const calls = [];
  const queue = Array.isArray(handler) ? [...handler] : null;
  const fetch = async (url, init = {}) => {
    const parsed = new URL(url);
    const request = {
      method: init.method ?? 'GET',
      url,
      path: parsed.pathname,
      query: Object.fromEntries(parsed.searchParams),
      headers: Object.fromEntries(
        Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      body: init.body === undefined ? undefined : JSON.parse(init.body),
      signal: init.signal,
    };
    calls.push(request);
    const answer = queue ? queue.shift() : await handler(request);
    if (answer instanceof Error) throw answer;
    if (typeof answer === 'function') return answer(request);
    return answer;
  };
  fetch.calls = calls;
  return fetch;
}

export const BASE = 'http://vokaflow.test:8000';

/**
 * The live service the live tests run against: VOKAFLOW_URL and VOKAFLOW_API_KEY. Without
 * them those tests are skipped, or fail when VOKAFLOW_JS_REQUIRE_LIVE=1 (so that a CI run
 * cannot pass by skipping them).
 */
export function liveService() {
  const baseUrl = process.env.VOKAFLOW_URL;
  const apiKey = process.env.VOKAFLOW_API_KEY;
  if (baseUrl && apiKey) return { baseUrl, apiKey, skip: false };
  if (process.env.VOKAFLOW_JS_REQUIRE_LIVE === '1') {
    throw new Error('VOKAFLOW_JS_REQUIRE_LIVE=1 but VOKAFLOW_URL or VOKAFLOW_API_KEY is unset');
  }
  return {
    baseUrl,
    apiKey,
    skip: 'set VOKAFLOW_URL and VOKAFLOW_API_KEY to run against a live service',
  };
}
