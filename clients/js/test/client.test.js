import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AuthenticationError,
  Conflict,
  PayloadTooLarge,
  RateLimitExceeded,
  ServerError,
  ServiceUnavailable,
  TaskNotFound,
  TaskWaitTimeout,
  ValidationError,
  VokaFlowClient,
  VokaFlowConnectionError,
  VokaFlowError,
} from '../src/index.js';
import { BASE, fakeFetch, json } from './helpers.js';

const client = (fetch, options = {}) =>
  new VokaFlowClient({ baseUrl: `${BASE}/`, apiKey: 'k', fetch, ...options });

const STATUS = {
  task_id: 't1',
  name: 'n',
  status: 'completed',
  priority: 'HIGH',
  worker_type: 'GENERAL_PURPOSE',
  category: 'system',
  partition: 3,
  redis_node: 'node_0',
  created_at: 'c',
  started_at: 's',
  completed_at: 'd',
  execution_time: 0.25,
  result: { slept_seconds: 0, pid: 1 },
  error: null,
  retry_count: 3,
  metadata: { user_id: 'u', camelKey: true },
  function_name: 'sleep',
  attempts: 1,
  timeout: 300,
  max_retries: 3,
};

describe('requests', () => {
  it('submits a task as snake_case with the user data untouched and credentials in headers', async () => {
    const fetch = fakeFetch(() => json({ task_id: 't1', queue_position: 0, redis_node: 'node_0' }));
    const task = await client(fetch, { token: 'jwt' }).submitTask({
      name: 'example_task',
      functionName: 'vicky_inference',
      args: ['Procesar este texto', { someKey: 1 }],
      kwargs: { max_len: 3, camelArg: 4 },
      priority: 'HIGH',
      workerType: 'GENERAL_PURPOSE',
      category: 'vicky',
      retryCount: 2,
      metadata: { user_id: '12345', traceId: 'x' },
      idempotencyKey: 'idem',
    });
    assert.deepEqual(task, { taskId: 't1', queuePosition: 0, redisNode: 'node_0' });
    const [call] = fetch.calls;
    assert.equal(call.method, 'POST');
    assert.equal(call.url, `${BASE}/api/high-scale-tasks/submit`);
    assert.equal(call.headers['x-api-key'], 'k');
    assert.equal(call.headers.authorization, 'Bearer jwt');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.deepEqual(call.body, {
      name: 'example_task',
      function_name: 'vicky_inference',
      args: ['Procesar este texto', { someKey: 1 }],
      kwargs: { max_len: 3, camelArg: 4 },
      priority: 'HIGH',
      worker_type: 'GENERAL_PURPOSE',
      category: 'vicky',
      retry_count: 2,
      metadata: { user_id: '12345', traceId: 'x' },
      idempotency_key: 'idem',
    });
  });

  it('sends a delayed task\'s runAt as ISO 8601 text and delaySeconds as a number', async () => {
    const fetch = fakeFetch(() => json({ task_id: 't1', status: 'scheduled', run_at: 'x' }));
    const due = new Date(Date.UTC(2030, 0, 31, 9, 0, 0));
    const task = await client(fetch).submitTask({ name: 'a', functionName: 'noop', runAt: due });
    await client(fetch).submitTask({ name: 'b', functionName: 'noop', delaySeconds: 30 });
    await client(fetch).submitBatch([{ name: 'c', functionName: 'noop', runAt: '2030-01-31T10:00:00+01:00' }]);
    assert.deepEqual(task, { taskId: 't1', status: 'scheduled', runAt: 'x' });
    const [one, two, batch] = fetch.calls.map((call) => call.body);
    assert.equal(one.run_at, '2030-01-31T09:00:00.000Z');
    assert.equal(two.delay_seconds, 30);
    assert.equal(batch.tasks[0].run_at, '2030-01-31T10:00:00+01:00');
  });

  it('reads a task status in camelCase with result and metadata as sent', async () => {
    const fetch = fakeFetch(() => json(STATUS));
    const status = await client(fetch).getTaskStatus('a/b c');
    assert.equal(fetch.calls[0].path, '/api/high-scale-tasks/status/a%2Fb%20c');
    assert.equal(status.taskId, 't1');
    assert.equal(status.redisNode, 'node_0');
    assert.equal(status.executionTime, 0.25);
    assert.equal(status.functionName, 'sleep');
    assert.deepEqual(status.result, { slept_seconds: 0, pid: 1 });
    assert.deepEqual(status.metadata, { user_id: 'u', camelKey: true });
  });

  it('submits a batch given as a list or as the whole request, tasks mapped one by one', async () => {
    const fetch = fakeFetch(() =>
      json({
        batch_id: 'b',
        total_submitted: 1,
        total_errors: 1,
        successful_tasks: [{ task_id: 't', name: 'a', partition: 1, redis_node: 'node_0' }],
        errors: [
          {
            index: 1,
            name: 'b',
            error: 'validation_error',
            message: 'm',
            details: { field: 'tasks[1].function_name', error: 'e' },
          },
        ],
        execution_mode: 'sequential',
        estimated_completion: 'x',
      }),
    );
    const sdk = client(fetch);
    const tasks = [
      { name: 'a', functionName: 'noop', metadata: { snake_key: 1 } },
      { name: 'b', functionName: 'nope' },
    ];
    const batch = await sdk.submitBatch(tasks, {
      executionMode: 'sequential',
      priority: 'HIGH',
      maxFailures: 1,
    });
    await sdk.submitBatch({ tasks, batchPriority: 'LOW', batchTimeout: 60 });
    assert.deepEqual(fetch.calls[0].body, {
      tasks: [
        { name: 'a', function_name: 'noop', metadata: { snake_key: 1 } },
        { name: 'b', function_name: 'nope' },
      ],
      execution_mode: 'sequential',
      max_failures: 1,
      batch_priority: 'HIGH',
    });
    assert.deepEqual(fetch.calls[1].body.batch_priority, 'LOW');
    assert.deepEqual(fetch.calls[1].body.batch_timeout, 60);
    assert.equal(batch.batchId, 'b');
    assert.equal(batch.successfulTasks[0].taskId, 't');
    assert.deepEqual(batch.errors[0].details, { field: 'tasks[1].function_name', error: 'e' });
  });

  it('uses the right method and path for every other endpoint', async () => {
    const fetch = fakeFetch(() => json({}));
    const sdk = client(fetch);
    await sdk.cancelTask('t');
    await sdk.getBatch('b');
    await sdk.getMetrics();
    await sdk.listFunctions();
    await sdk.getPriorities();
    await sdk.getHealth();
    await sdk.getTaskLogs('t', { limit: 5 });
    await sdk.getLogs({ level: 'ERROR', limit: 10 });
    await sdk.listPersonalities();
    await sdk.configureWebhook({
      url: 'http://h/x',
      events: ['task.completed'],
      secret: 'secret12',
    });
    await sdk.listWebhooks();
    await sdk.deleteWebhook('w');
    await sdk.sendWebhookTest('w');
    await sdk.getNotifySecret();
    assert.deepEqual(
      fetch.calls.map((c) => `${c.method} ${c.path}${new URL(c.url).search}`),
      [
        'DELETE /api/high-scale-tasks/cancel/t',
        'GET /api/high-scale-tasks/batch/b',
        'GET /api/high-scale-tasks/metrics',
        'GET /api/high-scale-tasks/functions',
        'GET /api/high-scale-tasks/priorities',
        'GET /api/health/',
        'GET /api/logs/task/t?limit=5',
        'GET /api/logs?level=ERROR&limit=10',
        'GET /api/vicky/personalities',
        'POST /api/webhooks/configure',
        'GET /api/webhooks',
        'DELETE /api/webhooks/w',
        'POST /api/webhooks/w/test',
        'GET /api/webhooks/notify-secret',
      ],
    );
    assert.deepEqual(fetch.calls[9].body, {
      url: 'http://h/x',
      events: ['task.completed'],
      secret: 'secret12',
    });
    assert.equal(fetch.calls[0].body, undefined);
    assert.equal(fetch.calls[0].headers['content-type'], undefined);
  });

  it('keeps the data keys of metrics maps and renames the fields inside them', async () => {
    const fetch = fakeFetch(() =>
      json({
        throughput_per_second: 1.5,
        worker_pools: { CPU_INTENSIVE: { active_workers: 1, avg_execution_time: 2 } },
        rate_limits: { plugin_cat: { limit_per_second: 2, current_usage: 0, reset_time: 'r' } },
        redis_cluster: { node_0: { status: 'healthy', memory_usage: '5%' } },
      }),
    );
    const metrics = await client(fetch).getMetrics();
    assert.deepEqual(metrics, {
      throughputPerSecond: 1.5,
      workerPools: { CPU_INTENSIVE: { activeWorkers: 1, avgExecutionTime: 2 } },
      rateLimits: { plugin_cat: { limitPerSecond: 2, currentUsage: 0, resetTime: 'r' } },
      redisCluster: { node_0: { status: 'healthy', memoryUsage: '5%' } },
    });
  });

  it('sends Vicky requests with parameters and context and reads metadata in camelCase', async () => {
    const answer = {
      message: { role: 'assistant', content: 'hola' },
      session_id: 's1',
      model_used: 'tiny',
      tokens_used: 3,
      metadata: { model_version: 'v', processing_node: 'n' },
    };
    const fetch = fakeFetch(() => json(answer));
    const sdk = client(fetch);
    const chat = await sdk.vickyChat('Hola', {
      sessionId: 's1',
      model: 'tiny',
      maxTokens: 8,
      temperature: 0,
    });
    await sdk.vickyChat([{ role: 'user', content: 'a' }], { parameters: { topP: 0.5 } });
    await sdk.vickyChat({
      messages: [{ role: 'user', content: 'b' }],
      personality: 'technical_assistant',
    });
    await sdk.vickyInference('Explica', { context: { user_id: 'u', sessionKey: 1 }, topP: 0.9 });
    await sdk.vickyInference({ text: 'x', model: 'tiny' });
    assert.deepEqual(chat, {
      message: { role: 'assistant', content: 'hola' },
      sessionId: 's1',
      modelUsed: 'tiny',
      tokensUsed: 3,
      metadata: { modelVersion: 'v', processingNode: 'n' },
    });
    assert.deepEqual(
      fetch.calls.map((c) => c.body),
      [
        {
          messages: [{ role: 'user', content: 'Hola' }],
          session_id: 's1',
          model: 'tiny',
          parameters: { max_tokens: 8, temperature: 0 },
        },
        { messages: [{ role: 'user', content: 'a' }], parameters: { top_p: 0.5 } },
        { messages: [{ role: 'user', content: 'b' }], personality: 'technical_assistant' },
        { text: 'Explica', context: { user_id: 'u', sessionKey: 1 }, parameters: { top_p: 0.9 } },
        { text: 'x', model: 'tiny' },
      ],
    );
    assert.deepEqual(fetch.calls.map((c) => c.path).slice(2), [
      '/api/vicky/chat',
      '/api/vicky/inference',
      '/api/vicky/inference',
    ]);
  });
});

