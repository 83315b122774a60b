"""covet.resilience: retry, CircuitBreaker and timeout, sync and async, with their metrics."""
import asyncio
import random

import pytest

from covet.resilience import (CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError, Retry, TimeoutExpired, retry,
                              timeout)


def run(coro):
    return asyncio.run(coro)


class Flaky:
    """Fails ``failures`` times with ``error``, then returns ``value``; counts its calls."""

    def __init__(self, failures, error=ConnectionError("down"), value="ok"):
        self.failures, self.error, self.value, self.calls = failures, error, value, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.value

    async def async_call(self, *args):
        return self(*args)


class FakeMetrics:
    """The MetricsManager shape: counter/gauge(name, doc, labelnames) -> .labels(**kw).inc()/.set()."""

    def __init__(self):
        self.values = {}

    def _metric(self, name):
        values = self.values

        class Child:
            def __init__(self, key):
                self.key = key

            def inc(self, amount=1):
                values[self.key] = values.get(self.key, 0) + amount

            def set(self, value):
                values[self.key] = value

        class Metric:
            def labels(self, **labels):
                return Child((name,) + tuple(sorted(labels.items())))
        return Metric()

    def counter(self, name, documentation="", labelnames=()):
        return self._metric(name)

    gauge = counter


# -- retry ---------------------------------------------------------------------------------------

def test_retry_calls_again_until_success_and_counts():
    fn = Flaky(2)
    metrics = FakeMetrics()
    assert retry(attempts=3, backoff=0, name="rates", metrics=metrics)(fn)() == "ok"
    assert fn.calls == 3
    assert metrics.values == {("retry_attempts_total", ("operation", "rates")): 3,
                              ("retry_success_after_failure_total", ("operation", "rates")): 1}


def test_retry_gives_up_with_the_last_error_and_only_retries_what_it_is_told():
    fn = Flaky(5, ConnectionError("still down"))
    metrics = FakeMetrics()
    with pytest.raises(ConnectionError, match="still down"):
        retry(attempts=3, backoff=0, on=(ConnectionError,), name="x", metrics=metrics)(fn)()
    assert fn.calls == 3
    assert metrics.values[("retry_exhausted_total", ("operation", "x"))] == 1
    other = Flaky(5, ValueError("a bug, not a blip"))
    with pytest.raises(ValueError):
        retry(attempts=3, backoff=0, on=(ConnectionError,))(other)()
    assert other.calls == 1  # not retried
    opened = Flaky(5, CircuitOpenError("svc", 3.0))
    with pytest.raises(CircuitOpenError):
        retry(attempts=3, backoff=0)(opened)()
    assert opened.calls == 1  # an open circuit is not waited on


def test_retry_async_and_cancellation_is_never_retried():
    fn = Flaky(1)

    @retry(attempts=2, backoff=0)
    async def call():
        return await fn.async_call()

    assert run(call()) == "ok" and fn.calls == 2

    calls = []

    @retry(attempts=5, backoff=0, on=(BaseException,))
    async def cancelled():
        calls.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        run(cancelled())
    assert calls == [1]  # BaseException is outside retry's reach: only Exceptions are retried


def test_backoff_doubles_up_to_the_cap_and_jitter_stays_below_it():
    policy = Retry(attempts=6, backoff=0.5, max_backoff=3.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = Retry(backoff=0.5, max_backoff=3.0, jitter=True, rng=random.Random(4))
    draws = [jittered.delay(3) for _ in range(200)]
    assert all(0 <= d <= 2.0 for d in draws) and len(set(draws)) > 150


@pytest.mark.parametrize("kwargs, message", [
    ({"attempts": 0}, "attempts must be a whole number of at least 1, not 0"),
    ({"attempts": 2.5}, "attempts must be a whole number of at least 1, not 2.5"),
    ({"backoff": -1}, "backoff and max_backoff are seconds, 0 or more"),
])
def test_retry_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError) as info:
        retry(**kwargs)
    assert str(info.value) == message


