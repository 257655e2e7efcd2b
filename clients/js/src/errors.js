// Typed errors, mapped from the API's error bodies (as the Python SDK's vokaflow_sdk.errors).
//
// VokaFlowError                  any error the SDK throws on purpose
// ├── ValidationError            400 validation_error   .field, .error
// ├── AuthenticationError        401 unauthorized
// ├── TaskNotFound (NotFound)    404 not_found (a task, batch, webhook or route)
// ├── Conflict                   409 conflict (e.g. cancelling a finished task)
// ├── PayloadTooLarge            413 payload_too_large
// ├── RateLimitExceeded          429 rate_limit_exceeded .retryAfter .limit .current .resetTime
// ├── ServerError                500 (and other 5xx) .errorId
// ├── ServiceUnavailable         503 service_unavailable .component
// ├── VokaFlowConnectionError    the request got no answer (network failure, timeout)
// ├── StreamError                an `event: error` in a server-sent event stream
// └── TaskWaitTimeout            waitForCompletion ran out of time .taskId .lastStatus

import { NO_RULES, fromWire } from './case.js';

export class VokaFlowError extends Error {
  /**
   * @param {string} message
   * @param {{ statusCode?: number, code?: string, details?: object, body?: unknown,
   *           headers?: Record<string, string>, cause?: unknown }} [options]
   */
  constructor(message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = options.statusCode ?? null;
    this.code = options.code ?? null;
    /** The error body's `details`, with camelCase keys (`retryAfter`, `resetTime`...). */
    this.details = options.details ?? {};
    /** The error body as the service sent it (snake_case), or its text when not JSON. */
    this.body = options.body ?? null;
    /** The response headers, names in lower case. */
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends VokaFlowError {
  /** The refused field, as the service names it (`function_name`, `tasks[2].priority`). */
  get field() {
    return optionalString(this.details.field);
  }

  /** Why it was refused. */
  get error() {
    return optionalString(this.details.error);
  }
}

export class AuthenticationError extends VokaFlowError {}

export class TaskNotFound extends VokaFlowError {}

export const NotFound = TaskNotFound;

export class Conflict extends VokaFlowError {}

export class PayloadTooLarge extends VokaFlowError {}

export class RateLimitExceeded extends VokaFlowError {
  /** Seconds to wait: `details.retry_after`, else the `Retry-After` header. */
  get retryAfter() {
    const fromBody = number(this.details.retryAfter);
    return fromBody ?? retryAfterHeader(this.headers);
  }

  get limit() {
    return integer(this.details.limit);
  }

  get current() {
    return integer(this.details.current);
  }

  get resetTime() {
    return optionalString(this.details.resetTime);
  }
}

export class ServerError extends VokaFlowError {
  /** Quote it when asking about the failure. */
  get errorId() {
    const body = this.body !== null && typeof this.body === 'object' ? this.body : {};
    return optionalString(body.error_id);
  }
}

export class ServiceUnavailable extends VokaFlowError {
  /** What is down: `redis`, `scheduler`, `vicky:<model>`... */
  get component() {
    return optionalString(this.details.component);
  }
}

export class VokaFlowConnectionError extends VokaFlowError {}

export class StreamError extends VokaFlowError {}

export class TaskWaitTimeout extends VokaFlowError {
  /**
   * @param {string} message
   * @param {{ taskId: string, lastStatus: string | null, timeout: number }} info
   */
  constructor(message, { taskId, lastStatus, timeout }) {
    super(message, { code: 'wait_timeout' });
    this.taskId = taskId;
    this.lastStatus = lastStatus;
    this.timeout = timeout;
  }
}

// Names set on the prototypes, so that they survive minifiers that rename classes.
for (const [name, ErrorClass] of Object.entries({
  VokaFlowError,
  ValidationError,
  AuthenticationError,
  TaskNotFound,
  Conflict,
  PayloadTooLarge,
  RateLimitExceeded,
  ServerError,
  ServiceUnavailable,
  VokaFlowConnectionError,
  StreamError,
  TaskWaitTimeout,
})) {
  Object.defineProperty(ErrorClass.prototype, 'name', {
    value: name,
    writable: true,
    configurable: true,
  });
}

const BY_STATUS = new Map([
  [400, ValidationError],
  [401, AuthenticationError],
  [404, TaskNotFound],
  [409, Conflict],
  [413, PayloadTooLarge],
  [429, RateLimitExceeded],
  [503, ServiceUnavailable],
]);

/** The error class for an HTTP status. */
export function errorClass(statusCode) {
  return BY_STATUS.get(statusCode) ?? (statusCode >= 500 ? ServerError : VokaFlowError);
}

/**
 * The typed error for an HTTP error answer. A body that is not the API's JSON error body
 * (a proxy's HTML page, say) becomes the message.
 * @param {number} statusCode
 * @param {Record<string, string>} headers lower-case names
 * @param {string} text the raw body
 */
export function errorFromResponse(statusCode, headers, text) {
  const body = parseJson(text);
  let message;
  let code = null;
  let details = {};
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    message = String(body.message || body.error || `HTTP ${statusCode}`);
    code = optionalString(body.error);
    const raw = body.details;
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      details = fromWire(raw, NO_RULES);
    }
  } else {
    message = text.trim().slice(0, 500) || `HTTP ${statusCode}`;
  }
  const ErrorClass = errorClass(statusCode);
  return new ErrorClass(message, {
    statusCode,
    code,
    details,
    body: body ?? (text || null),
    headers,
  });
}

/** `Retry-After` as seconds: a number, or an HTTP date from now. */
export function retryAfterHeader(headers) {
  const raw = headers?.['retry-after'];
  if (raw === undefined || raw === null) return null;
  const seconds = number(String(raw).trim());
  if (seconds !== null) return seconds;
  const when = Date.parse(raw);
  if (Number.isNaN(when)) return null;
  return Math.max(0, (when - Date.now()) / 1000);
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function number(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

function integer(value) {
  const parsed = number(value);
  return parsed === null ? null : Math.trunc(parsed);
}

function optionalString(value) {
  return value === undefined || value === null ? null : String(value);
}
