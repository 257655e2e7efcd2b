// VokaFlowClient: every endpoint of the VokaFlow REST API over the global `fetch`
// (or the one given). Requests are camelCase objects sent as snake_case JSON; answers come
// back as camelCase plain objects. User data (args, kwargs, metadata, result, progress,
// Vicky's context) travels untouched: see case.js.

import { TASK_RULES, VICKY_RULES, fromWire, toWire } from './case.js';
import {
  RateLimitExceeded,
  TaskWaitTimeout,
  VokaFlowConnectionError,
  VokaFlowError,
  errorFromResponse,
} from './errors.js';
import { SSEDecoder, lines } from './sse.js';

export const VERSION = '2.0.0';

const TASKS = '/api/high-scale-tasks';
const VICKY = '/api/vicky';
const WEBHOOKS = '/api/webhooks';
const SCHEDULES = '/api/schedules';
const WORKFLOWS = '/api/workflows';
const LOGS = '/api/logs';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY_AFTER_S = 1; // a 429 that names no wait

/** The statuses a task ends in. */
export const TERMINAL_STATUSES = Object.freeze([
  'completed',
  'failed',
  'cancelled',
  'timeout',
  'upstream_failed',
]);

/** Whether a task (or its status string) has ended: completed, failed, cancelled or timeout. */
export function isTerminal(statusOrTask) {
  const status =
    statusOrTask !== null && typeof statusOrTask === 'object' ? statusOrTask.status : statusOrTask;
  return TERMINAL_STATUSES.includes(status);
}

/** A path segment: an id can never reach another route. */
const segment = (value) => encodeURIComponent(String(value));

