"""covet.security.rate_limiting without an app: limit strings, the pure algorithms on a fake clock, the
limiter's constructor forms and bad input, bounded memory, clear(), and exact counts under concurrency.
The Redis backend is in test_rate_limiting_redis.py, the middleware and decorator in test_rate_limiting_http.py."""
import asyncio
import logging
import threading

import pytest

from covet.security.rate_limiting import (
    ALGORITHMS,
    DEFAULT_MAX_KEYS,
    LOGGER_NAME,
    Limit,
    LimiterBackend,
    MemoryLimiterBackend,
    Policy,
    RateLimiter,
    RateLimitResult,
    RedisLimiterBackend,
    client_ip,
    gcra,
    parse_limits,
    sliding_window,
)

SECOND = 1_000_000_000


class Clock:
    def __init__(self):
        self.now = 10_000 * SECOND

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += int(round(seconds * SECOND))


def limiter(default="100/minute", strategy="gcra", max_keys=DEFAULT_MAX_KEYS):
    clock = Clock()
    return RateLimiter(default, backend=MemoryLimiterBackend(max_keys, clock=clock), strategy=strategy), clock


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- limit strings

@pytest.mark.parametrize("spec, texts, amounts, periods", [
    ("10/second", ["10/second"], [10], [1]),
    ("100/minute", ["100/minute"], [100], [60]),
    ("1000/hour", ["1000/hour"], [1000], [3600]),
    ("5/10 seconds", ["5/10 seconds"], [5], [10]),
    ("7/day", ["7/day"], [7], [86400]),
    (" 3 / 2 minutes ", ["3/2 minutes"], [3], [120]),
    ("10/s;100/MIN; 1000/h", ["10/second", "100/minute", "1000/hour"], [10, 100, 1000], [1, 60, 3600]),
    ("20 per minute", ["20/minute"], [20], [60]),
    ("1/1 second", ["1/second"], [1], [1]),
])
def test_limit_strings(spec, texts, amounts, periods):
    limits = parse_limits(spec)
    assert [str(l) for l in limits] == texts
    assert [l.amount for l in limits] == amounts
    assert [l.period for l in limits] == periods


@pytest.mark.parametrize("spec, message", [
    ("", "invalid rate limit '': it is empty"),
    ("  ", "invalid rate limit '  ': it is empty"),
    ("abc", "invalid rate limit 'abc': expected '<count>/<period>' such as '10/second', '100/minute' or "
            "'5/10 seconds'"),
    ("10/fortnight", "invalid rate limit '10/fortnight': unknown unit 'fortnight' (use second, minute, hour or day)"),
    ("0/minute", "invalid rate limit '0/minute': counts must be at least 1"),
    ("5/0 seconds", "invalid rate limit '5/0 seconds': counts must be at least 1"),
    ("-1/minute", "invalid rate limit '-1/minute': expected '<count>/<period>' such as '10/second', "
                  "'100/minute' or '5/10 seconds'"),
    ("1.5/minute", "invalid rate limit '1.5/minute': expected '<count>/<period>' such as '10/second', "
                   "'100/minute' or '5/10 seconds'"),
    ("\u0661\u0660/minute", "invalid rate limit '\u0661\u0660/minute': expected '<count>/<period>' such as "
                            "'10/second', '100/minute' or '5/10 seconds'"),
    ("10000000000/second", "invalid rate limit '10000000000/second': expected '<count>/<period>' such as "
                           "'10/second', '100/minute' or '5/10 seconds'"),
    ("2000000/second", "invalid rate limit '2000000/second': more than 1000000 per second cannot be counted"),
    ("10/second;", "invalid rate limit '' in '10/second;': expected '<count>/<period>' such as '10/second', "
                   "'100/minute' or '5/10 seconds'"),
    ("10/second;5/yr", "invalid rate limit '5/yr' in '10/second;5/yr': unknown unit 'yr' (use second, minute, "
                       "hour or day)"),
])
def test_bad_limit_strings_name_the_string(spec, message):
    with pytest.raises(ValueError) as e:
        parse_limits(spec)
    assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        RateLimiter(spec)
    assert str(e.value) == message


