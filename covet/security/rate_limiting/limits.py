"""Rate limits as users write them (``"100/minute"``, ``"5/10 seconds"``), the ``Policy`` a check runs
against, and ``RateLimitResult``, what a check answers.

Example::

    policy = Policy(parse_limits("100/minute;10/second"))
    assert policy.text == "100/minute;10/second"
"""
import math
import re
from typing import Any, Iterable, List, NamedTuple, Optional, Tuple, Union

__all__ = ["Limit", "Policy", "RateLimitResult", "StoreUnavailableResult", "parse_limits", "MAX_RATE_PER_SECOND"]

# Highest rate a limit may express: the Redis scripts count in microseconds, so a faster
# rate would have an emission interval below one tick.
MAX_RATE_PER_SECOND = 1_000_000

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
# ASCII digits only, at most nine of them, matched before int() sees them: no Unicode digits,
# no sign, no 4,300-digit strings (CVE-2020-10735).
_LIMIT_RE = re.compile(r"\s*([0-9]{1,9})\s*(?:/|\s+per\s+)\s*(?:([0-9]{1,9})\s*)?([A-Za-z]+)\s*", re.ASCII)
_SYNTAX = "expected '<count>/<period>' such as '10/second', '100/minute' or '5/10 seconds'"


class Limit:
    """One rate: ``amount`` requests per ``period`` seconds (build it with ``parse_limits``).

    Example::

        (limit,) = parse_limits("5/10 seconds")
        assert (limit.amount, limit.period, str(limit)) == (5, 10, "5/10 seconds")
    """

    __slots__ = ("amount", "period", "text", "period_ns", "interval_ns", "period_us", "interval_us")

    def __init__(self, amount: int, period: int, text: str) -> None:
        self.amount = amount
        self.period = period
        self.text = text
        self.period_ns = period * 1_000_000_000
        self.interval_ns = self.period_ns // amount  # floored: `amount` back-to-back hits always fit
        self.period_us = period * 1_000_000
        self.interval_us = self.period_us // amount

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Limit(%r)" % self.text

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Limit) and (self.amount, self.period) == (other.amount, other.period)

    def __hash__(self) -> int:
        return hash((self.amount, self.period))


def _parse_one(part: str, whole: str) -> Limit:
    where = repr(part) if part.strip() == whole.strip() else "%r in %r" % (part, whole)
    m = _LIMIT_RE.fullmatch(part)
    if m is None:
        raise ValueError("invalid rate limit %s: %s" % (where, _SYNTAX))
    amount, multiplier, unit = int(m.group(1)), int(m.group(2) or 1), m.group(3).lower()
    seconds = _UNITS.get(unit)
    if seconds is None:
        raise ValueError("invalid rate limit %s: unknown unit %r (use second, minute, hour or day)" % (where, unit))
    if amount < 1 or multiplier < 1:
        raise ValueError("invalid rate limit %s: counts must be at least 1" % where)
    period = multiplier * seconds
    if amount > period * MAX_RATE_PER_SECOND:
        raise ValueError("invalid rate limit %s: more than %d per second cannot be counted"
                         % (where, MAX_RATE_PER_SECOND))
    name = _UNIT_NAMES[seconds]
    text = "%d/%s" % (amount, name) if multiplier == 1 else "%d/%d %ss" % (amount, multiplier, name)
    return Limit(amount, period, text)


def parse_limits(spec: Union[str, Limit, Iterable[Union[str, Limit]]]) -> Tuple[Limit, ...]:
    """``"100/minute;10/second"`` (or Limit objects, or a list of either) -> a tuple of ``Limit``.

    Raises ValueError naming the string when it is not a valid limit, TypeError for
    something that is not a limit at all.

    Example::

        assert [str(l) for l in parse_limits("5/10 seconds; 100 per hour")] == ["5/10 seconds", "100/hour"]
    """
    if isinstance(spec, Limit):
        return (spec,)
    if isinstance(spec, str):
        if not spec.strip():
            raise ValueError("invalid rate limit %r: it is empty" % spec)
        return tuple(_parse_one(part, spec) for part in spec.split(";"))
    try:
        items = list(spec)
    except TypeError:
        raise TypeError("a rate limit must be a str like '100/minute', got %r" % (spec,)) from None
    out: List[Limit] = []
    for item in items:
        out.extend(parse_limits(item))
    if not out:
        raise ValueError("invalid rate limit %r: it is empty" % (spec,))
    return tuple(out)


