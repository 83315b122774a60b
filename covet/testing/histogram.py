"""A latency histogram of bounded size: log-linear buckets in microseconds, HDR Histogram's layout.

Every run of a load test, one second long or one day long, keeps the same 3,968 counters
(about 32 KB): values below 256 µs have a bucket each (exact to the microsecond); above that,
every power of two is cut into 128 equal buckets, so a bucket is never wider than 1/128 of
its lower edge. That is HDR Histogram's "two significant digits" layout (Gil Tene,
HdrHistogram, ``subBucketCount`` 256) without its C.

A percentile is the highest value of the bucket that holds its rank (HDR's "highest
equivalent value"), clamped to the largest value recorded: it is never below the true
percentile (counted in whole microseconds) and at most 1/128 (0.79 %) above it. Minimum,
maximum and mean are exact, kept in nanoseconds beside the buckets.

Example::

    h = LatencyHistogram()
    for ns in (120_000, 450_000, 2_500_000):
        h.record(ns)
    h.percentile(50)        # 450.0 (µs); exact below 256 µs, within 0.79 % above
    print(h.render())       # a text bar chart
"""
import math
from typing import Dict, List, Sequence, Tuple

__all__ = ["LatencyHistogram", "SUB_BUCKET_BITS", "EXACT_BELOW_US", "MAX_TRACKED_US", "BUCKET_COUNT"]

# 2**7 = 128 buckets per power of two: the widest bucket is 1/128 of its lower edge.
SUB_BUCKET_BITS = 7
_SUB = 1 << SUB_BUCKET_BITS
# Below 2 * 128 µs every microsecond has its own bucket.
EXACT_BELOW_US = 2 * _SUB
# Powers of two up to 2**37 µs (38 hours): no response a load test waits for is slower. Larger
# values land in the last bucket (max_us stays exact).
_MAX_SHIFT = 37 - (SUB_BUCKET_BITS + 1)
BUCKET_COUNT = (_MAX_SHIFT << SUB_BUCKET_BITS) + 2 * _SUB
MAX_TRACKED_US = (1 << 37) - 1


def bucket_index(us: int) -> int:
    """The bucket of a value in whole microseconds (0 to ``BUCKET_COUNT - 1``)."""
    if us < EXACT_BELOW_US:
        return us if us > 0 else 0
    shift = us.bit_length() - (SUB_BUCKET_BITS + 1)
    index = (shift << SUB_BUCKET_BITS) + (us >> shift)
    return index if index < BUCKET_COUNT else BUCKET_COUNT - 1


def bucket_bounds(index: int) -> Tuple[int, int]:
    """``(lowest, highest)`` microsecond value that falls in bucket ``index``.

    Example::

        bucket_bounds(10)    # (10, 10)
        bucket_bounds(300)   # (344, 345): two microseconds wide at 344 µs
    """
    if index < EXACT_BELOW_US:
        return index, index
    shift = (index >> SUB_BUCKET_BITS) - 1
    mantissa = index - (shift << SUB_BUCKET_BITS)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