const now = () => globalThis.performance?.now() ?? Date.now();

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function definedOnly(fields) {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** A string is one user message; an array is sent as it is. */
function messagesOf(message) {
  return typeof message === 'string' ? [{ role: 'user', content: message }] : message;
}

/** Vicky's `parameters`: `maxTokens`/`temperature`/`topP` given flat or in `parameters`. */
function withParameters({ maxTokens, temperature, topP, parameters, ...rest }) {
  const merged = { ...(parameters ?? {}), ...definedOnly({ maxTokens, temperature, topP }) };
  return Object.keys(merged).length ? { ...rest, parameters: merged } : rest;
}

function inferenceBody(textOrRequest, options = {}) {
  const { signal, ...request } =
    typeof textOrRequest === 'string'
      ? { ...options, text: textOrRequest }
      : { ...textOrRequest, ...options };
  return { signal, body: withParameters(request) };
}

function chatBody(messageOrRequest, options = {}) {
  const isRequest =
    messageOrRequest !== null &&
    typeof messageOrRequest === 'object' &&
    !Array.isArray(messageOrRequest);
  const { signal, ...request } = isRequest
    ? { ...messageOrRequest, ...options }
    : { ...options, messages: messageOrRequest };
  const { message, messages, ...rest } = request;
  return { signal, body: withParameters({ messages: messagesOf(messages ?? message), ...rest }) };
}

export class VokaFlowClient {
  #apiKey;
  #token;
  #fetch;

  /**
   * @param {{ baseUrl: string, apiKey?: string, token?: string, timeout?: number,
   *           retryOnRateLimit?: boolean, maxRateLimitRetries?: number,
   *           fetch?: typeof fetch }} options
   */
  constructor(options) {
    if (!options || typeof options.baseUrl !== 'string' || !options.baseUrl) {
      throw new TypeError('VokaFlowClient needs { baseUrl }, e.g. http://localhost:8000');
    }
    if (typeof (options.fetch ?? globalThis.fetch) !== 'function') {
      throw new TypeError('No global fetch (Node.js >= 18 has one): pass { fetch }');
    }
    /** The service's address, without a trailing slash. */
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    /** Milliseconds a request may take (for a stream: until its first byte). */
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    /** Whether a 429 is retried after waiting its `retryAfter`. */
    this.retryOnRateLimit = options.retryOnRateLimit ?? false;
    /** How many times one request is retried after a 429. */
    this.maxRateLimitRetries = options.maxRateLimitRetries ?? 3;
    this.#apiKey = options.apiKey;
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  // ------------------------------------------------------------------ tasks

  /**
   * Submit one task (`POST /api/high-scale-tasks/submit`). With `runAt` (a Date or ISO 8601
   * text) or `delaySeconds` it waits, `scheduled`, until then.
   */
  submitTask(task, options = {}) {
    return this.#call('POST', `${TASKS}/submit`, { body: task, signal: options.signal });
  }

  /**
   * Submit many tasks at once (`POST /api/high-scale-tasks/batch`): `submitBatch(tasks,
   * options)` or `submitBatch({ tasks, ... })`. Invalid or rate-limited tasks are listed
   * in `errors`; the rest go in. `priority` is an alias of `batchPriority`.
   */
  submitBatch(tasksOrRequest, options = {}) {
    const request = Array.isArray(tasksOrRequest)
      ? { ...options, tasks: tasksOrRequest }
      : { ...tasksOrRequest, ...options };
    const { signal, priority, batchPriority, ...rest } = request;
    const body = { ...rest, batchPriority: batchPriority ?? priority };
    return this.#call('POST', `${TASKS}/batch`, { body, signal });
  }

  /** A task's status, result or error (`GET /api/high-scale-tasks/status/{id}`). */
  getTaskStatus(taskId, options = {}) {
    return this.#call('GET', `${TASKS}/status/${segment(taskId)}`, { signal: options.signal });
  }

  /**
   * Poll the task's status until it ends (completed, failed, cancelled or timeout) and
   * resolve with that status; reject with `TaskWaitTimeout` after `timeout` ms. A failed
   * task resolves, it does not reject: look at `status` and `error`.
   */
  async waitForCompletion(taskId, { timeout = 300_000, pollInterval = 1_000, signal } = {}) {
    const deadline = now() + timeout;
    while (true) {
      const status = await this.getTaskStatus(taskId, { signal });
      if (isTerminal(status.status)) return status;
      const remaining = deadline - now();
      if (remaining <= 0) {
        throw new TaskWaitTimeout(
          `Task '${taskId}' is still ${status.status} after ${timeout} ms`,
          {
            taskId,
            lastStatus: status.status ?? null,
            timeout,
          },
        );
      }
      await sleep(Math.min(pollInterval, remaining), signal);
    }
  }

  /** Cancel a queued or running task; `Conflict` when it has already ended. */
  cancelTask(taskId, options = {}) {
    return this.#call('DELETE', `${TASKS}/cancel/${segment(taskId)}`, { signal: options.signal });
  }

  /** A batch's progress (`GET /api/high-scale-tasks/batch/{id}`). */
  getBatch(batchId, options = {}) {
    return this.#call('GET', `${TASKS}/batch/${segment(batchId)}`, { signal: options.signal });
  }

  // ------------------------------------------------------------------ catalog, metrics, logs

  /** Throughput, queues, pools, rate limits and Redis (`GET .../metrics`). */
  getMetrics(options = {}) {
    return this.#call('GET', `${TASKS}/metrics`, { signal: options.signal });
  }

  /** The registered functions, grouped by category (`GET .../functions`). */
  listFunctions(options = {}) {
    return this.#call('GET', `${TASKS}/functions`, { signal: options.signal });
  }

  /** The eight priority levels with their SLAs (`GET .../priorities`). */
  getPriorities(options = {}) {
    return this.#call('GET', `${TASKS}/priorities`, { signal: options.signal });
  }

  /** `GET /api/health/` (needs no credentials). */
  getHealth(options = {}) {
    return this.#call('GET', '/api/health/', { signal: options.signal });
  }

  /** A task's history and what its function printed or logged, oldest first. */
  getTaskLogs(taskId, { limit, signal } = {}) {
    return this.#call('GET', `${LOGS}/task/${segment(taskId)}`, { query: { limit }, signal });
  }

  /** The newest log entries at `level` or above, newest first. */
  getLogs({ level, limit, component, signal } = {}) {
    return this.#call('GET', LOGS, { query: { level, limit, component }, signal });
  }

  // ------------------------------------------------------------------ Vicky

  /** One prompt, one answer (`POST /api/vicky/inference`). */
  vickyInference(textOrRequest, options = {}) {
    const { body, signal } = inferenceBody(textOrRequest, options);
    return this.#call('POST', `${VICKY}/inference`, { body, signal, rules: VICKY_RULES });
  }

  /**
   * A conversation turn (`POST /api/vicky/chat`). `message` is the user's text or a list
   * of `{ role, content }` messages (or pass the whole request, `{ messages, ... }`). With
   * a `sessionId` the service keeps the conversation: send only the new message next time.
   */
  vickyChat(messageOrRequest, options = {}) {
    const { body, signal } = chatBody(messageOrRequest, options);
    return this.#call('POST', `${VICKY}/chat`, { body, signal, rules: VICKY_RULES });
  }

  /**
   * `vickyChat`, streamed: an async iterable of the pieces of text as they are generated;
   * once it is exhausted, `stream.response` holds the whole answer (with its `sessionId`).
   */
  vickyChatStream(messageOrRequest, options = {}) {
    const { body, signal } = chatBody(messageOrRequest, options);
    return new TextStream(() => this.#openStream(`${VICKY}/chat`, body, signal));
  }

  /** `vickyInference`, streamed (see `vickyChatStream`). */
  vickyInferenceStream(textOrRequest, options = {}) {
    const { body, signal } = inferenceBody(textOrRequest, options);
    return new TextStream(() => this.#openStream(`${VICKY}/inference`, body, signal));
  }

  /** Vicky's personalities and their system prompts. */
  listPersonalities(options = {}) {
    return this.#call('GET', `${VICKY}/personalities`, {
      signal: options.signal,
      rules: VICKY_RULES,
    });
  }

  // ------------------------------------------------------------------ webhooks

  /**
   * Have signed POSTs sent to `url` for `events` of this key's tasks and batches
   * (`POST /api/webhooks/configure`). `secret` (8+ characters) keys the signature that
   * `verifySignature` checks; the service never shows it again.
   */
  configureWebhook({ url, events, secret, signal }) {
    return this.#call('POST', `${WEBHOOKS}/configure`, { body: { url, events, secret }, signal });
  }

  /** This key's webhooks (every webhook, for an admin key). */
  listWebhooks(options = {}) {
    return this.#call('GET', WEBHOOKS, { signal: options.signal });
  }

  /** Stop and remove a webhook. */
  deleteWebhook(webhookId, options = {}) {
    return this.#call('DELETE', `${WEBHOOKS}/${segment(webhookId)}`, { signal: options.signal });
  }

  /**
   * The secret this key's `send_webhook` deliveries are signed with: a receiver of them
   * checks with it (`verifySignature`).
   */
  getNotifySecret(options = {}) {
    return this.#call('GET', `${WEBHOOKS}/notify-secret`, { signal: options.signal });
  }

  /** Send one signed `webhook.test` delivery now; resolves with the attempt. */
  sendWebhookTest(webhookId, options = {}) {
    return this.#call('POST', `${WEBHOOKS}/${segment(webhookId)}/test`, { signal: options.signal });
  }

  // ------------------------------------------------------------------ schedules

  /**
   * Submit `task` (the fields of `submitTask`, without `idempotencyKey`) on `cron` in
   * `timezone`, or every `intervalSeconds` (`POST /api/schedules`). `start` and `end` are
   * ISO 8601; `missedFires` is `'skip'` (default) or `'run_latest'`.
   */
  createSchedule({ signal, ...schedule }) {
    return this.#call('POST', SCHEDULES, { body: schedule, signal });
  }

  /**
   * This key's schedules (every schedule, for an admin key), oldest first, a page of
   * `limit` (100 unless given) from `offset`.
   */
  listSchedules({ limit, offset, signal } = {}) {
    return this.#call('GET', SCHEDULES, { query: { limit, offset }, signal });
  }

  /** A schedule with its next five fire times and its latest 20 runs. */
  getSchedule(scheduleId, options = {}) {
    return this.#call('GET', `${SCHEDULES}/${segment(scheduleId)}`, { signal: options.signal });
  }

  /** Change the fields given (`PATCH /api/schedules/{id}`); `start: null` removes it. */
  updateSchedule(scheduleId, { signal, ...changes }) {
    return this.#call('PATCH', `${SCHEDULES}/${segment(scheduleId)}`, { body: changes, signal });
  }

  /** No fires until resumed. */
  pauseSchedule(scheduleId, options = {}) {
    return this.#call('POST', `${SCHEDULES}/${segment(scheduleId)}/pause`, {
      signal: options.signal,
    });
  }

  /** Fire again from the next fire time after now (those missed while paused do not run). */
  resumeSchedule(scheduleId, options = {}) {
    return this.#call('POST', `${SCHEDULES}/${segment(scheduleId)}/resume`, {
      signal: options.signal,
    });
  }

  /** Stop and remove a schedule; the tasks it submitted stay. */
  deleteSchedule(scheduleId, options = {}) {
    return this.#call('DELETE', `${SCHEDULES}/${segment(scheduleId)}`, { signal: options.signal });
  }

  // ------------------------------------------------------------------ workflows

  /**
   * Submit a graph of named tasks (`POST /api/workflows`): each a task as `submitTask`
   * takes it, its `name` unique, its `dependsOn` naming other tasks of the graph.
   */
  submitWorkflow({ signal, ...workflow }) {
    return this.#call('POST', WORKFLOWS, { body: workflow, signal });
  }

  /** Each node's status, the edges and the whole workflow's status. */
  getWorkflow(workflowId, options = {}) {
    return this.#call('GET', `${WORKFLOWS}/${segment(workflowId)}`, { signal: options.signal });
  }

  /** Cancel every node that has not ended; running ones are stopped. */
  cancelWorkflow(workflowId, options = {}) {
    return this.#call('DELETE', `${WORKFLOWS}/${segment(workflowId)}`, {
      signal: options.signal,
    });
  }

  // ------------------------------------------------------------------ transport

  /** One request: its decoded, camelCased JSON body, or the typed error (429s retried). */
  async #call(method, path, { body, query, signal, rules = TASK_RULES } = {}) {
    const payload = body === undefined ? undefined : JSON.stringify(toWire(body, rules));
    for (let retries = 0; ; retries += 1) {
      const exchange = await this.#send(method, path, { payload, query, signal });
      let text;
      try {
        text = await exchange.response.text();
      } catch (error) {
        throw exchange.failure(error);
      } finally {
        exchange.release();
      }
      const { status } = exchange.response;
      if (status < 400) return fromWire(this.#decode(method, path, status, text), rules);
      const error = errorFromResponse(status, headersOf(exchange.response), text);
      await this.#waitBeforeRetry(error, retries, signal);
    }
  }

  /** A streamed request's response with a success status (429s retried). */
  async #openStream(path, body, signal) {
    const payload = JSON.stringify({ ...toWire(body, VICKY_RULES), stream: true });
    for (let retries = 0; ; retries += 1) {
      const exchange = await this.#send('POST', path, {
        payload,
        signal,
        accept: 'text/event-stream',
        keepSignal: true,
      });
      const { response } = exchange;
      if (response.status < 400) return exchange;
      let text;
      try {
        text = await response.text();
      } catch (error) {
        throw exchange.failure(error);
      } finally {
        exchange.release();
      }
      const error = errorFromResponse(response.status, headersOf(response), text);
      await this.#waitBeforeRetry(error, retries, signal);
    }
  }

  /** Throws `error` unless it is a 429 the policy retries; else waits its retryAfter. */
  async #waitBeforeRetry(error, retriesDone, signal) {
    const retried =
      this.retryOnRateLimit &&
      error instanceof RateLimitExceeded &&
      retriesDone < this.maxRateLimitRetries;
    if (!retried) throw error;
    const wait = error.retryAfter ?? DEFAULT_RETRY_AFTER_S;
    await sleep(Math.max(0, wait) * 1000, signal);
  }

  /**
   * Sends one request and resolves once the response's headers are in. The timeout covers
   * reading the body too, until `release()`; with `keepSignal` (streams) it stops at the
   * headers and only the caller's signal can abort the body.
   */
  async #send(method, path, { payload, query, signal, accept = 'application/json', keepSignal }) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = { Accept: accept };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#apiKey) headers['X-API-Key'] = this.#apiKey;
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;

    signal?.throwIfAborted?.();
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      this.timeout > 0 && Number.isFinite(this.timeout)
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, this.timeout)
        : null;
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const release = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const failure = (error) => {
      if (signal?.aborted && !timedOut) return signal.reason ?? error;
      const why = timedOut
        ? `timed out after ${this.timeout} ms`
        : `got no answer: ${error?.cause?.message ?? error?.message ?? error}`;
      return new VokaFlowConnectionError(`${method} ${path} ${why}`, { cause: error });
    };

    let response;
    try {
      response = await this.#fetch(url.toString(), {
        method,
        headers,
        body: payload,
        signal: controller.signal,
      });
    } catch (error) {
      release();
      throw failure(error);
    }
    if (keepSignal) clearTimeout(timer);
    return { response, release, failure };
  }

  #decode(method, path, status, text) {
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new VokaFlowError(`Expected JSON from ${method} ${path}`, {
        statusCode: status,
        body: text.slice(0, 500),
        cause,
      });
    }
  }
}

