"""``covet performance-test [APP]``: load-test an app (served in-process) or a running server (--url).

Prints a report, or ``--json``; the exit status gates CI: 0 when every threshold given holds,
1 when one is missed (or when not a single request succeeded: nothing was measured), 2 on a
usage error. With no APP and no --url, the app is found as ``covet run`` finds it (``app`` in
app.py or main.py), so ``python -m covet performance-test`` works as a CI step.

Example::

    python -m covet performance-test app.py --path /api/fast --users 100 --requests 10 \\
        --max-p99-ms 100 --min-rps 1000 --max-error-rate 0.01
"""
import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Tuple

from .loader import load_app

__all__ = ["add_parser", "command", "check_thresholds"]


def add_parser(subparsers: Any) -> None:
    """Register ``performance-test`` and its options on the ``covet`` argument parser."""
    p = subparsers.add_parser("performance-test", help="load-test an app or a running server; "
                              "exit 1 when a threshold is missed")
    p.set_defaults(handler=command)
    p.add_argument("app", nargs="?", help="module:attribute or file.py (default: app in app.py or main.py); "
                                          "served in-process on 127.0.0.1")
    p.add_argument("--url", help="load a running server instead, e.g. http://127.0.0.1:8000")
    p.add_argument("--path", default="/", help="the path to request (default /)")
    p.add_argument("--users", type=int, default=50, help="concurrent connections (default 50)")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--requests", type=int, default=None, help="requests per user (default 100)")
    amount.add_argument("--duration", type=float, default=None, help="seconds to run instead of --requests")
    p.add_argument("--pipeline", type=int, default=1, help="requests in flight per connection (default 1)")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds of load before measuring (default 0)")
    p.add_argument("--method", default="GET")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                   help="a request header (repeatable)")
    p.add_argument("--json-body", default=None, metavar="JSON", help="a JSON request body")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds a request may wait (default 10)")
    p.add_argument("--max-p99-ms", type=float, default=None, help="fail when p99 latency exceeds this")
    p.add_argument("--min-rps", type=float, default=None, help="fail when requests per second fall below this")
    p.add_argument("--max-error-rate", type=float, default=None,
                   help="fail when the error rate (0 to 1) exceeds this")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")


def check_thresholds(results: Any, max_p99_ms: Optional[float] = None, min_rps: Optional[float] = None,
                     max_error_rate: Optional[float] = None) -> List[Dict[str, Any]]:
    """One entry per threshold given: ``{"name", "limit", "value", "passed"}``.

    Example::

        check_thresholds(results, max_p99_ms=50)
        # [{'name': 'max_p99_ms', 'limit': 50, 'value': 3.1, 'passed': True}]
    """
    out = []
    for name, limit, value, ok in (
            ("max_p99_ms", max_p99_ms, results.p99 * 1000.0, lambda v, lim: v <= lim),
            ("min_rps", min_rps, results.requests_per_second, lambda v, lim: v >= lim),
            ("max_error_rate", max_error_rate, results.error_rate, lambda v, lim: v <= lim)):
        if limit is not None:
            out.append({"name": name, "limit": limit, "value": value, "passed": bool(ok(value, limit))})
    return out


def _usage(message: str) -> int:
    print("covet performance-test: %s" % message, file=sys.stderr)
    return 2


def _headers(items: List[str]) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    headers = {}
    for item in items:
        name, colon, value = item.partition(":")
        if not colon or not name.strip():
            return None, "--header %r is not NAME:VALUE" % item
        headers[name.strip()] = value.strip()
    return headers, None


def command(args: argparse.Namespace) -> int:
    """Run the load test, print the report, return 0, 1 (threshold missed) or 2 (usage)."""
    # The server and the generator are imported here: `covet --help` needs neither.
    from ..testing.performance import PerformanceTest

    if args.app and args.url:
        return _usage("give an APP or --url, not both")
    for name in ("users", "pipeline"):
        if getattr(args, name) < 1:
            return _usage("--%s must be at least 1" % name)
    if args.requests is not None and args.requests < 1:
        return _usage("--requests must be at least 1")
    for name in ("duration", "timeout"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            return _usage("--%s must be a positive number of seconds" % name)
    if not args.warmup >= 0:
        return _usage("--warmup must be zero or more seconds")
    if args.max_error_rate is not None and not 0 <= args.max_error_rate <= 1:
        return _usage("--max-error-rate is a fraction between 0 and 1 (0.01 is 1%)")
    headers, problem = _headers(args.header)
    if problem:
        return _usage(problem)
    body = None
    if args.json_body is not None:
        try:
            body = json.loads(args.json_body)
        except ValueError as exc:
            return _usage("--json-body is not JSON: %s" % exc)
    options = dict(concurrent_users=args.users, pipeline=args.pipeline, warmup=args.warmup,
                   method=args.method, headers=headers, json=body, timeout=args.timeout)
    if args.duration is not None:
        options["duration"] = args.duration
    else:
        options["requests_per_user"] = args.requests or 100
    try:
        # The request is encoded once before anything starts, so that a bad URL, method or header
        # is a usage error, not a failure halfway through serving the app.
        PerformanceTest(url=args.url or "http://127.0.0.1").plan(args.path, **options)
    except ValueError as exc:  # InvalidRequest is one too
        return _usage(str(exc))
    perf = PerformanceTest(url=args.url) if args.url else PerformanceTest(load_app(args.app))
    with perf:
        results = perf.load_test(args.path, **options)
    checks = check_thresholds(results, args.max_p99_ms, args.min_rps, args.max_error_rate)
    # Not one success means nothing was measured (a wrong path, a server that is down): never a pass.
    nothing = results.successful == 0
    passed = all(c["passed"] for c in checks) and not nothing
    if args.json:
        out = results.as_dict()
        out["thresholds"] = checks
        out["passed"] = passed
        print(json.dumps(out, indent=2))
    else:
        print(results.report())
        for c in checks:
            print("%s %s: %.4g (limit %.4g)" % ("PASS" if c["passed"] else "FAIL", c["name"], c["value"], c["limit"]))
    if nothing:
        print("covet performance-test: no request succeeded (%s)" % (
            ", ".join("%s %d" % kv for kv in results.errors.items() if kv[1]) or "no requests"), file=sys.stderr)
    elif not passed:
        print("covet performance-test: threshold missed: %s" % ", ".join(
            c["name"] for c in checks if not c["passed"]), file=sys.stderr)
    return 0 if passed else 1
