"""The counting algorithms, pure: ``(state, now, limits) -> (result, new state, expiry)``; no clock,
no lock, no I/O.

Each takes the stored state of one key (one entry per limit, or None for a key never
seen or forgotten), the current time in integer nanoseconds and the policy's limits, and
returns three values:

- the ``RateLimitResult`` (whether the request may go on, and the numbers of the deciding
  limit: the one with the fewest requests left when allowed, the longest wait when refused);
- the new state, which the caller stores only when the request is allowed, so that a
  refused request is counted against none of the limits;
- the instant (nanoseconds) after which that state says nothing a fresh key would not, so
  the key may be forgotten then.

Integer nanoseconds mean no floating-point drift: a burst of exactly ``amount`` fits. The
Redis backend runs the same two algorithms as Lua scripts (on microseconds, from the Redis
server's clock); the tests hold both to the same numbers.

Example::

    limits = parse_limits("2/second")
    first, state, _ = gcra(None, 0, limits)
    second, state, _ = gcra(state, 0, limits)
    third, _, _ = gcra(state, 0, limits)
    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
    assert third.retry_after == 0.5
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .limits import Limit, RateLimitResult

__all__ = ["gcra", "sliding_window", "ALGORITHMS", "strategy_name"]

# PERF: tuple.__new__ builds the result without NamedTuple's Python-level __new__ (the same call
# namedtuple's own ``_make`` makes); a check takes a few hundred nanoseconds, this saves a fifth.
_record = tuple.__new__


def gcra(states: Optional[Sequence[int]], now: int,
         limits: Tuple[Limit, ...]) -> Tuple[RateLimitResult, List[int], int]:
    """The generic cell rate algorithm (ITU-T I.371): a token bucket kept as one "theoretical
    arrival time" per limit. A quiet key may spend the whole limit at once, then one request
    per ``period / amount``. The state is that arrival time per limit."""
    allowed = True
    index = -1
    best_remaining = best_reset = best_retry = 0
    new_states = []
    for i, lim in enumerate(limits):
        tat = now if states is None else states[i]
        if tat < now:
            tat = now
        elif tat > now + lim.period_ns:
            # Only a clock that went back can put the arrival time more than a period ahead
            # (Redis TIME follows the server's wall clock): a key is at most "fully used", never
            # locked out for as long as the clock jumped.
            tat = now + lim.period_ns
        new = tat + lim.interval_ns
        allow_at = new - lim.period_ns
        if allow_at > now:
            retry = allow_at - now
            if allowed or retry > best_retry:
                index, best_remaining, best_reset, best_retry = i, 0, tat - now, retry
            allowed = False
        elif allowed:
            remaining = (now - allow_at) // lim.interval_ns
            if index < 0 or remaining < best_remaining:
                index, best_remaining, best_reset = i, remaining, new - now
        new_states.append(new)
    result = _record(RateLimitResult, (allowed, limits[index], best_remaining, best_reset / 1e9, best_retry / 1e9))
    return result, new_states, max(new_states)


def sliding_window(states: Optional[Sequence[Tuple[int, int, int]]], now: int,
                   limits: Tuple[Limit, ...]) -> Tuple[RateLimitResult, List[Tuple[int, int, int]], int]:
    """The sliding-window counter (Cloudflare's approximation): counts in the current and the
    previous fixed window, the previous one weighted by how much of it the sliding window
    still covers. The state is ``(window number, current count, previous count)`` per limit."""
    allowed = True
    index = -1
    best_remaining = best_reset = best_retry = 0
    new_states = []
    expires = 0
    for i, lim in enumerate(limits):
        period = lim.period_ns
        amount = lim.amount
        window = now // period
        elapsed = now - window * period
        curr = prev = 0
        if states is not None:
            w, c, p = states[i]
            if w == window:
                curr, prev = c, p
            elif w == window - 1:
                prev = c
        # estimate = prev * (period - elapsed) / period + curr; allowed when estimate + 1 <= amount
        weighted = prev * (period - elapsed)
        if weighted + (curr + 1) * period <= amount * period:
            remaining = (amount * period - weighted - (curr + 1) * period) // period
            if allowed and (index < 0 or remaining < best_remaining):
                index, best_remaining, best_reset = i, remaining, 2 * period - elapsed
            new_states.append((window, curr + 1, prev))
        else:
            if curr < amount and prev:
                # Later in this window the previous one weighs little enough.
                retry = period - ((amount - curr - 1) * period) // prev - elapsed
            else:
                # Only in the next window, once this one's count is discounted.
                retry = (period - elapsed) + period - ((amount - 1) * period) // max(curr, 1)
            retry = max(retry, 1)
            if allowed or retry > best_retry:
                index, best_remaining, best_reset, best_retry = i, 0, (2 * period if curr else period) - elapsed, retry
            allowed = False
            new_states.append((window, curr, prev))
        expires = max(expires, (window + 2) * period)
    result = _record(RateLimitResult, (allowed, limits[index], best_remaining, best_reset / 1e9, best_retry / 1e9))
    return result, new_states, expires


#: strategy name -> algorithm; the names ``RateLimiter(strategy=...)`` accepts, in canonical spelling.
ALGORITHMS: Dict[str, Callable[[Any, int, Tuple[Limit, ...]], Tuple[RateLimitResult, Any, int]]] = {
    "gcra": gcra,
    "sliding-window": sliding_window,
}
_ALIASES = {"sliding_window": "sliding-window"}


def strategy_name(strategy: Any) -> str:
    """The canonical name of a strategy (``"sliding_window"`` is also accepted); ValueError otherwise."""
    name = _ALIASES.get(strategy, strategy) if isinstance(strategy, str) else strategy
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise ValueError("strategy must be 'gcra' or 'sliding-window', got %r" % (strategy,))
    return name
