import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';

import { fromWire, sign, verifySignature } from '../src/index.js';

const SECRET = 'sdk-webhook-secret';
const BODY = '{"event":"task.completed","data":{"task_id":"t","result":{"some_key":1}}}';
const NOW = 1_750_000_000;

describe('webhook signatures', () => {
  it('signs as the service does: HMAC-SHA256 of "<timestamp>." and the raw body', async () => {
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex')}`;
    assert.equal(await sign(BODY, SECRET, NOW), expected);
    assert.equal(await sign(Buffer.from(BODY), SECRET, String(NOW)), expected);
  });

  it('accepts a fresh, correctly signed delivery given its headers in any form', async () => {
    const signature = await sign(BODY, SECRET, NOW);
    const plain = { 'x-vokaflow-signature': signature, 'X-VokaFlow-Timestamp': String(NOW) };
    assert.equal(await verifySignature(BODY, plain, SECRET, { now: NOW + 10 }), true);
    assert.equal(
      await verifySignature(new TextEncoder().encode(BODY), new Headers(plain), SECRET, {
        now: NOW,
      }),
      true,
    );
    assert.equal(
      await verifySignature(BODY, signature, SECRET, { timestamp: NOW, now: NOW }),
      true,
    );
  });

  it('refuses another secret, a changed body, an old delivery and missing headers', async () => {
    const signature = await sign(BODY, SECRET, NOW);
    const headers = { 'X-VokaFlow-Signature': signature, 'X-VokaFlow-Timestamp': String(NOW) };
    assert.equal(await verifySignature(BODY, headers, 'not-the-secret', { now: NOW }), false);
    assert.equal(await verifySignature(`${BODY} `, headers, SECRET, { now: NOW }), false);
    assert.equal(await verifySignature(BODY, headers, SECRET, { now: NOW + 301 }), false);
    assert.equal(
      await verifySignature(BODY, headers, SECRET, { now: NOW + 301, toleranceSeconds: 400 }),
      true,
    );
    assert.equal(
      await verifySignature(BODY, { 'X-VokaFlow-Signature': signature }, SECRET, { now: NOW }),
      false,
    );
    assert.equal(
      await verifySignature(BODY, signature, SECRET, { timestamp: '12a', now: NOW }),
      false,
    );
  });

  it("reads a delivery's data with fromWire, leaving the result as it is", () => {
    const payload = fromWire(JSON.parse(BODY));
    assert.deepEqual(payload, {
      event: 'task.completed',
      data: { taskId: 't', result: { some_key: 1 } },
    });
  });
});
