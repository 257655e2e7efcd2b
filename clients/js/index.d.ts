// Type definitions for @vokaflow/sdk (hand-written; the code is src/*.js).
//
// Requests and answers use camelCase field names; the SDK sends and reads snake_case. User
// data (a task's args, kwargs, metadata, result and progress; Vicky's context) is never
// renamed, and neither are the keys of data-keyed maps (categories, pools, nodes).

// ---------------------------------------------------------------- enums

export type Priority =
  'EMERGENCY' | 'CRITICAL' | 'HIGH' | 'NORMAL' | 'LOW' | 'BATCH' | 'BACKGROUND' | 'MAINTENANCE';
export declare const Priority: Readonly<{ [K in Priority]: K }>;

export type WorkerType =
  'CPU_INTENSIVE' | 'IO_INTENSIVE' | 'MEMORY_INTENSIVE' | 'NETWORK_INTENSIVE' | 'GENERAL_PURPOSE';
export declare const WorkerType: Readonly<{ [K in WorkerType]: K }>;

export type ExecutionMode = 'parallel' | 'sequential' | 'adaptive';
export declare const ExecutionMode: Readonly<{
  PARALLEL: 'parallel';
  SEQUENTIAL: 'sequential';
  ADAPTIVE: 'adaptive';
}>;

export type WebhookEvent =
  'task.completed' | 'task.failed' | 'task.timeout' | 'task.cancelled' | 'batch.completed';
export declare const WebhookEvent: Readonly<{
  TASK_COMPLETED: 'task.completed';
  TASK_FAILED: 'task.failed';
  TASK_TIMEOUT: 'task.timeout';
  TASK_CANCELLED: 'task.cancelled';
  TASK_UPSTREAM_FAILED: 'task.upstream_failed';
  BATCH_COMPLETED: 'batch.completed';
}>;

export type TaskStatusValue =
  | 'scheduled'
  | 'waiting'
  | 'queued'
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timeout'
  | 'upstream_failed';
export type TerminalStatus = 'completed' | 'failed' | 'cancelled' | 'timeout' | 'upstream_failed';
export declare const TERMINAL_STATUSES: readonly TerminalStatus[];
/** Whether a task (or its status string) has ended: completed, failed, cancelled or timeout. */
export declare function isTerminal(statusOrTask: string | { status: string }): boolean;

/** Enum-like answer fields are plain strings: a newer service may add values. */
type Open<T extends string> = T | (string & {});

export declare const VERSION: string;

// ---------------------------------------------------------------- client options

