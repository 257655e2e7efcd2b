import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TASK_RULES, VICKY_RULES, fromWire, toCamel, toSnake, toWire } from '../src/case.js';

describe('key mapping', () => {
  it('converts camelCase to snake_case and back', () => {
    assert.equal(toSnake('functionName'), 'function_name');
    assert.equal(toSnake('maxTokens'), 'max_tokens');
    assert.equal(toSnake('topP'), 'top_p');
    assert.equal(toSnake('already_snake'), 'already_snake');
    assert.equal(toCamel('task_id'), 'taskId');
    assert.equal(toCamel('duration_s'), 'durationS');
    assert.equal(toCamel('network_io'), 'networkIo');
    assert.equal(toCamel('status'), 'status');
  });

  it('renames the API fields of a request and leaves args, kwargs and metadata untouched', () => {
    const wire = toWire({
      name: 'n',
      functionName: 'f',
      workerType: 'GENERAL_PURPOSE',
      args: [{ camelCase: 1, snake_case: 2 }, 'x'],
      kwargs: { file_path: '/a', analysisTypes: ['x'], nested: { deepKey: { inner_key: 1 } } },
      metadata: { userId: 7, user_id: 8 },
      retryCount: undefined,
    });
    assert.deepEqual(wire, {
      name: 'n',
      function_name: 'f',
      worker_type: 'GENERAL_PURPOSE',
      args: [{ camelCase: 1, snake_case: 2 }, 'x'],
      kwargs: { file_path: '/a', analysisTypes: ['x'], nested: { deepKey: { inner_key: 1 } } },
      metadata: { userId: 7, user_id: 8 },
    });
  });

  it('renames the fields of an answer but not result, metadata, progress or data keys', () => {
    const js = fromWire({
      task_id: 't',
      execution_time: 1.5,
      result: { slept_seconds: 0, nested: [{ inner_key: true }] },
      metadata: { user_id: '1', camelKey: 2 },
      progress: { readings_done: 3 },
      error: { type: 'ValueError', message: 'm', traceback: null },
      worker_pools: { GENERAL_PURPOSE: { active_workers: 1, max_workers: 2 } },
      redis_cluster: { node_0: { status: 'healthy', memory_usage: '1%' } },
      rate_limits: { my_plugin: { limit_per_second: 5, reset_time: 'r' } },
      functions: { my_plugin: [{ name: 'f', estimated_duration: '1s', worker_type: 'X' }] },
      priorities: { EMERGENCY: { level: 0, sla_seconds: 0.1 } },
      system_resources: { network_io: { bytes_sent: 1 } },
    });
    assert.deepEqual(js, {
      taskId: 't',
      executionTime: 1.5,
      result: { slept_seconds: 0, nested: [{ inner_key: true }] },
      metadata: { user_id: '1', camelKey: 2 },
      progress: { readings_done: 3 },
      error: { type: 'ValueError', message: 'm', traceback: null },
      workerPools: { GENERAL_PURPOSE: { activeWorkers: 1, maxWorkers: 2 } },
      redisCluster: { node_0: { status: 'healthy', memoryUsage: '1%' } },
      rateLimits: { my_plugin: { limitPerSecond: 5, resetTime: 'r' } },
      functions: { my_plugin: [{ name: 'f', estimatedDuration: '1s', workerType: 'X' }] },
      priorities: { EMERGENCY: { level: 0, slaSeconds: 0.1 } },
      systemResources: { networkIo: { bytesSent: 1 } },
    });
  });

  it('treats Vicky metadata as API fields and Vicky context as user data', () => {
    assert.deepEqual(
      fromWire({ metadata: { model_version: 'v', processing_node: 'n' } }, VICKY_RULES),
      {
        metadata: { modelVersion: 'v', processingNode: 'n' },
      },
    );
    assert.deepEqual(
      toWire({ context: { userId: 1, session_id: 2 }, parameters: { maxTokens: 3 } }, VICKY_RULES),
      {
        context: { userId: 1, session_id: 2 },
        parameters: { max_tokens: 3 },
      },
    );
  });

  it('walks arrays of API objects and keeps user data inside them untouched', () => {
    const wire = toWire({ tasks: [{ functionName: 'a', kwargs: { someKey: 1 } }] }, TASK_RULES);
    assert.deepEqual(wire, { tasks: [{ function_name: 'a', kwargs: { someKey: 1 } }] });
  });

  it('keeps null, numbers, strings and non-plain objects as they are', () => {
    assert.equal(fromWire(null), null);
    assert.equal(fromWire('task_id'), 'task_id');
    assert.deepEqual(fromWire([1, 'a_b', null]), [1, 'a_b', null]);
    const date = new Date(0);
    assert.equal(toWire({ when: date }).when, date);
  });
});