def test_limit_objects_and_lists():
    a, = parse_limits("10/second")
    assert parse_limits(a) == (a,)
    assert parse_limits([a, "5/minute"]) == (Limit(10, 1, "10/second"), Limit(5, 60, "5/minute"))
    assert repr(a) == "Limit('10/second')" and hash(a) == hash(Limit(10, 1, "x"))
    with pytest.raises(TypeError, match="^a rate limit must be a str like '100/minute', got 5$"):
        parse_limits(5)
    with pytest.raises(ValueError, match=r"^invalid rate limit \[\]: it is empty$"):
        parse_limits([])


def test_bad_limiter_settings():
    with pytest.raises(ValueError, match="^strategy must be 'gcra' or 'sliding-window', got 'leaky'$"):
        RateLimiter(strategy="leaky")
    with pytest.raises(TypeError, match="^key must be a callable taking the request, got 'ip'$"):
        RateLimiter(key="ip")
    with pytest.raises(ValueError, match="^max_keys must be a positive integer, got 0$"):
        MemoryLimiterBackend(0)
    with pytest.raises(TypeError, match="^rate limit keys must be str, got 42$"):
        RateLimiter().hit(42)
    with pytest.raises(TypeError, match="^RedisLimiterBackend needs a covet.redis.Redis client"):
        RedisLimiterBackend("redis://")


# ---------------------------------------------------------------- GCRA

def test_gcra_allows_the_whole_burst_then_one_per_interval():
    rl, clock = limiter("100/minute")
    results = [rl.hit("k") for _ in range(101)]
    assert [r.allowed for r in results] == [True] * 100 + [False]
    assert [r.remaining for r in results[:3]] == [99, 98, 97]
    assert results[99].remaining == 0
    assert results[0] == RateLimitResult(True, Limit(100, 60, "100/minute"), 99, 0.6, 0.0)
    assert results[99].reset_after == 60.0
    assert results[100] == RateLimitResult(False, Limit(100, 60, "100/minute"), 0, 60.0, 0.6)
    clock.advance(0.599)
    assert rl.hit("k").allowed is False
    clock.advance(0.001)
    r = rl.hit("k")
    assert r.allowed and r.remaining == 0
    clock.advance(60)
    assert rl.hit("k").remaining == 99
    assert rl.hit("other").remaining == 99  # keys are independent


def test_gcra_five_per_ten_seconds():
    rl, clock = limiter("5/10 seconds")
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]
    r = rl.hit("k")
    assert (r.allowed, r.retry_after, r.reset_after) == (False, 2.0, 10.0)
    clock.advance(2)
    assert rl.hit("k").allowed is True
    assert rl.hit("k").allowed is False


def test_several_limits_all_must_pass_and_refusals_are_not_counted():
    rl, clock = limiter("2/second;3/minute")
    assert [rl.hit("k").allowed for _ in range(2)] == [True, True]
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.retry_after) == (False, "2/second", 0.5)
    clock.advance(1)
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.remaining) == (True, "3/minute", 0)
    r = rl.hit("k")
    assert (r.allowed, str(r.limit), r.retry_after) == (False, "3/minute", 19.0)
    clock.advance(19)
    assert rl.hit("k").allowed is True


def test_per_call_limit_and_scope_keep_separate_counters():
    rl, _ = limiter("1/minute")
    assert rl.hit("k").allowed and not rl.hit("k").allowed
    assert rl.hit("k", "1/minute", scope="login").allowed
    assert not rl.hit("k", "1/minute", scope="login").allowed
    assert rl.hit("k", "2/minute").allowed
    rl.reset("k")
    assert rl.hit("k").allowed


# ---------------------------------------------------------------- sliding window

def test_sliding_window_weights_the_previous_window():
    rl, clock = limiter("10/minute", strategy="sliding-window")
    clock.now = 1000 * 60 * SECOND  # start of a window
    results = [rl.hit("k") for _ in range(11)]
    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert [r.remaining for r in results[:10]] == list(range(9, -1, -1))
    assert results[0].reset_after == 120.0
    # Refused in a full window: the earliest chance is 6 s into the next one (10 * 54/60 + 1 = 10).
    assert results[10].retry_after == 66.0
    clock.advance(60 + 5.999)
    assert rl.hit("k").allowed is False
    clock.advance(0.001)
    r = rl.hit("k")
    assert (r.allowed, r.remaining) == (True, 0)
    clock.advance(30)  # 36 s in: the previous window weighs 10 * 24/60 = 4, this one holds 1
    assert [rl.hit("k").allowed for _ in range(6)] == [True] * 5 + [False]