export interface ClientOptions {
  /** The service's address, e.g. `http://localhost:8000`. */
  baseUrl: string;
  /** Sent as `X-API-Key`. */
  apiKey?: string;
  /** A JWT, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Milliseconds a request may take (a stream: until its first byte). Default 30000. */
  timeout?: number;
  /** Retry a 429 after waiting its `retryAfter`. Default false. */
  retryOnRateLimit?: boolean;
  /** How many times one request is retried after a 429. Default 3. */
  maxRateLimitRetries?: number;
  /** A `fetch` to use instead of the global one (tests, proxies, other runtimes). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Aborts the request (rejects with the signal's reason). */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- tasks

export interface TaskRequest {
  name: string;
  functionName: string;
  /** Positional arguments, sent as they are. */
  args?: unknown[];
  /** Keyword arguments, sent as they are (keys are not renamed). */
  kwargs?: Record<string, unknown>;
  priority?: Priority | Lowercase<Priority>;
  workerType?: WorkerType;
  category?: string;
  /** Seconds the task may run. */
  timeout?: number;
  retryCount?: number;
  /** Your own data, sent and returned as it is (keys are not renamed). */
  metadata?: Record<string, unknown>;
  /** A repeat with the same key returns the first task instead of a new one. */
  idempotencyKey?: string;
  /**
   * Run it then, not now (status `scheduled` until then): a Date, or ISO 8601 text (UTC
   * when it has no offset). At most one of `runAt` and `delaySeconds`.
   */
  runAt?: Date | string;
  /** Run it this many seconds from now (status `scheduled` until then). */
  delaySeconds?: number;
  /**
   * `reject`: a 429 (a rate-limit error, with retryAfter) instead of a task when the measured
   * backlog says it would start past its priority's SLA. Single submits only.
   */
  slaPolicy?: 'best_effort' | 'reject';
  /**
   * At most `maxConcurrency` of your tasks with this key run at once, across the cluster;
   * the rest wait, keeping their place. Both or neither.
   */
  concurrencyKey?: string;
  maxConcurrency?: number;
  /** Wait (`waiting`) until these tasks of yours ended; in a workflow, node names. */
  dependsOn?: string[];
  /** `all_success` (default): a parent that did not complete ends it `upstream_failed`. */
  triggerRule?: 'all_success' | 'all_done';
  /** The argument that receives {parent: result} of its parents. */
  passResultsAs?: string;
}

export interface WorkflowRequest extends RequestOptions {
  name: string;
  tasks: TaskRequest[];
}

export interface WorkflowNode {
  name: string;
  taskId: string;
  status: Open<TaskStatusValue> | 'expired';
  dependsOn: string[];
  [field: string]: unknown;
}

export interface WorkflowResponse {
  workflowId: string;
  name: string;
  /** running, then completed, failed or cancelled */
  status: string;
  createdAt: string;
  nodes: WorkflowNode[];
  /** [parent, child] */
  edges: [string, string][];
  counts: Record<string, number>;
  [field: string]: unknown;
}

export interface TaskSubmitResponse {
  taskId: string;
  name: string;
  status: Open<TaskStatusValue>;
  priority: Open<Priority>;
  partition: number;
  redisNode: string;
  /** When it should start, from the measured backlog and pool throughput. */
  estimatedStart: string;
  estimatedCompletion: string;
  queuePosition: number;
  createdAt: string;
  /** A delayed task's due time (UTC); null for one that runs now. */
  runAt?: string | null;
  [field: string]: unknown;
}

export interface TaskErrorInfo {
  type: string;
  message: string;
  traceback?: string | null;
  [field: string]: unknown;
}

export interface TaskStatusResponse {
  taskId: string;
  name: string;
  status: Open<TaskStatusValue>;
  priority: Open<Priority>;
  workerType: Open<WorkerType>;
  category: string;
  partition: number;
  redisNode: string;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** Seconds. */
  executionTime: number | null;
  /** What the function returned, as it is (keys are not renamed). */
  result: unknown;
  error: TaskErrorInfo | null;
  retryCount: number;
  /** As submitted (keys are not renamed). */
  metadata: Record<string, unknown>;
  functionName: string;
  attempts: number;
  timeout: number;
  maxRetries: number;
  queuePosition?: number | null;
  batchId?: string | null;
  workerPid?: number | null;
  systemRetries?: number;
  retryAt?: string | null;
  /** A delayed task's due time (UTC); its status is `scheduled` until then. */
  runAt?: string | null;
  /** What the function last reported, as it is (keys are not renamed). */
  progress?: Record<string, unknown> | null;
  concurrencyKey?: string | null;
  maxConcurrency?: number | null;
  [field: string]: unknown;
}

export interface WaitOptions extends RequestOptions {
  /** Milliseconds to wait in all before rejecting with `TaskWaitTimeout`. Default 300000. */
  timeout?: number;
  /** Milliseconds between two status reads. Default 1000. */
  pollInterval?: number;
}

export interface CancelResponse {
  taskId: string;
  status: Open<TaskStatusValue>;
  cancelledAt: string;
  message: string;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- batches

export interface BatchOptions extends RequestOptions {
  /** The priority of the tasks that name none. */
  batchPriority?: Priority;
  /** Alias of `batchPriority`. */
  priority?: Priority;
  executionMode?: ExecutionMode;
  /** Seconds for the whole batch. */
  batchTimeout?: number;
  maxFailures?: number;
  idempotencyKey?: string;
}

export interface BatchRequest extends BatchOptions {
  tasks: TaskRequest[];
}

export interface BatchTaskRef {
  taskId: string;
  name: string;
  partition: number;
  redisNode: string;
  [field: string]: unknown;
}

export interface BatchTaskError {
  /** The task's index in `tasks`. */
  index: number;
  name: string | null;
  /** The error code, e.g. `validation_error`. */
  error: string;
  message: string;
  /** e.g. `{ field: 'tasks[2].function_name', error: '...' }`. */
  details?: Record<string, unknown> | null;
  [field: string]: unknown;
}

export interface BatchSubmitResponse {
  batchId: string;
  totalSubmitted: number;
  totalErrors: number;
  successfulTasks: BatchTaskRef[];
  errors: BatchTaskError[];
  executionMode: Open<ExecutionMode>;
  /** When its first task should start. */
  estimatedStart: string;
  estimatedCompletion: string;
  [field: string]: unknown;
}

export interface BatchStatusResponse {
  batchId: string;
  status: Open<'running' | 'completed' | 'aborted' | 'timeout'>;
  executionMode: Open<ExecutionMode>;
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  timeout: number;
  unfinished: number;
  createdAt: string;
  finishedAt: string | null;
  batchTimeout: number | null;
  maxFailures: number | null;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- catalog, health

export interface FunctionInfo {
  name: string;
  description: string;
  /** The function's parameter names, as the function spells them. */
  parameters: string[];
  category: string;
  estimatedDuration: string;
  workerType: Open<WorkerType>;
  [field: string]: unknown;
}

export interface FunctionsResponse {
  /** By category name (keys as the service sends them). */
  functions: Record<string, FunctionInfo[]>;
  totalFunctions: number;
  categories: string[];
  [field: string]: unknown;
}

export interface PriorityInfo {
  level: number;
  slaSeconds: number;
  description: string;
  examples: string[];
  [field: string]: unknown;
}

export interface PrioritiesResponse {
  /** By priority name: `EMERGENCY` ... `MAINTENANCE`. */
  priorities: Record<string, PriorityInfo>;
  defaultPriority: Open<Priority>;
  autoScalingThresholds: { scaleUpQueueSize: number; scaleDownQueueSize: number };
  [field: string]: unknown;
}

export interface HealthResponse {
  status: string;
  timestamp: string;
  uptime: number;
  version: string;
  environment: string;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- metrics

export interface WorkerPoolMetrics {
  activeWorkers: number;
  maxWorkers: number;
  queueSize: number;
  avgExecutionTime: number;
  [field: string]: unknown;
}

export interface RateLimitMetrics {
  limitPerSecond: number;
  currentUsage: number;
  resetTime: string;
  [field: string]: unknown;
}

export interface RedisNodeMetrics {
  status: string;
  memoryUsage: string;
  [field: string]: unknown;
}

export interface MetricsResponse {
  throughputPerSecond: number;
  totalPendingTasks: number;
  /** Delayed tasks not yet due (not counted in `totalPendingTasks`). */
  scheduledTasks?: number;
  activeWorkers: number;
  redisNodes: number;
  partitions: number;
  systemResources: {
    cpuPercent: number;
    memoryPercent: number;
    diskUsage: number;
    networkIo: { bytesSent: number; bytesRecv: number };
  };
  /** By pool name (`GENERAL_PURPOSE`...), keys as sent. */
  workerPools: Record<string, WorkerPoolMetrics>;
  /** By category name, keys as sent. */
  rateLimits: Record<string, RateLimitMetrics>;
  /** By node name (`node_0`...), keys as sent. */
  redisCluster: Record<string, RedisNodeMetrics>;
  /** Unix seconds. */
  timestamp: number;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- logs

export interface LogEntry {
  timestamp: string;
  level: string;
  event: string;
  message: string;
  source?: string | null;
  attempt?: number | null;
  taskId?: string | null;
  component?: string | null;
  [field: string]: unknown;
}

export interface TaskLogsResponse {
  taskId: string;
  entries: LogEntry[];
  count: number;
  [field: string]: unknown;
}

export interface SystemLogsResponse {
  level: string;
  limit: number;
  entries: LogEntry[];
  count: number;
  [field: string]: unknown;
}

export interface TaskLogsOptions extends RequestOptions {
  limit?: number;
}

export interface LogsOptions extends RequestOptions {
  /** The lowest level shown. Default (service's) INFO. */
  level?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
  limit?: number;
  component?: string;
}

// ---------------------------------------------------------------- Vicky

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface InferenceParameters {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
}

export interface VickyOptions extends InferenceParameters, RequestOptions {
  /** A model id; the service's default model when left out. */
  model?: string;
  personality?: string;
  /** Generation parameters; `maxTokens`, `temperature`, `topP` may also be given flat. */
  parameters?: InferenceParameters;
}

export interface VickyInferenceOptions extends VickyOptions {
  /** Your own context, sent as it is (keys are not renamed). */
  context?: Record<string, unknown>;
}

export interface VickyInferenceRequest extends VickyInferenceOptions {
  text: string;
}

export interface VickyChatOptions extends VickyOptions {
  /** Continue (or start) a conversation the service keeps. */
  sessionId?: string;
}

export interface VickyChatRequest extends VickyChatOptions {
  messages: ChatMessage[];
}

export interface VickyMetadata {
  modelVersion: string;
  processingNode: string;
  [field: string]: unknown;
}

export interface VickyInferenceResponse {
  response: string;
  modelUsed: string;
  personality: string;
  tokensUsed: number;
  executionTime: number;
  confidence: number;
  metadata: VickyMetadata;
  [field: string]: unknown;
}

export interface VickyChatResponse {
  message: ChatMessage;
  sessionId: string;
  modelUsed: string;
  personality: string;
  tokensUsed: number;
  executionTime: number;
  confidence: number;
  metadata: VickyMetadata;
  [field: string]: unknown;
}

export interface PersonalitiesResponse {
  personalities: { name: string; description: string; systemPrompt: string }[];
  count: number;
  [field: string]: unknown;
}

/**
 * The pieces of a streamed answer (server-sent events). Iterate it once with
 * `for await`; afterwards `response` holds the whole answer. `break` stops the generation.
 */
export declare class TextStream<T> implements AsyncIterable<string> {
  /** The whole answer once the stream is exhausted; null before. */
  response: T | null;
  [Symbol.asyncIterator](): AsyncIterator<string>;
  /** Reads the whole stream; resolves with the text it carried. */
  text(): Promise<string>;
}

// ---------------------------------------------------------------- schedules

export type MissedFires = 'skip' | 'run_latest';

export interface ScheduleTiming {
  /** Five fields, e.g. `'30 2 * * *'`; or give `intervalSeconds`. */
  cron?: string | null;
  /** IANA name for `cron` (default `'UTC'`). */
  timezone?: string;
  intervalSeconds?: number | null;
  /** ISO 8601; a time without a zone is UTC. */
  start?: string | null;
  end?: string | null;
  paused?: boolean;
  missedFires?: MissedFires;
}

export interface ScheduleRequest extends ScheduleTiming, RequestOptions {
  /** What each fire submits: the fields of `submitTask`, without `idempotencyKey`. */
  task: TaskRequest;
}

export interface ScheduleUpdate extends ScheduleTiming, RequestOptions {
  task?: TaskRequest;
}

export interface ScheduleRun {
  fireTime: string;
  taskId: string;
  /** The task's status; `'waiting'` while a rate limit holds the fire, `'expired'` once gone. */
  status: string;
  [field: string]: unknown;
}

export interface ScheduleResponse {
  id: string;
  task: Record<string, unknown>;
  cron: string | null;
  timezone: string;
  intervalSeconds: number | null;
  start: string | null;
  end: string | null;
  paused: boolean;
  missedFires: Open<MissedFires>;
  nextFireTime: string | null;
  nextFireTimes: string[];
  createdAt: string;
  updatedAt: string;
  /** The latest 20, newest first; in `getSchedule`, `createSchedule` and changes. */
  runs?: ScheduleRun[] | null;
  [field: string]: unknown;
}

export interface ScheduleListResponse {
  schedules: ScheduleResponse[];
  /** On this page. */
  count: number;
  total: number;
  limit: number;
  offset: number;
  [field: string]: unknown;
}

export interface ScheduleDeletedResponse {
  id: string;
  deleted: boolean;
  [field: string]: unknown;
}

// ---------------------------------------------------------------- webhooks

export interface WebhookRequest extends RequestOptions {
  url: string;
  events: WebhookEvent[];
  /** 8+ characters; keys the signatures. The service never shows it again. */
  secret: string;
}

export interface WebhookResponse {
  id: string;
  url: string;
  events: Open<WebhookEvent>[];
  owner?: string | null;
  createdAt?: string | null;
  active: boolean;
  [field: string]: unknown;
}

export interface WebhookListResponse {
  webhooks: WebhookResponse[];
  count: number;
  [field: string]: unknown;
}

export interface WebhookDeletedResponse {
  id: string;
  deleted: boolean;
  [field: string]: unknown;
}

export interface NotifySecretResponse {
  principal: string;
  secret: string;
  [field: string]: unknown;
}

export interface DeliveryAttemptResponse {
  deliveryId: string;
  webhookId: string;
  attempt: number;
  event: string;
  subjectId: string;
  statusCode: number | null;
  error: string | null;
  durationS: number;
  timestamp: string;
  outcome: Open<'delivered' | 'retrying' | 'failed'>;
  [field: string]: unknown;
}

export type HeadersLike =
  Headers | Map<string, string> | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Seconds a delivery stays valid. Default 300. */
  toleranceSeconds?: number;
  /** The `X-VokaFlow-Timestamp` value, when `headers` is the signature alone. */
  timestamp?: string | number;
  /** The current time, unix seconds (tests). */
  now?: number;
}

/**
 * Whether `body` (the raw bytes received, before any JSON parsing) was signed by VokaFlow
 * with `secret` less than `toleranceSeconds` ago. `headers` is the request's headers, or
 * the `X-VokaFlow-Signature` value alone with `options.timestamp`.
 */
export declare function verifySignature(
  body: string | Uint8Array | ArrayBuffer,
  headers: HeadersLike | string,
  secret: string,
  options?: VerifyOptions,
): Promise<boolean>;

/** The `X-VokaFlow-Signature` value for `body` sent at `timestamp` (unix seconds). */
export declare function sign(
  body: string | Uint8Array | ArrayBuffer,
  secret: string,
  timestamp: string | number,
): Promise<string>;

export declare const SIGNATURE_HEADER: 'X-VokaFlow-Signature';
export declare const TIMESTAMP_HEADER: 'X-VokaFlow-Timestamp';

// ---------------------------------------------------------------- the client

export declare class VokaFlowClient {
  constructor(options: ClientOptions);
  readonly baseUrl: string;
  timeout: number;
  retryOnRateLimit: boolean;
  maxRateLimitRetries: number;

