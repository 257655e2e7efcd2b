"""The token bucket's contract over the in-memory twin with a fake clock.

tests/integration/test_rate_limit_contract.py runs the shared contract on the Redis Lua."""

from __future__ import annotations

from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.store.rate_limits import InMemoryRateLimiter


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _limiter(clock: FakeClock) -> InMemoryRateLimiter:
    return InMemoryRateLimiter({"ml": RateLimit(limit_per_second=10, burst=20)}, clock)


async def test_a_full_bucket_admits_exactly_its_burst_then_refuses():
    clock = FakeClock()
    limiter = _limiter(clock)
    granted = [(await limiter.take("ml", 1, partial=False, owner="ann")).granted for _ in range(25)]
    assert sum(granted) == 20 and granted[-5:] == [0] * 5


async def test_tokens_refill_at_the_limit_per_second():
    clock = FakeClock()
    limiter = _limiter(clock)
    assert (await limiter.take("ml", 20, partial=False, owner="ann")).granted == 20
    clock.now += 0.5
    assert (await limiter.take("ml", 10, partial=True, owner="ann")).granted == 5


async def test_a_refusal_says_when_to_retry_and_when_the_bucket_is_full():
    clock = FakeClock()
    limiter = _limiter(clock)
    await limiter.take("ml", 20, partial=False, owner="ann")
    refused = await limiter.take("ml", 1, partial=False, owner="ann")
    assert refused.refused == 1
    assert refused.retry_after_s == 1
    assert refused.reset_at_s == clock.now + 2.0
    assert refused.current == 21


async def test_a_batch_takes_what_there_is_and_lists_the_rest_as_refused():
    clock = FakeClock()
    limiter = _limiter(clock)
    decision = await limiter.take("ml", 30, partial=True, owner="ann")
    assert (decision.granted, decision.refused) == (20, 10)
    assert decision.retry_after_s == 1


async def test_all_or_nothing_takes_nothing_when_short():
    clock = FakeClock()
    limiter = _limiter(clock)
    assert (await limiter.take("ml", 21, partial=False, owner="ann")).granted == 0
    assert (await limiter.take("ml", 20, partial=False, owner="ann")).granted == 20


async def test_usage_counts_admissions_over_the_last_minute():
    clock = FakeClock()
    limiter = _limiter(clock)
    await limiter.take("ml", 15, partial=True, owner="ann")
    clock.now += 30
    await limiter.take("ml", 5, partial=True, owner="ann")
    assert await limiter.usage("ml") == 20
    clock.now += 45
    assert await limiter.usage("ml") == 5