def test_sliding_window_retry_inside_the_window():
    rl, clock = limiter("10/minute", strategy="sliding_window")
    clock.now = 1000 * 60 * SECOND
    for _ in range(10):
        rl.hit("k")
    clock.advance(60)  # next window: previous = 10, current = 0
    r = rl.hit("k")
    assert (r.allowed, r.retry_after) == (False, 6.0)
    clock.advance(6)
    assert rl.hit("k").allowed is True


# ---------------------------------------------------------------- headers

def test_headers_allowed_and_refused():
    rl, _ = limiter("2/minute;10/hour")
    ok = rl.hit("k")
    assert ok.headers() == [
        ("RateLimit-Limit", "2"), ("RateLimit-Remaining", "1"), ("RateLimit-Reset", "30"),
        ("X-RateLimit-Limit", "2"), ("X-RateLimit-Remaining", "1"), ("X-RateLimit-Reset", "30"),
    ]
    rl.hit("k")
    refused = rl.hit("k")
    assert refused.headers(rl.default.limits) == [
        ("RateLimit-Limit", "2"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "60"),
        ("RateLimit-Policy", "2;w=60, 10;w=3600"),
        ("X-RateLimit-Limit", "2"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "60"),
        ("Retry-After", "30"),
    ]
    tiny = RateLimitResult(False, Limit(1, 1, "1/second"), 0, 0.0001, 0.0001)
    assert dict(tiny.headers())["Retry-After"] == "1"  # never 0


# ---------------------------------------------------------------- bounded memory

@pytest.mark.slow  # a soak test: run once, on the main interpreter
def test_a_flood_of_distinct_keys_cannot_grow_memory_past_max_keys():
    backend = MemoryLimiterBackend(max_keys=1000, clock=Clock())
    rl = RateLimiter("5/minute", backend=backend)
    for i in range(300_000):
        rl.hit("spoofed-%d" % i)
    assert len(backend) == 1000
    assert backend.evictions == 299_000


def test_idle_keys_are_dropped():
    clock = Clock()
    backend = MemoryLimiterBackend(clock=clock)
    rl = RateLimiter("10/minute", backend=backend)
    for i in range(1000):
        rl.hit("k%d" % i)
    assert len(backend) == 1000
    clock.advance(5)  # one hit costs 6 s of a 10/minute bucket: not yet refilled
    rl.hit("new")
    assert len(backend) == 1001
    clock.advance(1)
    rl.hit("newer")  # every k* bucket is full again, indistinguishable from a fresh one: gone
    assert len(backend) == 2  # "new" (5 s old) and "newer"
    for i in range(10):
        rl.hit("x%d" % i)
    clock.advance(6)
    assert backend.purge() == 12 and len(backend) == 0
    assert backend.evictions == 0


