"""The cost of one log line: covet's JSONFormatter against the standard library's default formatter.

    python3 benchmarks/bench_logging.py

Each line goes the whole way (logger.info -> record -> handler -> formatter -> a stream that
discards), so the figure is what an application pays per line. Interleaved rounds, medians; the
issue's target (17): a JSON line at least as fast as the stdlib's default formatter's line.
"""
import io
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from covet.logging import JSONFormatter, log_context  # noqa: E402

LINES = 20000
ROUNDS = 7


class Discard(io.TextIOBase):
    def write(self, s):
        return len(s)


def make(name, formatter):
    logger = logging.getLogger("bench." + name)
    logger.handlers[:] = []
    handler = logging.StreamHandler(Discard())
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def per_line(logger, extra):
    start = time.perf_counter()
    if extra:
        with log_context(request_id="3f2a9c0d4b", user_id=7):
            for i in range(LINES):
                logger.info("order %s paid", i, extra={"amount": 12.5})
    else:
        for i in range(LINES):
            logger.info("order %s paid", i)
    return (time.perf_counter() - start) / LINES * 1e6


def main():
    print("load average at start: %.2f" % os.getloadavg()[0])
    cases = [("stdlib default formatter", make("stdlib", logging.Formatter()), False),
             ("covet JSON, PII masking on", make("json", JSONFormatter()), False),
             ("covet JSON, PII masking off", make("raw", JSONFormatter(pii=False)), False),
             ("covet JSON + context + extra", make("ctx", JSONFormatter()), True)]
    results = {name: [] for name, _, _ in cases}
    for _ in range(ROUNDS):
        for name, logger, extra in cases:
            results[name].append(per_line(logger, extra))
    base = statistics.median(results["stdlib default formatter"])
    for name, _, _ in cases:
        median = statistics.median(results[name])
        print("%-32s %6.2f us per line  (%.2fx the stdlib line's time)" % (name, median, median / base))
    print("load average at end: %.2f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
