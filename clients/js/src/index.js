// @vokaflow/sdk: a typed client for the VokaFlow REST API.
//
//   import { VokaFlowClient } from '@vokaflow/sdk';
//   const client = new VokaFlowClient({ baseUrl: 'http://localhost:8000', apiKey: 'KEY' });
//   const task = await client.submitTask({ name: 'stats', functionName: 'statistical_summary',
//                                          args: [[1, 2, 3]] });
//   const done = await client.waitForCompletion(task.taskId, { timeout: 60_000 });

export { TERMINAL_STATUSES, TextStream, VERSION, VokaFlowClient, isTerminal } from './client.js';
export {
  AuthenticationError,
  Conflict,
  NotFound,
  PayloadTooLarge,
  RateLimitExceeded,
  ServerError,
  ServiceUnavailable,
  StreamError,
  TaskNotFound,
  TaskWaitTimeout,
  ValidationError,
  VokaFlowConnectionError,
  VokaFlowError,
} from './errors.js';
export { TASK_RULES, VICKY_RULES, fromWire, toCamel, toSnake, toWire } from './case.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verifySignature } from './webhooks.js';

/** The eight priority levels, most urgent first (a plain string works as well). */
export const Priority = Object.freeze({
  EMERGENCY: 'EMERGENCY',
  CRITICAL: 'CRITICAL',
  HIGH: 'HIGH',
  NORMAL: 'NORMAL',
  LOW: 'LOW',
  BATCH: 'BATCH',
  BACKGROUND: 'BACKGROUND',
  MAINTENANCE: 'MAINTENANCE',
});

export const WorkerType = Object.freeze({
  CPU_INTENSIVE: 'CPU_INTENSIVE',
  IO_INTENSIVE: 'IO_INTENSIVE',
  MEMORY_INTENSIVE: 'MEMORY_INTENSIVE',
  NETWORK_INTENSIVE: 'NETWORK_INTENSIVE',
  GENERAL_PURPOSE: 'GENERAL_PURPOSE',
});

export const ExecutionMode = Object.freeze({
  PARALLEL: 'parallel',
  SEQUENTIAL: 'sequential',
  ADAPTIVE: 'adaptive',
});

export const WebhookEvent = Object.freeze({
  TASK_COMPLETED: 'task.completed',
  TASK_FAILED: 'task.failed',
  TASK_TIMEOUT: 'task.timeout',
  TASK_CANCELLED: 'task.cancelled',
  TASK_UPSTREAM_FAILED: 'task.upstream_failed',
  BATCH_COMPLETED: 'batch.completed',
});