class Policy:
    """A parsed set of limits that a request must all pass, with what every check needs precomputed.

    :ivar limits: the limits, in the order written.
    :ivar text: the canonical spelling (``"100/minute;10/second"``), part of every counter's key.
    :ivar script_args: ``(period µs, interval µs, amount)`` for each limit, flat: the Redis scripts' ARGV.

    Example::

        policy = Policy(parse_limits("2/second;3/minute"))
        assert policy.script_args == (1_000_000, 500_000, 2, 60_000_000, 20_000_000, 3)
    """

    __slots__ = ("limits", "text", "script_args")

    def __init__(self, limits: Tuple[Limit, ...]) -> None:
        if not limits:
            raise ValueError("a policy needs at least one limit")
        self.limits = limits
        self.text = ";".join(l.text for l in limits)
        self.script_args = tuple(x for l in limits for x in (l.period_us, l.interval_us, l.amount))

    def __repr__(self) -> str:
        return "Policy(%r)" % self.text


class RateLimitResult(NamedTuple):
    """The outcome of one check.

    ``limit`` is the limit that decided: the one with the fewest requests left
    when allowed, the one that waits longest when refused. ``reset_after`` is the
    seconds until that limit is fully replenished; ``retry_after`` the seconds
    until a request would be allowed (0 when allowed).

    Example::

        result = RateLimiter("10/second").hit("203.0.113.9")
        assert (result.allowed, result.remaining) == (True, 9)
    """

    allowed: bool
    limit: Limit
    remaining: int
    reset_after: float
    retry_after: float

    def headers(self, policy: Optional[Iterable[Limit]] = None) -> List[Tuple[str, str]]:
        """``RateLimit-*`` (IETF draft-ietf-httpapi-ratelimit-headers) and ``X-RateLimit-*`` headers,
        plus ``Retry-After`` when refused. Reset values are delta seconds in both forms; with
        ``policy`` (the limits checked) a ``RateLimit-Policy`` header lists them all."""
        limit = str(self.limit.amount)
        remaining = str(self.remaining)
        reset = str(int(math.ceil(self.reset_after)))
        out = [("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining), ("RateLimit-Reset", reset)]
        if policy is not None:
            out.append(("RateLimit-Policy", ", ".join("%d;w=%d" % (l.amount, l.period) for l in policy)))
        out += [("X-RateLimit-Limit", limit), ("X-RateLimit-Remaining", remaining), ("X-RateLimit-Reset", reset)]
        if not self.allowed:
            out.append(("Retry-After", str(self.retry_seconds)))
        return out

    @property
    def retry_seconds(self) -> int:
        """``retry_after`` as whole seconds, at least 1: RFC 9110 §10.2.3 makes ``Retry-After`` a
        non-negative integer, and "retry in 0 s" would invite an immediate retry that fails."""
        return max(1, int(math.ceil(self.retry_after)))

    @property
    def unavailable(self) -> bool:
        """True when the backend could not answer and the limiter decided without it
        (``StoreUnavailableResult``): allowed when it fails open, refused with 503 when closed."""
        return False


class StoreUnavailableResult(RateLimitResult):
    """The result of a check the backend could not answer (Redis down): ``allowed`` is the
    limiter's ``fail_open``. Equal, as a tuple, to the ``RateLimitResult`` with the same fields.

    Example::

        result = limiter.hit("k")
        if result.unavailable and not result.allowed:
            ...  # a 503, not a 429: the client is not over any limit
    """

    __slots__ = ()

    @property
    def unavailable(self) -> bool:
        """Always True."""
        return True
