// camelCase on the JavaScript side, snake_case on the wire: one recursive key mapper.
//
// Only the API's own field names are converted. User data travels untouched, keys and
// all: the values of the "verbatim" fields (a task's args, kwargs, metadata, result and
// progress; Vicky's context) are copied as they are, at any depth. The "keyed" fields are
// maps whose keys are data (category, pool, node or priority names): their keys are kept,
// their values are API objects and are converted.

/** `taskId` -> `task_id`; a key that is already snake_case is left as it is. */
export function toSnake(key) {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** `task_id` -> `taskId`; `CPU_INTENSIVE` and `node_0`-style data keys never get here. */
export function toCamel(key) {
  return key.replace(/_([a-z0-9])/g, (_, next) => next.toUpperCase());
}

/**
 * Which fields hold user data (`verbatim`) or data-keyed maps (`keyed`), by wire name.
 * @typedef {{ verbatim: ReadonlySet<string>, keyed: ReadonlySet<string> }} Rules
 */

/** @type {Rules} Tasks, batches, catalog, metrics, logs and webhooks. */
export const TASK_RULES = Object.freeze({
  verbatim: new Set(['args', 'kwargs', 'metadata', 'result', 'progress', 'context']),
  keyed: new Set(['functions', 'priorities', 'worker_pools', 'rate_limits', 'redis_cluster']),
});

/** @type {Rules} Vicky: `metadata` is the API's own ({ model_version, processing_node }). */
export const VICKY_RULES = Object.freeze({
  verbatim: new Set(['context']),
  keyed: new Set(),
});

/** @type {Rules} Nothing is user data (error details). */
export const NO_RULES = Object.freeze({ verbatim: new Set(), keyed: new Set() });

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The recursive mapper: `convert` renames the keys of API objects (arrays are walked,
 * `undefined` fields are dropped), following `rules` for user data and data-keyed maps.
 * @param {unknown} value
 * @param {(key: string) => string} convert
 * @param {Rules} rules
 */
export function mapKeys(value, convert, rules = TASK_RULES) {
  if (Array.isArray(value)) return value.map((item) => mapKeys(item, convert, rules));
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    const wire = toSnake(key);
    const name = convert(key);
    if (rules.verbatim.has(wire)) {
      out[name] = item;
    } else if (rules.keyed.has(wire) && isPlainObject(item)) {
      const map = {};
      for (const [dataKey, entry] of Object.entries(item)) {
        map[dataKey] = mapKeys(entry, convert, rules);
      }
      out[name] = map;
    } else {
      out[name] = mapKeys(item, convert, rules);
    }
  }
  return out;
}

/** A request body: camelCase in, snake_case out (user data untouched). */
export const toWire = (value, rules = TASK_RULES) => mapKeys(value, toSnake, rules);

/** A response body: snake_case in, camelCase out (user data untouched). */
export const fromWire = (value, rules = TASK_RULES) => mapKeys(value, toCamel, rules);
