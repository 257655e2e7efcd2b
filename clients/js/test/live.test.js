// The SDK against a live service (VOKAFLOW_URL, VOKAFLOW_API_KEY; skipped without them).
// Written for the integration test stack (tests/integration/conftest.py): the tiny Vicky
// model, `ml` limited to 2 tasks/s with a burst of 5, webhooks allowed to 127.0.0.1.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';

import {
  AuthenticationError,
  Conflict,
  RateLimitExceeded,
  TaskNotFound,
  ValidationError,
  VokaFlowClient,
  verifySignature,
} from '../src/index.js';
import { liveService } from './helpers.js';

const live = liveService();
const TINY = { model: 'tiny', maxTokens: 8, temperature: 0 };
const WAIT = { timeout: 60_000, pollInterval: 100 };

const sdk = (options = {}) =>
  new VokaFlowClient({ baseUrl: live.baseUrl, apiKey: live.apiKey, ...options });

/** The raw wire answer, for comparing what the SDK made of it. */
async function raw(path) {
  const response = await fetch(`${live.baseUrl}${path}`, { headers: { 'X-API-Key': live.apiKey } });
  assert.equal(response.status, 200);
  return response.json();
}

async function until(read, done, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('live service', { skip: live.skip, timeout: 300_000 }, () => {
  const client = live.skip ? null : sdk();

  it('runs a task and returns its result and metadata with their keys as they were', async () => {
    const metadata = {
      user_id: '12345',
      traceId: 'abc',
      nested_data: { innerKey: [1, { deep_key: true }] },
    };
    const task = await client.submitTask({
      name: 'js sleep',
      functionName: 'system.sleep',
      kwargs: { seconds: 0 },
      priority: 'HIGH',
      metadata,
    });
    assert.match(task.taskId, /^[0-9a-f-]{36}$/);
    assert.equal(task.status, 'queued');
    assert.equal(typeof task.queuePosition, 'number');
    const done = await client.waitForCompletion(task.taskId, WAIT);
    assert.equal(done.status, 'completed');
    assert.equal(done.functionName, 'sleep');
    assert.equal(typeof done.executionTime, 'number');
    assert.equal(done.result.slept_seconds, 0);
    assert.deepEqual(done.metadata, metadata);
  });

  it('delays a task until its runAt, and fires a schedule until it is deleted', async () => {
    const task = await client.submitTask({ name: 'js later', functionName: 'noop', delaySeconds: 1 });
    assert.equal(task.status, 'scheduled');
    const done = await client.waitForCompletion(task.taskId, WAIT);
    assert.equal(done.status, 'completed');
    assert.ok(done.startedAt >= task.runAt, `${done.startedAt} < ${task.runAt}`);
    const start = new Date(Date.now() - 4000).toISOString(); // the first fire in about 1 s
    const made = await client.createSchedule({
      task: { name: 'js every', functionName: 'noop' },
      intervalSeconds: 5,
      start,
    });
    const fired = (s) => (s.runs ?? []).some((run) => run.status === 'completed');
    let read = made;
    for (const deadline = Date.now() + 30_000; !fired(read) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      read = await client.getSchedule(made.id);
    }
    assert.ok(fired(read), JSON.stringify(read.runs));
    const page = await client.listSchedules({ limit: 1000 });
    assert.ok(page.schedules.some((s) => s.id === made.id));
    await client.deleteSchedule(made.id);
  });

  it('resolves waitForCompletion with a failed task and its error', async () => {
    const task = await client.submitTask({
      name: 'js failure',
      functionName: 'raise_error',
      args: ['it broke'],
      retryCount: 0,
    });
    const done = await client.waitForCompletion(task.taskId, WAIT);
    assert.equal(done.status, 'failed');
    assert.match(done.error.message, /it broke/);
    assert.equal(done.result, null);
  });

  it('reads the logs of a task', async () => {
    const task = await client.submitTask({
      name: 'js echo',
      functionName: 'echo',
      args: ['hola desde JS'],
    });
    const done = await client.waitForCompletion(task.taskId, WAIT);
    assert.deepEqual(done.result, { message: 'hola desde JS' });
    const logs = await client.getTaskLogs(task.taskId);
    assert.ok(
      logs.entries.some((entry) => entry.message === 'hola desde JS'),
      JSON.stringify(logs),
    );
    assert.equal(logs.taskId, task.taskId);
  });

  it('submits a batch, lists the refused task and follows the batch to its end', async () => {
    const batch = await client.submitBatch(
      [
        { name: 'a', functionName: 'noop' },
        { name: 'b', functionName: 'echo', args: ['b'] },
        { name: 'c', functionName: 'no_such_function' },
      ],
      { executionMode: 'sequential', batchTimeout: 120, maxFailures: 1, priority: 'HIGH' },
    );
    assert.equal(batch.totalSubmitted, 2);
    assert.equal(batch.totalErrors, 1);
    assert.equal(batch.errors[0].index, 2);
    assert.equal(batch.errors[0].error, 'validation_error');
    assert.equal(batch.errors[0].details.field, 'tasks[2].function_name');
    const ended = await until(
      () => client.getBatch(batch.batchId),
      (b) => b.status !== 'running',
    );
    assert.equal(ended.status, 'completed');
    assert.equal(ended.completed, 2);
    assert.equal(ended.executionMode, 'sequential');
    assert.equal(ended.maxFailures, 1);
  });

  it('cancels a task, and cancelling it again is a Conflict', async () => {
    const task = await client.submitTask({
      name: 'js sleeper',
      functionName: 'system.sleep',
      args: [30],
      priority: 'LOW',
    });
    const cancelled = await client.cancelTask(task.taskId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.taskId, task.taskId);
    await assert.rejects(
      client.cancelTask(task.taskId),
      (e) => e instanceof Conflict && e.statusCode === 409,
    );
    const final = await client.waitForCompletion(task.taskId, {
      timeout: 10_000,
      pollInterval: 100,
    });
    assert.equal(final.status, 'cancelled');
  });

  it('throws typed errors: not found, validation, authentication', async () => {
    await assert.rejects(
      client.getTaskStatus(randomUUID()),
      (e) => e instanceof TaskNotFound && e.code === 'not_found',
    );
    await assert.rejects(client.getBatch(`batch_${randomUUID()}`), TaskNotFound);
    await assert.rejects(
      client.submitTask({ name: 'bad', functionName: 'no_such_function' }),
      (e) =>
        e instanceof ValidationError &&
        e.field === 'function_name' &&
        /no_such_function/.test(e.error),
    );
    await assert.rejects(
      client.submitTask({ name: 'bad', functionName: 'noop', priority: 'URGENTE' }),
      (e) => e instanceof ValidationError && e.field === 'priority',
    );
    await assert.rejects(
      sdk({ apiKey: 'not-a-real-key' }).getMetrics(),
      (e) => e instanceof AuthenticationError && e.statusCode === 401 && e.code === 'unauthorized',
    );
  });

  it('raises RateLimitExceeded with retryAfter, or waits it out when opted in', async () => {
    const ml = { functionName: 'metered_noop' }; // the test stack allows 2/s, burst 5
    const error = await (async () => {
      for (let i = 0; i < 20; i += 1) await client.submitTask({ name: `js ml ${i}`, ...ml });
      return null;
    })().catch((e) => e);
    assert.ok(error instanceof RateLimitExceeded, `${error}`);
    assert.ok(error.retryAfter > 0);
    assert.ok(error.limit !== null && error.resetTime);
    const patient = sdk({ retryOnRateLimit: true, maxRateLimitRetries: 10 });
    const ids = new Set();
    for (let i = 0; i < 4; i += 1)
      ids.add((await patient.submitTask({ name: `js patient ml ${i}`, ...ml })).taskId);
    assert.equal(ids.size, 4);
  });

  it('reads the catalog, priorities, metrics and health, keeping data keys as sent', async () => {
    const catalog = await client.listFunctions();
    const names = Object.values(catalog.functions)
      .flat()
      .map((f) => f.name);
    assert.ok(names.includes('vicky_inference'));
    assert.equal(catalog.totalFunctions, names.length);
    assert.ok(
      Object.values(catalog.functions)
        .flat()
        .every((f) => f.workerType && f.estimatedDuration !== undefined),
    );
    assert.deepEqual(
      Object.keys(catalog.functions),
      Object.keys((await raw('/api/high-scale-tasks/functions')).functions),
    );

    const priorities = await client.getPriorities();
    assert.equal(Object.keys(priorities.priorities).length, 8);
    assert.equal(priorities.priorities.EMERGENCY.slaSeconds, 0.1);
    assert.equal(priorities.defaultPriority, 'NORMAL');
    assert.equal(typeof priorities.autoScalingThresholds.scaleUpQueueSize, 'number');

    const metrics = await client.getMetrics();
    const wire = await raw('/api/high-scale-tasks/metrics');
    assert.equal(metrics.partitions, 16);
    assert.ok(metrics.throughputPerSecond >= 0);
    assert.equal(typeof metrics.workerPools.GENERAL_PURPOSE.maxWorkers, 'number');
    assert.deepEqual(Object.keys(metrics.workerPools), Object.keys(wire.worker_pools));
    assert.deepEqual(Object.keys(metrics.redisCluster), Object.keys(wire.redis_cluster));
    assert.deepEqual(Object.keys(metrics.rateLimits), Object.keys(wire.rate_limits));
    assert.equal(typeof metrics.systemResources.networkIo.bytesSent, 'number');

    const health = await client.getHealth();
    assert.equal(health.status, 'healthy');
  });

  it('chats with Vicky (tiny model) and continues a session', async () => {
    const session = `js-${randomUUID().slice(0, 8)}`;
    const first = await client.vickyChat('Hola, me llamo Ana', { sessionId: session, ...TINY });
    assert.equal(first.message.role, 'assistant');
    assert.equal(typeof first.message.content, 'string');
    assert.equal(first.sessionId, session);
    assert.equal(first.modelUsed, 'tiny');
    assert.ok(first.metadata.modelVersion);
    const second = await client.vickyChat('¿Cómo me llamo?', { sessionId: session, ...TINY });
    assert.ok(second.tokensUsed > first.tokensUsed, 'the earlier turns are sent too');
    const answer = await client.vickyInference('Explain machine learning', {
      context: { user_id: 'u1' },
      ...TINY,
    });
    assert.equal(answer.modelUsed, 'tiny');
    assert.equal(typeof answer.response, 'string');
    assert.ok(answer.metadata.processingNode);
  });

  it('streams a Vicky chat as pieces of text, then the whole answer', async () => {
    const stream = client.vickyChatStream('Tell me a story', TINY);
    const pieces = [];
    for await (const piece of stream) pieces.push(piece);
    assert.ok(pieces.length > 0 && pieces.every((p) => typeof p === 'string'));
    assert.equal(pieces.join(''), stream.response.message.content);
    assert.match(stream.response.sessionId, /^session_/);
    const inference = client.vickyInferenceStream('Hola', TINY);
    assert.equal(await inference.text(), inference.response.response);
    await assert.rejects(
      client.vickyChatStream('Hola', { model: 'gpt-9' }).text(),
      (e) => e instanceof ValidationError && e.field === 'model',
    );
  });

  it('configures a webhook whose signed test delivery verifySignature accepts', async () => {
    const received = [];
    const server = createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ body: Buffer.concat(chunks), headers: request.headers });
        response.writeHead(200, { 'content-length': '0' }).end();
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${server.address().port}/hooks/js`;
    const secret = 'js-webhook-secret';
    let hook;
    try {
      hook = await client.configureWebhook({
        url,
        events: ['task.completed', 'task.failed'],
        secret,
      });
      assert.equal(hook.url, url);
      assert.deepEqual(hook.events, ['task.completed', 'task.failed']);
      assert.ok((await client.listWebhooks()).webhooks.some((w) => w.id === hook.id));
      const attempt = await client.sendWebhookTest(hook.id);
      assert.equal(attempt.outcome, 'delivered');
      assert.equal(attempt.statusCode, 200);
      assert.equal(attempt.webhookId, hook.id);
      // the hook also hears the key's other tasks that end meanwhile: count the test's own
      const tests = received.filter((r) => JSON.parse(r.body).event === 'webhook.test');
      assert.equal(tests.length, 1);
      const [{ body, headers }] = tests;
      assert.equal(await verifySignature(body, headers, secret), true);
      assert.equal(await verifySignature(body, headers, 'not-the-secret'), false);
      await assert.rejects(
        client.configureWebhook({
          url: 'http://10.255.255.1/hook',
          events: ['task.completed'],
          secret,
        }),
        (e) => e instanceof ValidationError && e.field === 'url',
      );
    } finally {
      server.close();
      if (hook) assert.equal((await client.deleteWebhook(hook.id)).deleted, true);
    }
  });
});