  /** Submit one task (`POST /api/high-scale-tasks/submit`). */
  submitTask(task: TaskRequest, options?: RequestOptions): Promise<TaskSubmitResponse>;

  /** Submit many tasks (`POST /api/high-scale-tasks/batch`); invalid ones are in `errors`. */
  submitBatch(tasks: TaskRequest[], options?: BatchOptions): Promise<BatchSubmitResponse>;
  submitBatch(request: BatchRequest, options?: RequestOptions): Promise<BatchSubmitResponse>;

  /** `GET /api/high-scale-tasks/status/{taskId}`. */
  getTaskStatus(taskId: string, options?: RequestOptions): Promise<TaskStatusResponse>;

  /**
   * Polls until the task ends (completed, failed, cancelled or timeout) and resolves with
   * that status; a failed task resolves too. Rejects with `TaskWaitTimeout` after
   * `timeout` ms.
   */
  waitForCompletion(taskId: string, options?: WaitOptions): Promise<TaskStatusResponse>;

  /** Cancels a queued or running task; `Conflict` when it has already ended. */
  cancelTask(taskId: string, options?: RequestOptions): Promise<CancelResponse>;

  /** `GET /api/high-scale-tasks/batch/{batchId}`. */
  getBatch(batchId: string, options?: RequestOptions): Promise<BatchStatusResponse>;