# -- the circuit breaker ---------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_breaker_opens_after_the_threshold_fails_fast_then_half_opens_and_closes():
    clock = Clock()
    metrics = FakeMetrics()
    changes = []
    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=10, name="pay", metrics=metrics, clock=clock)
    breaker.on_state_change(lambda old, new: changes.append((old, new)))
    failing = Flaky(100)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(failing)
    assert breaker.state == CLOSED
    assert breaker.call(lambda: "fine") == "fine"  # a success resets the count
    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(failing)
    assert breaker.state == OPEN and failing.calls == 5
    clock.now += 4
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(failing)
    assert failing.calls == 5 and info.value.retry_after == 6.0
    assert str(info.value) == "circuit 'pay' is open: calls fail at once for 6.0 s more (the service failed repeatedly)"
    clock.now += 6
    assert breaker.state == HALF_OPEN
    with pytest.raises(ConnectionError):  # the trial fails: open again, for a full timeout
        breaker.call(failing)
    assert breaker.state == OPEN and failing.calls == 6
    clock.now += 10
    assert breaker.call(lambda: "back") == "back"
    assert breaker.state == CLOSED
    assert changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert breaker.failures_total == 6 and breaker.state_changes_total == 5
    assert metrics.values[("circuit_breaker_state", ("name", "pay"))] == 0
    assert metrics.values[("circuit_breaker_failures_total", ("name", "pay"))] == 6
    assert metrics.values[("circuit_breaker_state_changes_total",
                           ("from_state", "closed"), ("name", "pay"), ("to_state", "open"))] == 1


def test_half_open_lets_only_its_trials_through_at_once():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=5, half_open_max_calls=2, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(Flaky(1))
    clock.now += 5

    async def main():
        release = asyncio.Event()
        started = []

        async def slow():
            started.append(1)
            await release.wait()
            return "ok"

        trials = [asyncio.ensure_future(breaker.call_async(slow)) for _ in range(2)]
        while len(started) < 2:
            await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):  # a third caller while two trials run
            await breaker.call_async(slow)
        release.set()
        assert await asyncio.gather(*trials) == ["ok", "ok"]
        assert breaker.state == CLOSED
    run(main())


def test_unexpected_errors_do_not_count_and_the_decorator_keeps_the_function():
    breaker = CircuitBreaker(failure_threshold=1, expected_exceptions=(ConnectionError,))

    @breaker
    def parse(text):
        """Parse it."""
        return int(text)

    with pytest.raises(ValueError):
        parse("x")  # the caller's own mistake: not the service failing
    assert breaker.state == CLOSED and parse.__doc__ == "Parse it." and parse("7") == 7
    breaker2 = CircuitBreaker(failure_threshold=1)
    with pytest.raises(ConnectionError):
        breaker2.call(Flaky(1))
    breaker2.reset()
    assert breaker2.state == CLOSED
    for kwargs in ({"failure_threshold": 0}, {"half_open_max_calls": 0}, {"recovery_timeout": -1}):
        with pytest.raises(ValueError):
            CircuitBreaker(**kwargs)


# -- timeout ---------------------------------------------------------------------------------

def test_timeout_cancels_the_block_and_raises_a_timeout_error():
    async def main():
        with pytest.raises(TimeoutExpired, match="timed out after 0.05 s") as info:
            async with timeout(0.05):
                await asyncio.Event().wait()
        assert isinstance(info.value, TimeoutError) and isinstance(info.value, asyncio.TimeoutError)
        async with timeout(5) as t:
            await asyncio.sleep(0)
        assert not t.expired
        async with timeout(None):
            await asyncio.sleep(0)

        @timeout(0.05)
        async def stuck():
            await asyncio.Event().wait()

        with pytest.raises(TimeoutError):
            await stuck()
    run(main())


def test_a_cancellation_from_outside_stays_a_cancellation():
    async def main():
        inside = asyncio.Event()

        async def guarded():
            async with timeout(30):
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.ensure_future(guarded())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run(main())


def test_timeout_refuses_what_it_cannot_do():
    with pytest.raises(ValueError):
        timeout(-1)
    with pytest.raises(TypeError, match="bounds async functions"):
        timeout(1)(lambda: None)


def test_the_metrics_reach_covets_prometheus_exposition():
    from covet.monitoring import MetricsManager, Registry
    from covet.monitoring.backends import PrometheusBackend

    metrics = MetricsManager(PrometheusBackend(Registry()))
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=5, name="search", metrics=metrics, clock=clock)
    with pytest.raises(CircuitOpenError):  # the first failure opened it: the retry meets it open
        retry(attempts=3, backoff=0, name="search", metrics=metrics)(breaker(Flaky(5)))()
    body, content_type = metrics.render()
    lines = set(body.decode().splitlines())
    assert content_type.startswith("text/plain; version=0.0.4")
    assert {'circuit_breaker_state{name="search"} 2.0', 'circuit_breaker_failures_total{name="search"} 1.0',
            'circuit_breaker_state_changes_total{name="search",from_state="closed",to_state="open"} 1.0',
            'retry_attempts_total{operation="search"} 2.0'} <= lines
    # given up on an open circuit: neither exhausted nor a success after failure
    assert not any(line.startswith(("retry_exhausted_total{", "retry_success_after_failure_total{")) for line in lines)
