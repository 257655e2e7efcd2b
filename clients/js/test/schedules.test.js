import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { VokaFlowClient } from '../src/index.js';
import { BASE, fakeFetch, json } from './helpers.js';

const client = (fetch) => new VokaFlowClient({ baseUrl: BASE, apiKey: 'k', fetch });

const SCHEDULE = {
  id: 'sch_1',
  task: { name: 'ping', function_name: 'noop', kwargs: { camelArg: 1 } },
  cron: '30 2 * * *',
  timezone: 'Europe/Madrid',
  interval_seconds: null,
  missed_fires: 'skip',
  next_fire_time: '2026-10-25T00:30:00.000Z',
  next_fire_times: ['2026-10-25T00:30:00.000Z'],
  runs: [{ fire_time: '2026-10-24T00:30:00.000Z', task_id: 't1', status: 'completed' }],
};

describe('schedules', () => {
  it('creates a schedule as snake_case, the task data untouched', async () => {
    const fetch = fakeFetch(() => json(SCHEDULE, 201));
    const made = await client(fetch).createSchedule({
      task: { name: 'ping', functionName: 'noop', kwargs: { camelArg: 1 }, retryCount: 2 },
      cron: '30 2 * * *',
      timezone: 'Europe/Madrid',
      missedFires: 'run_latest',
    });
    const [call] = fetch.calls;
    assert.equal(call.method, 'POST');
    assert.equal(call.path, '/api/schedules');
    assert.deepEqual(call.body, {
      task: { name: 'ping', function_name: 'noop', kwargs: { camelArg: 1 }, retry_count: 2 },
      cron: '30 2 * * *',
      timezone: 'Europe/Madrid',
      missed_fires: 'run_latest',
    });
    assert.equal(made.nextFireTime, '2026-10-25T00:30:00.000Z');
    assert.equal(made.runs[0].taskId, 't1');
    assert.deepEqual(made.task.kwargs, { camelArg: 1 });
  });

  it('reads, changes, pauses, resumes and deletes by id', async () => {
    const fetch = fakeFetch(() => json(SCHEDULE));
    const api = client(fetch);
    await api.listSchedules();
    await api.listSchedules({ limit: 10, offset: 20 });
    await api.getSchedule('sch/1');
    await api.updateSchedule('sch_1', { intervalSeconds: 60, start: null });
    await api.pauseSchedule('sch_1');
    await api.resumeSchedule('sch_1');
    await api.deleteSchedule('sch_1');
    assert.deepEqual(
      fetch.calls.map((c) => `${c.method} ${c.path}`),
      [
        'GET /api/schedules',
        'GET /api/schedules',
        'GET /api/schedules/sch%2F1',
        'PATCH /api/schedules/sch_1',
        'POST /api/schedules/sch_1/pause',
        'POST /api/schedules/sch_1/resume',
        'DELETE /api/schedules/sch_1',
      ],
    );
    assert.deepEqual(fetch.calls[0].query, {});
    assert.deepEqual(fetch.calls[1].query, { limit: '10', offset: '20' });
    assert.deepEqual(fetch.calls[3].body, { interval_seconds: 60, start: null });
  });
});