  getMetrics(options?: RequestOptions): Promise<MetricsResponse>;
  listFunctions(options?: RequestOptions): Promise<FunctionsResponse>;
  getPriorities(options?: RequestOptions): Promise<PrioritiesResponse>;
  /** `GET /api/health/` (needs no credentials). */
  getHealth(options?: RequestOptions): Promise<HealthResponse>;
  getTaskLogs(taskId: string, options?: TaskLogsOptions): Promise<TaskLogsResponse>;
  getLogs(options?: LogsOptions): Promise<SystemLogsResponse>;

  /** One prompt, one answer (`POST /api/vicky/inference`). */
  vickyInference(text: string, options?: VickyInferenceOptions): Promise<VickyInferenceResponse>;
  vickyInference(
    request: VickyInferenceRequest,
    options?: RequestOptions,
  ): Promise<VickyInferenceResponse>;

  /** A conversation turn (`POST /api/vicky/chat`): a user's text, or a list of messages. */
  vickyChat(
    message: string | ChatMessage[],
    options?: VickyChatOptions,
  ): Promise<VickyChatResponse>;
  vickyChat(request: VickyChatRequest, options?: RequestOptions): Promise<VickyChatResponse>;

  /** `vickyChat`, streamed as the pieces of text; then `stream.response`. */
  vickyChatStream(
    message: string | ChatMessage[],
    options?: VickyChatOptions,
  ): TextStream<VickyChatResponse>;
  vickyChatStream(
    request: VickyChatRequest,
    options?: RequestOptions,
  ): TextStream<VickyChatResponse>;