class LatencyHistogram:
    """Counts of latencies in log-linear microsecond buckets; see the module docstring.

    Example::

        h = LatencyHistogram()
        h.record(1_500_000)            # nanoseconds in
        h.count, h.max_us, h.percentile(99)   # 1, 1500.0, 1500.0
    """

    __slots__ = ("counts", "count", "total_ns", "min_ns", "max_ns")

    def __init__(self) -> None:
        self.counts = [0] * BUCKET_COUNT
        self.count = 0
        self.total_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def record(self, ns: int) -> None:
        """Add one latency, in nanoseconds (``time.perf_counter_ns`` differences)."""
        # PERF: bucket_index inlined; this runs once per response.
        us = ns // 1000
        if us < EXACT_BELOW_US:
            index = us if us > 0 else 0
        else:
            shift = us.bit_length() - (SUB_BUCKET_BITS + 1)
            index = (shift << SUB_BUCKET_BITS) + (us >> shift)
            if index >= BUCKET_COUNT:
                index = BUCKET_COUNT - 1
        self.counts[index] += 1
        if self.count:
            if ns < self.min_ns:
                self.min_ns = ns
            elif ns > self.max_ns:
                self.max_ns = ns
        else:
            self.min_ns = self.max_ns = ns
        self.count += 1
        self.total_ns += ns

    def merge(self, other: "LatencyHistogram") -> None:
        """Add the counts of another histogram (e.g. one per process) to this one."""
        if not other.count:
            return
        counts = self.counts
        for i, n in enumerate(other.counts):
            if n:
                counts[i] += n
        if self.count:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        else:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        self.count += other.count
        self.total_ns += other.total_ns

    @property
    def min_us(self) -> float:
        """The smallest value recorded (exact), in microseconds; 0 when empty."""
        return self.min_ns / 1000.0

    @property
    def max_us(self) -> float:
        """The largest value recorded (exact), in microseconds; 0 when empty."""
        return self.max_ns / 1000.0

    @property
    def mean_us(self) -> float:
        """The mean (exact), in microseconds; 0 when empty."""
        return self.total_ns / self.count / 1000.0 if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0 < q <= 100) in microseconds; 0 when empty.

        The highest value of the bucket holding rank ``ceil(q/100 * count)``, clamped to the
        exact minimum and maximum: never below the true value in whole microseconds, at most
        0.79 % above it.
        """
        return self.percentiles((q,))[q]

    def percentiles(self, qs: Sequence[float] = (50, 90, 95, 99, 99.9)) -> Dict[float, float]:
        """Several percentiles in one pass over the buckets: ``{q: microseconds}``."""
        for q in qs:
            if not 0 < q <= 100:
                raise ValueError("a percentile is in (0, 100], got %r" % (q,))
        if not self.count:
            return {q: 0.0 for q in qs}
        # ceil(q/100 * count), rounded first so that 99.9 * 1000 / 100 is rank 999, not 1000.
        wanted = sorted((max(1, min(self.count, math.ceil(round(q * self.count / 100.0, 6)))), q) for q in qs)
        out = {}
        seen = 0
        i = 0
        for index, n in enumerate(self.counts):
            if not n:
                continue
            seen += n
            while i < len(wanted) and seen >= wanted[i][0]:
                high = float(bucket_bounds(index)[1])
                out[wanted[i][1]] = max(self.min_us, min(high, self.max_us))
                i += 1
            if i == len(wanted):
                break
        return out

    def buckets(self) -> List[Tuple[int, int, int]]:
        """The non-empty buckets as ``(lowest_us, highest_us, count)``, lowest first."""
        return [bucket_bounds(i) + (n,) for i, n in enumerate(self.counts) if n]

    def render(self, rows: int = 12, width: int = 40) -> str:
        """A text bar chart: ``rows`` log-spaced ranges from the minimum to the maximum.

        Example::

            print(h.render())
            #     120 us -    145 us |########                         |   812  8.1%
        """
        if not self.count:
            return "(no responses)"
        ranges = _log_ranges(int(self.min_us), int(self.max_us), rows)
        totals = [0] * len(ranges)
        row = 0
        for index, n in enumerate(self.counts):
            if not n:
                continue
            low = bucket_bounds(index)[0]
            while row < len(ranges) - 1 and low > ranges[row][1]:
                row += 1
            totals[row] += n
        peak = max(totals)
        lines = []
        for (low, high), n in zip(ranges, totals):
            bar = "#" * (round(width * n / peak) if peak else 0)
            lines.append("%s - %s |%-*s| %7d %5.1f%%" % (_fmt_us(low), _fmt_us(high), width, bar, n,
                                                         100.0 * n / self.count))
        return "\n".join(lines)


def _fmt_us(us: float) -> str:
    if us < 1000:
        return "%7d us" % us
    if us < 1000000:
        return "%7.2f ms" % (us / 1000.0)
    return "%7.2f s " % (us / 1000000.0)


def _log_ranges(low: int, high: int, rows: int) -> List[Tuple[int, int]]:
    """Up to ``rows`` contiguous ranges covering [low, high], equal in ratio (log scale)."""
    low = max(low, 1)
    high = max(high, low)
    if high == low or rows <= 1:
        return [(low, high)]
    ratio = (high / low) ** (1.0 / rows)
    edges: List[int] = [low]
    for i in range(1, rows):
        edge = int(round(low * ratio ** i))
        if edge > edges[-1]:
            edges.append(edge)
    out = []
    for i, start in enumerate(edges):
        end = edges[i + 1] - 1 if i + 1 < len(edges) else high
        if end >= start:
            out.append((start, end))
    return out or [(low, high)]

