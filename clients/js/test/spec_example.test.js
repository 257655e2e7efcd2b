// The API reference's JavaScript example (examples/spec_example.mjs), run as it is against a
// live service, and checked to be the published code but for baseUrl and apiKey.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { liveService } from './helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = join(HERE, '..', 'examples', 'spec_example.mjs');
// <repository>/clients/js/test -> <repository>/docs/API_REFERENCE.md
const SPEC =
  process.env.VOKAFLOW_API_REFERENCE ??
  join(HERE, '..', '..', '..', 'docs', 'API_REFERENCE.md');
const live = liveService();

describe("the API reference's JavaScript SDK example", () => {
  it(
    'is the published code but for baseUrl and apiKey',
    () => {
      const section = readFileSync(SPEC, 'utf8').split('### JavaScript SDK')[1];
      const published = /```javascript\n([\s\S]*?)```/.exec(section)[1].split('\n');
      const copied = readFileSync(EXAMPLE, 'utf8').split('verbatim from the spec\n')[1].split('\n');
      assert.equal(copied.length, published.length);
      const changed = published.map((line, i) => [line, copied[i]]).filter(([a, b]) => a !== b);
      assert.deepEqual(changed, [
        ["    baseUrl: 'https://api.vokaflow.com',", '    baseUrl: process.env.VOKAFLOW_URL,'],
        ["    apiKey: 'your_api_key_here'", '    apiKey: process.env.VOKAFLOW_API_KEY'],
      ]);
    },
  );

  it(
    'runs unchanged against the live service and prints the task id and its end',
    { skip: live.skip, timeout: 330_000 },
    async () => {
      const env = { ...process.env, VOKAFLOW_URL: live.baseUrl, VOKAFLOW_API_KEY: live.apiKey };
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [EXAMPLE], {
        env,
        timeout: 320_000,
      });
      assert.equal(stderr, '');
      const lines = stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2, stdout);
      assert.match(lines[0], /^Task ID: [0-9a-f-]{36}$/);
      // qwen_7b is not deployed everywhere: the task may fail, and waitForCompletion still
      // resolves with its final status (a failed task has no result).
      assert.match(lines[1], /^Task completed: /);
    },
  );
});