  /** `vickyInference`, streamed as the pieces of text; then `stream.response`. */
  vickyInferenceStream(
    text: string,
    options?: VickyInferenceOptions,
  ): TextStream<VickyInferenceResponse>;
  vickyInferenceStream(
    request: VickyInferenceRequest,
    options?: RequestOptions,
  ): TextStream<VickyInferenceResponse>;

  listPersonalities(options?: RequestOptions): Promise<PersonalitiesResponse>;

  createSchedule(request: ScheduleRequest): Promise<ScheduleResponse>;
  listSchedules(
    options?: RequestOptions & { limit?: number; offset?: number },
  ): Promise<ScheduleListResponse>;
  getSchedule(scheduleId: string, options?: RequestOptions): Promise<ScheduleResponse>;
  updateSchedule(scheduleId: string, changes: ScheduleUpdate): Promise<ScheduleResponse>;
  pauseSchedule(scheduleId: string, options?: RequestOptions): Promise<ScheduleResponse>;
  resumeSchedule(scheduleId: string, options?: RequestOptions): Promise<ScheduleResponse>;
  deleteSchedule(scheduleId: string, options?: RequestOptions): Promise<ScheduleDeletedResponse>;
  submitWorkflow(request: WorkflowRequest): Promise<WorkflowResponse>;
  getWorkflow(workflowId: string, options?: RequestOptions): Promise<WorkflowResponse>;
  cancelWorkflow(workflowId: string, options?: RequestOptions): Promise<WorkflowResponse>;
  configureWebhook(request: WebhookRequest): Promise<WebhookResponse>;
  listWebhooks(options?: RequestOptions): Promise<WebhookListResponse>;
  deleteWebhook(webhookId: string, options?: RequestOptions): Promise<WebhookDeletedResponse>;
  getNotifySecret(options?: RequestOptions): Promise<NotifySecretResponse>;
  sendWebhookTest(webhookId: string, options?: RequestOptions): Promise<DeliveryAttemptResponse>;
}

// ---------------------------------------------------------------- errors

export interface ErrorOptions {
  statusCode?: number;
  code?: string;
  details?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Every error the SDK throws on purpose. */
export declare class VokaFlowError extends Error {
  constructor(message: string, options?: ErrorOptions);
  /** The HTTP status, or null when there was no answer. */
  statusCode: number | null;
  /** The error body's `error` code: `validation_error`, `not_found`... */
  code: string | null;
  /** The error body's `details`, keys in camelCase (`retryAfter`, `resetTime`...). */
  details: Record<string, unknown>;
  /** The error body as sent (snake_case), or its text when it was not JSON. */
  body: unknown;
  /** The response headers, names in lower case. */
  headers: Record<string, string>;
}

/** 400: the request was refused before anything was stored. */
export declare class ValidationError extends VokaFlowError {
  /** The refused field as the service names it (`function_name`, `tasks[2].priority`). */
  readonly field: string | null;
  readonly error: string | null;
}

/** 401: no valid API key or token. */
export declare class AuthenticationError extends VokaFlowError {}

/** 404: no such task (or batch, webhook or route), or one of another key. */
export declare class TaskNotFound extends VokaFlowError {}
export declare const NotFound: typeof TaskNotFound;
export type NotFound = TaskNotFound;

/** 409: e.g. cancelling a task that has already ended. */
export declare class Conflict extends VokaFlowError {}

/** 413: the request body is over the service's limit. */
export declare class PayloadTooLarge extends VokaFlowError {}

/** 429: a category's rate limit (or the failed-authentication limit) was hit. */
export declare class RateLimitExceeded extends VokaFlowError {
  /** Seconds to wait (`details.retry_after`, else the `Retry-After` header). */
  readonly retryAfter: number | null;
  readonly limit: number | null;
  readonly current: number | null;
  readonly resetTime: string | null;
}

/** 500 (or another 5xx than 503). */
export declare class ServerError extends VokaFlowError {
  /** Quote it when asking about the failure. */
  readonly errorId: string | null;
}

/** 503: a component is down (`redis`, `scheduler`, `vicky:<model>`...). */
export declare class ServiceUnavailable extends VokaFlowError {
  readonly component: string | null;
}

/** The request got no answer: connection refused, DNS failure, timeout. */
export declare class VokaFlowConnectionError extends VokaFlowError {}

/** The service reported an error in the middle of a stream. */
export declare class StreamError extends VokaFlowError {}

/** `waitForCompletion` gave up: the task had not ended within its timeout. */
export declare class TaskWaitTimeout extends VokaFlowError {
  constructor(
    message: string,
    info: { taskId: string; lastStatus: string | null; timeout: number },
  );
  readonly taskId: string;
  readonly lastStatus: string | null;
  /** Milliseconds. */
  readonly timeout: number;
}

// ---------------------------------------------------------------- key mapping

/** Which wire fields hold user data (`verbatim`) or data-keyed maps (`keyed`). */
export interface Rules {
  verbatim: ReadonlySet<string>;
  keyed: ReadonlySet<string>;
}
export declare const TASK_RULES: Rules;
export declare const VICKY_RULES: Rules;
export declare function toSnake(key: string): string;
export declare function toCamel(key: string): string;
/** camelCase object -> snake_case wire body (user data untouched). */
export declare function toWire<T = unknown>(value: unknown, rules?: Rules): T;
/** snake_case wire body (e.g. a webhook's `data`) -> camelCase (user data untouched). */
export declare function fromWire<T = unknown>(value: unknown, rules?: Rules): T;
