"""The cost of one log line: covet's JSONFormatter against the standard library's default formatter.

    python3 benchmarks/bench_logging.py

Each line goes the whole way (logger.info -> record -> handler -> formatter -> a stream that
discards), so the figure is what an application pays per line. Each covet case is compared with
the stdlib line making the same call (same message, arguments and extra fields) through the same
logger setup with ``logging.Formatter()``; the StructuredLogger case with the plain stdlib line.
Interleaved rounds, medians. The issue's target (17): a JSON line at least as fast as the
stdlib's default formatter's line (a ratio of 1.00 or less).
"""
import io
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from covet.logging import JSONFormatter, StructuredLogger, log_context  # noqa: E402

LINES = 20000
ROUNDS = 9


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


# What each line says: a PII-free message, one carrying an e-mail address, and one with the
# request's context and an extra field (what a request handler's line carries).
def plain(logger):
    for i in range(LINES):
        logger.info("order %s paid", i)


def email(logger):
    for i in range(LINES):
        logger.info("receipt for order %s sent to %s", i, "ada@example.com")


def context_extra(logger):
    with log_context(request_id="3f2a9c0d4b", user_id=7):
        for i in range(LINES):
            logger.info("order %s paid", i, extra={"amount": 12.5})


def per_line(run, logger):
    start = time.perf_counter()
    run(logger)
    return (time.perf_counter() - start) / LINES * 1e6


def main():
    print("Python %s, load average at start: %.2f" % (sys.version.split()[0], os.getloadavg()[0]))
    stdlib = make("stdlib", logging.Formatter())
    structured = StructuredLogger(name="bench.structured", stream=Discard())
    # (name, run, logger, the stdlib case it is compared with)
    cases = [("stdlib default formatter", plain, stdlib, None),
             ("stdlib, e-mail in message", email, stdlib, None),
             ("stdlib, context + extra", context_extra, stdlib, None),
             ("covet JSON, PII masking on", plain, make("json", JSONFormatter()), "stdlib default formatter"),
             ("covet JSON, PII masking off", plain, make("raw", JSONFormatter(pii=False)), "stdlib default formatter"),
             ("covet JSON, e-mail masked", email, make("mail", JSONFormatter()), "stdlib, e-mail in message"),
             ("covet JSON + context + extra", context_extra, make("ctx", JSONFormatter()), "stdlib, context + extra"),
             ("StructuredLogger.info", plain, structured, "stdlib default formatter")]
    results = {case[0]: [] for case in cases}
    for _ in range(ROUNDS):
        for name, run, logger, _base in cases:
            results[name].append(per_line(run, logger))
    for name, _run, _logger, base in cases:
        median = statistics.median(results[name])
        if base is None:
            print("%-32s %6.2f us per line" % (name, median))
            continue
        ratio = median / statistics.median(results[base])
        print("%-32s %6.2f us per line  %.2fx %-26s %s" % (
            name, median, ratio, "(" + base + ")", "target met" if ratio <= 1.0 else "target missed"))
    print("load average at end: %.2f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