function headersOf(response) {
  const headers = {};
  response.headers?.forEach?.((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  return headers;
}

/**
 * The pieces of a streamed answer, as an async iterable of strings; once it is exhausted,
 * `response` is the whole answer (the stream's `done` event). It can be read once; to stop
 * early, `break` out of the loop (that closes the connection and the generation).
 */
export class TextStream {
  #open;
  #started = false;

  constructor(open) {
    this.#open = open;
    /** The whole answer, once the stream is exhausted (null before, or if none came). */
    this.response = null;
  }

  async *[Symbol.asyncIterator]() {
    if (this.#started) throw new VokaFlowError('A stream can be read only once');
    this.#started = true;
    const { response, release, failure } = await this.#open();
    try {
      const type = response.headers?.get?.('content-type') ?? '';
      if (type.includes('application/json')) {
        // a service that answered without streaming: the whole answer at once
        this.response = fromWire(JSON.parse(await response.text()), VICKY_RULES);
        const whole = this.response?.message?.content ?? this.response?.response;
        if (typeof whole === 'string' && whole) yield whole;
        return;
      }
      const decoder = new SSEDecoder();
      for await (const line of lines(response.body)) {
        for (const piece of decoder.feed(line)) yield piece;
        if (decoder.finished) break;
      }
      for (const piece of decoder.close()) yield piece;
      if (decoder.final !== undefined) this.response = fromWire(decoder.final, VICKY_RULES);
    } catch (error) {
      throw error instanceof VokaFlowError ? error : failure(error);
    } finally {
      release();
    }
  }

  /** Read the whole stream; resolves with the text it carried. */
  async text() {
    let text = '';
    for await (const piece of this) text += piece;
    return text;
  }
}
