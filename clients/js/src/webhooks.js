// Checking that a webhook delivery came from VokaFlow (as the Python SDK's
// vokaflow_sdk.webhooks).
//
// Each delivery carries `X-VokaFlow-Timestamp: <unix seconds>` and
// `X-VokaFlow-Signature: sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.` followed by the
// raw body, keyed with the webhook's secret. Check it over the exact bytes received (before
// any JSON parsing), and refuse old deliveries so that a captured one cannot be replayed.
// Web Crypto does the hashing: asynchronous, and the same in Node.js and browsers.

export const SIGNATURE_HEADER = 'X-VokaFlow-Signature';
export const TIMESTAMP_HEADER = 'X-VokaFlow-Timestamp';
const SCHEME = 'sha256=';
const DEFAULT_TOLERANCE_S = 300;

async function subtle() {
  if (globalThis.crypto?.subtle) return globalThis.crypto.subtle;
  const { webcrypto } = await import('node:crypto'); // Node.js 18 has no global crypto
  return webcrypto.subtle;
}

function bytesOf(body) {
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body))
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('body must be the raw bytes (Uint8Array, Buffer, ArrayBuffer) or a string');
}

/** The `X-VokaFlow-Signature` value for `body` sent at `timestamp` (unix seconds). */
export async function sign(body, secret, timestamp) {
  const crypto = await subtle();
  const key = await crypto.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const prefix = new TextEncoder().encode(`${timestamp}.`);
  const raw = bytesOf(body);
  const message = new Uint8Array(prefix.length + raw.length);
  message.set(prefix);
  message.set(raw, prefix.length);
  const digest = new Uint8Array(await crypto.sign('HMAC', key, message));
  return SCHEME + Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Whether `body` was signed by VokaFlow with `secret` less than `toleranceSeconds` ago.
 * `headers` is the request's headers (a `Headers`, a `Map` or a plain object, names in any
 * letter case), or the `X-VokaFlow-Signature` value alone with `timestamp` given.
 */
export async function verifySignature(body, headers, secret, options = {}) {
  const { toleranceSeconds = DEFAULT_TOLERANCE_S, now } = options;
  let signature;
  let stamp = options.timestamp;
  if (typeof headers === 'string') {
    signature = headers;
  } else {
    signature = header(headers, SIGNATURE_HEADER);
    stamp = stamp ?? header(headers, TIMESTAMP_HEADER);
  }
  if (!signature || stamp === undefined || stamp === null) return false;
  stamp = String(stamp).trim();
  if (!/^[0-9]+$/.test(stamp)) return false;
  const current = now ?? Date.now() / 1000;
  if (Math.abs(current - Number(stamp)) > toleranceSeconds) return false;
  const expected = await sign(body, secret, stamp);
  return constantTimeEqual(expected, String(signature).trim());
}

function header(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === 'function')
    return headers.get(name) ?? headers.get(name.toLowerCase()) ?? undefined;
  const lowered = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === lowered) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