/** A fetch that never answers, until its signal aborts (as fetch does). */
function hanging(request) {
  return new Promise((_, reject) => {
    if (request.signal.aborted) reject(request.signal.reason);
    request.signal.addEventListener('abort', () => reject(request.signal.reason));
  });
}

function errorBody(error, message, details) {
  return { error, message, ...(details ? { details } : {}), timestamp: 't' };
}

describe('errors', () => {
  const cases = [
    [
      400,
      errorBody('validation_error', 'Invalid request parameters', {
        field: 'priority',
        error: 'bad',
      }),
      ValidationError,
    ],
    [
      401,
      errorBody('unauthorized', 'Invalid or missing authentication token'),
      AuthenticationError,
    ],
    [404, errorBody('not_found', "Task 'x' not found"), TaskNotFound],
    [409, errorBody('conflict', 'already ended'), Conflict],
    [413, errorBody('payload_too_large', 'too big'), PayloadTooLarge],
    [
      429,
      errorBody('rate_limit_exceeded', 'slow down', {
        limit: 5,
        current: 6,
        reset_time: 'r',
        retry_after: 2,
      }),
      RateLimitExceeded,
    ],
    [
      500,
      { error: 'internal_server_error', message: 'boom', error_id: 'error_1', timestamp: 't' },
      ServerError,
    ],
    [502, errorBody('bad_gateway', 'upstream'), ServerError],
    [
      503,
      errorBody('service_unavailable', 'down', {
        component: 'redis',
        status: 'degraded',
        estimated_recovery: 'e',
      }),
      ServiceUnavailable,
    ],
    [418, errorBody('teapot', 'short and stout'), VokaFlowError],
  ];
  for (const [status, body, ErrorClass] of cases) {
    it(`maps ${status} ${body.error} to ${ErrorClass.name}`, async () => {
      const fetch = fakeFetch(() => json(body, status));
      const error = await client(fetch)
        .getMetrics()
        .catch((e) => e);
      assert.ok(error instanceof ErrorClass, `${error}`);
      assert.ok(error instanceof VokaFlowError);
      assert.equal(error.name, ErrorClass.name);
      assert.equal(error.statusCode, status);
      assert.equal(error.code, body.error);
      assert.equal(error.message, body.message);
      assert.deepEqual(error.body, body);
    });
  }

  it('exposes the typed details of each error', async () => {
    const errorOf = async (status, body, headers) =>
      client(fakeFetch(() => json(body, status, headers)))
        .getMetrics()
        .catch((e) => e);
    const validation = await errorOf(
      400,
      errorBody('validation_error', 'm', { field: 'function_name', error: 'unknown' }),
    );
    assert.equal(validation.field, 'function_name');
    assert.equal(validation.error, 'unknown');
    const limited = await errorOf(
      429,
      errorBody('rate_limit_exceeded', 'm', {
        limit: 5,
        current: 6,
        reset_time: 'r',
        retry_after: 45,
      }),
    );
    assert.deepEqual(
      [limited.retryAfter, limited.limit, limited.current, limited.resetTime],
      [45, 5, 6, 'r'],
    );
    assert.deepEqual(limited.details, { limit: 5, current: 6, resetTime: 'r', retryAfter: 45 });
    const headerOnly = await errorOf(429, errorBody('rate_limit_exceeded', 'm'), {
      'retry-after': '7',
    });
    assert.equal(headerOnly.retryAfter, 7);
    assert.equal(headerOnly.headers['retry-after'], '7');
    const down = await errorOf(
      503,
      errorBody('service_unavailable', 'm', { component: 'vicky:tiny' }),
    );
    assert.equal(down.component, 'vicky:tiny');
    const failed = await errorOf(500, {
      error: 'internal_server_error',
      message: 'm',
      error_id: 'error_9',
    });
    assert.equal(failed.errorId, 'error_9');
  });

  it('makes a body that is not JSON the message', async () => {
    const fetch = fakeFetch(() => new Response('<html>Bad Gateway</html>', { status: 502 }));
    const error = await client(fetch)
      .getMetrics()
      .catch((e) => e);
    assert.ok(error instanceof ServerError);
    assert.equal(error.message, '<html>Bad Gateway</html>');
    assert.equal(error.code, null);
  });

  it('throws a connection error when there is no answer or it takes too long', async () => {
    const refused = client(
      fakeFetch(() => new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') })),
    );
    const error = await refused.getHealth().catch((e) => e);
    assert.ok(error instanceof VokaFlowConnectionError);
    assert.match(error.message, /GET \/api\/health\/ got no answer: ECONNREFUSED/);

    const slow = client(
      fakeFetch(() => hanging),
      { timeout: 30 },
    );
    const timedOut = await slow.getHealth().catch((e) => e);
    assert.ok(timedOut instanceof VokaFlowConnectionError);
    assert.match(timedOut.message, /timed out after 30 ms/);
  });

  it("rejects with the caller's abort reason when the caller aborts", async () => {
    const controller = new AbortController();
    const pending = client(fakeFetch(() => hanging)).getHealth({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
  });

  it('rejects an answer that is not JSON', async () => {
    const fetch = fakeFetch(() => new Response('not json', { status: 200 }));
    await assert.rejects(
      client(fetch).getHealth(),
      (e) => e instanceof VokaFlowError && /Expected JSON/.test(e.message),
    );
  });

  it('needs a base URL', () => {
    assert.throws(() => new VokaFlowClient({}), TypeError);
  });
});

describe('rate limits', () => {
  const limited = (retryAfter) =>
    json(
      errorBody('rate_limit_exceeded', 'slow', {
        limit: 2,
        current: 3,
        reset_time: 'r',
        retry_after: retryAfter,
      }),
      429,
    );

  it('throws RateLimitExceeded by default, without retrying', async () => {
    const fetch = fakeFetch([limited(0), json({ task_id: 't' })]);
    await assert.rejects(
      client(fetch).submitTask({ name: 'a', functionName: 'noop' }),
      RateLimitExceeded,
    );
    assert.equal(fetch.calls.length, 1);
  });

  it('retries after retryAfter seconds when opted in', async () => {
    const fetch = fakeFetch([limited(0.05), limited(0), json({ task_id: 't' })]);
    const started = Date.now();
    const task = await client(fetch, { retryOnRateLimit: true }).submitTask({
      name: 'a',
      functionName: 'noop',
    });
    assert.equal(task.taskId, 't');
    assert.equal(fetch.calls.length, 3);
    assert.ok(Date.now() - started >= 45, 'waited retryAfter');
    assert.deepEqual(fetch.calls[2].body, fetch.calls[0].body);
  });

  it('gives up after maxRateLimitRetries retries', async () => {
    const fetch = fakeFetch(() => limited(0));
    const sdk = client(fetch, { retryOnRateLimit: true, maxRateLimitRetries: 2 });
    await assert.rejects(sdk.getMetrics(), RateLimitExceeded);
    assert.equal(fetch.calls.length, 3);
  });

  it('does not retry other errors', async () => {
    const fetch = fakeFetch(() =>
      json(errorBody('service_unavailable', 'down', { component: 'redis' }), 503),
    );
    await assert.rejects(
      client(fetch, { retryOnRateLimit: true }).getMetrics(),
      ServiceUnavailable,
    );
    assert.equal(fetch.calls.length, 1);
  });
});

describe('waitForCompletion', () => {
  for (const terminal of ['completed', 'failed', 'cancelled', 'timeout']) {
    it(`polls until the task is ${terminal} and resolves with that status`, async () => {
      const fetch = fakeFetch([
        json({ ...STATUS, status: 'queued', result: null }),
        json({ ...STATUS, status: 'running', result: null }),
        json({
          ...STATUS,
          status: terminal,
          error: terminal === 'failed' ? { type: 'E', message: 'm' } : null,
        }),
      ]);
      const done = await client(fetch).waitForCompletion('t1', { timeout: 5_000, pollInterval: 5 });
      assert.equal(done.status, terminal);
      assert.equal(fetch.calls.length, 3);
    });
  }

  it('rejects with TaskWaitTimeout when the task has not ended in time', async () => {
    const fetch = fakeFetch(() => json({ ...STATUS, status: 'running' }));
    const started = Date.now();
    const error = await client(fetch)
      .waitForCompletion('t1', { timeout: 60, pollInterval: 10 })
      .catch((e) => e);
    assert.ok(error instanceof TaskWaitTimeout);
    assert.ok(error instanceof VokaFlowError);
    assert.equal(error.taskId, 't1');
    assert.equal(error.lastStatus, 'running');
    assert.equal(error.timeout, 60);
    assert.ok(Date.now() - started < 1_000);
    assert.ok(fetch.calls.length >= 3);
  });

  it('rejects at once with the error of a status read (e.g. an unknown task)', async () => {
    const fetch = fakeFetch(() => json(errorBody('not_found', 'no such task'), 404));
    await assert.rejects(
      client(fetch).waitForCompletion('x', { timeout: 1_000, pollInterval: 5 }),
      TaskNotFound,
    );
  });

  it('stops waiting when its signal aborts', async () => {
    const fetch = fakeFetch(() => json({ ...STATUS, status: 'queued' }));
    const controller = new AbortController();
    const pending = client(fetch).waitForCompletion('t1', {
      pollInterval: 10_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('no longer needed')), 20);
    await assert.rejects(pending, /no longer needed/);
  });
});