def test_a_refused_client_stays_tracked_under_a_flood():
    backend = MemoryLimiterBackend(max_keys=10, clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    assert rl.hit("attacker").allowed
    for i in range(50):
        assert rl.hit("attacker").allowed is False
        rl.hit("flood-%d" % i)
        rl.hit("flood-%d-b" % i)
        # `attacker` is refreshed by every refused hit, so eviction takes the flood first
    assert rl.hit("attacker").allowed is False


def test_long_keys_are_hashed_to_bound_each_entry():
    backend = MemoryLimiterBackend(clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    long_key = "k" * 100_000
    assert rl.hit(long_key).allowed and not rl.hit(long_key).allowed
    (stored,) = backend._data
    assert stored[3].startswith("sha256:") and len(stored[3]) == 71
    assert rl.hit("k" * 99_999 + "j").allowed


# ---------------------------------------------------------------- concurrency

@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_exactly_100_of_1000_concurrent_asyncio_checks_pass(strategy):
    rl, _ = limiter("100/minute", strategy)  # a stopped clock: a stall must not free a slot

    async def main():
        results = await asyncio.gather(*[rl.ahit("10.0.0.1") for _ in range(1000)])
        return sum(r.allowed for r in results)

    assert run(main()) == 100


@pytest.mark.parametrize("strategy", ["gcra", "sliding-window"])
def test_exactly_100_of_1000_checks_from_threads_pass(strategy):
    rl, _ = limiter("100/minute", strategy)
    allowed = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        allowed.append(sum(rl.hit("10.0.0.1").allowed for _ in range(50)))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100


# ---------------------------------------------------------------- key functions

def test_client_ip_reads_the_resolved_client():
    class Addr:
        host = "203.0.113.9"

    class Req:
        def __init__(self, client):
            self.client = client

    assert client_ip(Req(Addr())) == "203.0.113.9"
    assert client_ip(Req(("198.51.100.2", 5555))) == "198.51.100.2"
    assert client_ip(Req(None)) == "unknown"
    assert client_ip(object()) == "unknown"


# ---------------------------------------------------------------- the pure algorithms

def test_gcra_is_a_pure_function_of_state_and_time():
    limits = parse_limits("2/second;3/minute")
    first, state, expires = gcra(None, 0, limits)
    assert first == RateLimitResult(True, limits[0], 1, 0.5, 0.0)
    assert state == [500_000_000, 20 * SECOND] and expires == 20 * SECOND
    frozen = tuple(state)
    # Same inputs, same answer; the input state is never changed.
    assert gcra(frozen, 0, limits) == gcra(frozen, 0, limits)
    second, state2, _ = gcra(frozen, 0, limits)
    assert tuple(state) == frozen
    assert (second.allowed, second.remaining, str(second.limit)) == (True, 0, "2/second")
    third, refused_state, _ = gcra(state2, 0, limits)
    assert third == RateLimitResult(False, limits[0], 0, 1.0, 0.5)
    # The refused request's state is what the caller must not store: storing the allowed
    # state only, the request after 0.5 s is allowed again.
    assert gcra(state2, SECOND // 2, limits)[0].allowed is True
    assert gcra(state2, SECOND // 2 - 1, limits)[0].allowed is False
    assert refused_state != state2


def test_sliding_window_is_a_pure_function_of_state_and_time():
    limits = parse_limits("3/minute")
    start = 1000 * 60 * SECOND  # the start of a window
    state = None
    for i in range(3):
        result, state, expires = sliding_window(state, start + i, limits)
        assert (result.allowed, result.remaining) == (True, 2 - i)
    assert state == [(1000, 3, 0)] and expires == 1002 * 60 * SECOND
    refused, _, _ = sliding_window(state, start + 3, limits)
    assert (refused.allowed, refused.remaining) == (False, 0)
    # In the next window the previous 3 weigh 3 * (60 - 20) / 60 = 2 at 20 s in: one more fits.
    result, later, _ = sliding_window(state, start + 80 * SECOND, limits)
    assert (result.allowed, result.remaining, later) == (True, 0, [(1001, 1, 3)])
    assert sliding_window(state, start + 80 * SECOND, limits) == (result, later, 1003 * 60 * SECOND)


def test_algorithm_table_and_strategy_names():
    assert ALGORITHMS == {"gcra": gcra, "sliding-window": sliding_window}
    assert RateLimiter(strategy="sliding_window").strategy == "sliding-window"
    with pytest.raises(ValueError, match=r"^strategy must be 'gcra' or 'sliding-window', got \['gcra'\]$"):
        RateLimiter(strategy=["gcra"])


@pytest.mark.parametrize("values", [
    (True, Limit(5, 60, "5/minute"), 4, 12.0, 0.0),
    (False, Limit(1, 1, "1/second"), 0, 1.0, 0.25),
])
def test_the_fast_result_record_equals_the_named_tuple(values):
    # The algorithms build RateLimitResult with tuple.__new__ (see algorithms.py, PERF).
    fast = tuple.__new__(RateLimitResult, values)
    assert type(fast) is RateLimitResult
    assert fast == RateLimitResult(*values) == RateLimitResult._make(values)
    assert fast._asdict() == RateLimitResult(*values)._asdict()
    assert fast.retry_seconds == RateLimitResult(*values).retry_seconds


def test_policy_precomputes_text_and_script_args():
    policy = Policy(parse_limits("2/second;3/minute"))
    assert (policy.text, repr(policy)) == ("2/second;3/minute", "Policy('2/second;3/minute')")
    assert policy.script_args == (1_000_000, 500_000, 2, 60_000_000, 20_000_000, 3)
    with pytest.raises(ValueError, match="^a policy needs at least one limit$"):
        Policy(())
    rl = RateLimiter()
    assert rl.policy("5/minute") is rl.policy("5/minute") and rl.policy(policy) is policy


# ---------------------------------------------------------------- constructor forms

def test_constructor_forms_give_the_same_default_limits():
    assert RateLimiter().default.text == "100/minute"
    assert RateLimiter("100/minute").default.text == "100/minute"
    assert RateLimiter(default_limits="100/hour").default.text == "100/hour"
    assert RateLimiter(default_limits=["200/day", "50 per hour"]).default.text == "200/day;50/hour"
    assert RateLimiter(default_rate="100/hour", burst_rate="10/minute").default.text == "100/hour;10/minute"
    assert RateLimiter(burst_rate="10/second").default.text == "100/minute;10/second"


def test_storage_memory_url():
    limiter = RateLimiter(default_limits="2/hour", storage="memory://")
    assert type(limiter.backend) is MemoryLimiterBackend
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, False]
    assert type(RateLimiter(storage="MEMORY://").backend) is MemoryLimiterBackend


def test_default_rate_with_burst_rate_must_pass_both():
    clock = Clock()
    limiter = RateLimiter(default_rate="100/hour", burst_rate="10/minute", backend=MemoryLimiterBackend(clock=clock))
    results = [limiter.hit("k") for _ in range(11)]
    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert str(results[10].limit) == "10/minute" and results[10].retry_after == 6.0
    spent, refused = 10, []
    for _ in range(200):  # one try per 6 s for 20 minutes: the burst limit allows every one
        clock.advance(6)
        result = limiter.hit("k")
        spent += result.allowed
        if not result.allowed:
            refused.append(str(result.limit))
    # ...but the hour allows its 100 and then one per 36 s: 100 + 1200 / 36 = 133.
    assert spent == 133 and set(refused) == {"100/hour"}


@pytest.mark.parametrize("kwargs, error, message", [
    ({"default": "1/second", "default_limits": "2/second"}, TypeError,
     "give the default limits once, not as both default and default_limits"),
    ({"default_limits": "1/second", "default_rate": "2/second"}, TypeError,
     "give the default limits once, not as both default_limits and default_rate"),
    ({"default_rate": "100/hour", "burst_rate": "10/minit"}, ValueError,
     "invalid rate limit '10/minit': unknown unit 'minit' (use second, minute, hour or day)"),
    ({"default_limits": "100/hour;"}, ValueError,
     "invalid rate limit '' in '100/hour;': expected '<count>/<period>' such as '10/second', '100/minute' or "
     "'5/10 seconds'"),
    ({"storage": "memory://", "backend": MemoryLimiterBackend()}, TypeError, "give storage= or backend=, not both"),
    ({"storage": "mysql://db/x"}, ValueError,
     "invalid storage 'mysql://db/x': use 'memory://' or a redis://, rediss:// or unix:// URL"),
    ({"storage": "localhost:6379"}, ValueError,
     "invalid storage 'localhost:6379': use 'memory://' or a redis://, rediss:// or unix:// URL"),
    ({"storage": "memory://shared"}, ValueError, "invalid storage 'memory://shared': memory:// takes no host, path "
                                                 "or options"),
    ({"storage": 6379}, TypeError,
     "storage must be a URL such as 'memory://' or 'redis://localhost:6379', got 6379"),
    ({"storage": "redis://localhost:notaport"}, ValueError, "invalid Redis URL 'redis://localhost:notaport': "),
    ({"backend": "memory"}, TypeError, "backend must be a LimiterBackend (MemoryLimiterBackend, RedisLimiterBackend "
                                       "or a subclass of LimiterBackend), got 'memory'"),
])
def test_bad_constructor_arguments_fail_clearly(kwargs, error, message):
    with pytest.raises(error) as e:
        RateLimiter(**kwargs)
    assert str(e.value).startswith(message), str(e.value)


# ---------------------------------------------------------------- clear()

def test_clear_forgets_every_counter():
    clock = Clock()
    backend = MemoryLimiterBackend(max_keys=3, clock=clock)
    rl = RateLimiter("1/minute", backend=backend, strategy="sliding-window")
    for key in ("a", "b", "c", "d"):
        assert rl.hit(key).allowed
    assert rl.hit("d", "1/hour", scope="login").allowed
    assert not rl.hit("d").allowed and not rl.hit("d", "1/hour", scope="login").allowed
    assert (len(backend), backend.evictions) == (3, 2)
    rl.clear()
    assert (len(backend), backend.evictions) == (0, 0)
    assert rl.hit("d").allowed and rl.hit("d", "1/hour", scope="login").allowed
    run(rl.aclear())
    assert len(backend) == 0 and rl.hit("d").remaining == 0


# ---------------------------------------------------------------- the backend contract

def test_the_backend_contract_is_a_base_class_with_every_method_required():
    class Half(LimiterBackend):
        def hit(self, strategy, scope, key, policy):
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="abstract"):
        Half()
    assert issubclass(MemoryLimiterBackend, LimiterBackend) and issubclass(RedisLimiterBackend, LimiterBackend)
    assert MemoryLimiterBackend.unavailable == ()


def test_a_custom_backend_failing_with_its_unavailable_error_fails_open_and_logs(caplog):
    class StoreDown(Exception):
        pass

    class Flaky(MemoryLimiterBackend):
        unavailable = (StoreDown,)
        down = False

        def hit(self, strategy, scope, key, policy):
            if self.down:
                raise StoreDown("store unreachable")
            return super().hit(strategy, scope, key, policy)

        async def ahit(self, strategy, scope, key, policy):
            return self.hit(strategy, scope, key, policy)

    backend = Flaky(clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    assert rl.hit("k").allowed and not rl.hit("k").allowed
    backend.down = True
    with caplog.at_level(logging.ERROR, logger=LOGGER_NAME):
        assert [rl.hit("k").allowed for _ in range(3)] == [True] * 3
        assert run(rl.ahit("k")).allowed
    assert [r.name for r in caplog.records] == ["covet.security.rate_limiting"]
    assert caplog.records[0].getMessage() == "covet ratelimit: backend unavailable, failing open: store unreachable"
    # Any other error is a bug, not an outage: it propagates.
    backend.unavailable = ()
    with pytest.raises(StoreDown):
        rl.hit("k")


# ---------------------------------------------------------------- huge and odd keys

def test_huge_and_odd_keys():
    backend = MemoryLimiterBackend(clock=Clock())
    rl = RateLimiter("1/minute", backend=backend)
    for key in ("x" * 1_000_000, "\udcff" * 300, "é" * 201, "", "k" * 200):
        assert rl.hit(key).allowed and not rl.hit(key).allowed, key[:10]
    stored = sorted(k[3] for k in backend._data)
    assert stored[0] == "" and stored[1] == "k" * 200  # at the bound: kept as is
    assert all(k.startswith("sha256:") and len(k) == 71 for k in stored[2:]) and len(stored) == 5
    for bad in (None, b"bytes", 42):
        with pytest.raises(TypeError, match="^rate limit keys must be str, got "):
            rl.hit(bad)


def test_public_names_resolve_from_every_documented_place():
    import covet
    import covet.security
    from covet.security import rate_limiting

    assert covet.RateLimiter is covet.security.RateLimiter is rate_limiting.RateLimiter
    assert covet.RateLimitMiddleware is covet.security.RateLimitMiddleware is rate_limiting.RateLimitMiddleware
    for name in rate_limiting.__all__:
        assert getattr(rate_limiting, name) is not None, name
    assert LOGGER_NAME == "covet.security.rate_limiting"


def test_gcra_state_far_ahead_of_the_clock_means_fully_used_not_locked_out():
    from covet.security.rate_limiting.algorithms import gcra
    from covet.security.rate_limiting.limits import parse_limits

    limits = tuple(parse_limits("5/minute"))
    second = 10**9
    state = None
    for _ in range(5):
        result, state, _ = gcra(state, 100 * second, limits)
    jumped = (100 - 3600) * second  # the clock went back an hour
    result, _, _ = gcra(state, jumped, limits)
    assert (result.allowed, result.retry_after) == (False, 12.0)


def test_100000_distinct_hostile_keys_stay_within_max_keys_and_each_entry_is_bounded():
    from covet.security.rate_limiting.keys import MAX_KEY_LENGTH, header_key

    backend = MemoryLimiterBackend(max_keys=10_000, clock=Clock())
    rl = RateLimiter("5/minute;100/hour", backend=backend, key=header_key("X-API-Key"))

    class Spoofed:  # what the key function reads of a request: a forged API-key header each time
        def __init__(self, i):
            self.headers = {"x-api-key": "%d-" % i + "A" * (i % 3000)}

    for i in range(100_000):
        assert rl.hit(rl.key(Spoofed(i))).allowed
    assert len(backend) == 10_000 and backend.evictions == 90_000
    # Every stored key is at most MAX_KEY_LENGTH characters (longer ones are their SHA-256),
    # so the whole table is bounded by max_keys entries of bounded size.
    assert max(len(skey[3]) for skey in backend._data) <= MAX_KEY_LENGTH
    assert sum(1 for skey in backend._data if skey[3].startswith("sha256:")) > 9_000
