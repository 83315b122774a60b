"""Path decisions in security middleware see the segments the router matches: split_path
(covet.core._paths) against the router itself, router_path and PathPatterns
(covet.security._paths) against routes, and the rate limiter's per-route marks under
escaped slashes, dot segments and mounts."""
import itertools
import re

import pytest

from covet import Covet, Request
from covet.core._paths import decode_segment, split_path
from covet.core.converters import Converter
from covet.core.routing import Router
from covet.security import CORSMiddleware, SessionMiddleware, TrustedHostMiddleware
from covet.security._paths import PathPatterns, router_path
from covet.security.rate_limiting import MemoryLimiterBackend, RateLimiter, RateLimitMiddleware

# Raw segments a client can send: escaped slashes and percent signs, dot segments (raw and
# escaped), empty segments, non-ASCII and non-UTF-8 escapes, escapes of plain letters.
PIECES = ["webhooks", "x", "", "..", ".", "%2E%2E", "%2e", "%2F", "%2f", "webhooks%2Fx", "x%2F..%2Fy",
          "caf%C3%A9", "café", "%FF", "%E9", "%77ebhooks", "delete", "%25", "%252F", "a%2", "%"]
RAW_PATHS = ["/" + "/".join(p) for n in (1, 2, 3) for p in itertools.product(PIECES, repeat=n)]


class AnySegment(Converter):
    """Every segment, empty or holding a '/', exactly as the router decoded it."""

    regex = "(?s).*"


def segment_router(depth=3):
    router = Router()
    router.register_converter("any", AnySegment())
    for n in range(1, depth + 1):
        path = "".join("/{s%d:any}" % i for i in range(n))
        router.add_route(path, lambda: None, name="n%d" % n)
    return router


# ---------------------------------------------------------------- split_path is the router's split

def test_split_path_gives_the_segments_the_router_matches():
    router = segment_router()
    for raw in RAW_PATHS:
        route, params = router.match("GET", raw)
        assert route is not None, raw
        assert [params["s%d" % i] for i in range(len(params))] == split_path(raw), raw


@pytest.mark.parametrize("raw, segments", [
    ("/", [""]),
    ("/webhooks%2Fx/delete", ["webhooks/x", "delete"]),
    ("/a//b/", ["a", "", "b", ""]),
    ("/%2E%2E/./..", ["..", ".", ".."]),
    ("/caf%C3%A9/%FF", ["café", "\ufffd"]),
    ("/%252F", ["%2F"]),
    ("*", []),
    ("", []),
])
def test_split_path(raw, segments):
    assert split_path(raw) == segments


def test_decode_segment():
    assert decode_segment("a%2Fb") == "a/b"
    assert decode_segment("caf%c3%a9") == "café"
    assert decode_segment("%FF%FE") == "\ufffd\ufffd"
    assert decode_segment("plain") == "plain"


# ---------------------------------------------------------------- router_path

@pytest.mark.parametrize("raw, path", [
    ("/api/webhook", "/api/webhook"),
    ("/api/%77ebhook", "/api/webhook"),
    ("/webhooks%2Fx/delete", "/webhooks%2Fx/delete"),
    ("/webhooks%2fx/delete", "/webhooks%2Fx/delete"),
    ("/caf%C3%A9/%2541", "/café/%2541"),
    ("/%25/%252F", "/%25/%252F"),
    ("/a//b/", "/a//b/"),
    ("/%FF", "/\ufffd"),
    ("*", ""),
    ("", ""),
])
def test_router_path(raw, path):
    assert router_path(raw) == path


def test_router_path_is_one_string_per_list_of_segments():
    seen = {}
    for raw in RAW_PATHS:
        path = router_path(raw)
        key = tuple(split_path(raw))
        assert seen.setdefault(path, key) == key, (raw, path)
        # Every "/" in it is a boundary: splitting it again gives as many segments.
        assert path.count("/") == len(key)


# ---------------------------------------------------------------- PathPatterns

@pytest.mark.parametrize("patterns, raw, expected", [
    (["/api/webhook"], "/api/webhook", True),
    (["/api/webhook"], "/api/%77ebhook", True),
    (["/api/webhook"], "/api%2Fwebhook", False),
    (["/api/webhook"], "/api/webhook/", False),
    (["/api/webhook"], "//api/webhook", False),
    (["/webhooks/*"], "/webhooks/github", True),
    (["/webhooks/*"], "/webhooks/", True),
    (["/webhooks/*"], "/webhooks/a/b", True),
    (["/webhooks/*"], "/webhooks/a%2Fb", True),
    (["/webhooks/*"], "/webhooks/..", True),
    (["/webhooks/*"], "/webhooks", False),
    (["/webhooks/*"], "/webhooks%2Fx/delete", False),
    (["/webhooks/*"], "/webhooks%2F", False),
    (["/webhooks/*"], "/webhooksx/y", False),
    (["/*"], "/anything/at/all", True),
    (["/*"], "/", True),
    (["/*"], "*", False),
    (["/"], "/", True),
    (["/"], "//", False),
    (["/api/*/hook"], "/api/v1/hook", True),
    (["/api/*/hook"], "/api/a%2Fb/hook", True),   # one segment, as a {name} parameter matches it
    (["/api/*/hook"], "/api//hook", False),       # not an empty one
    (["/api/*/hook"], "/api/a/b/hook", False),
    (["/api/*/hook"], "/api%2Fv1/hook", False),
    (["/api/*/hooks/*"], "/api/v1/hooks/x/y", True),
    (["/api/*/hooks/*"], "/api/v1/hooks", False),
    (["/café/*"], "/caf%C3%A9/x", True),
    (["/café/*"], "/caf%E9/x", False),
    (["/100%/x"], "/100%25/x", True),             # literal text, as in a route path
    (["/a.b"], "/a.b", True),                     # a regex character is only itself
    (["/a.b"], "/axb", False),
    ([re.compile(r"/api/v[0-9]+/ping")], "/api/v%31/ping", True),
    ([re.compile(r"/api/v[0-9]+/ping")], "/api%2Fv1/ping", False),
    ([re.compile(r"/api/.*")], "/api%2Fx/delete", False),
    ([re.compile(r"/files/[^/]+")], "/files/a%2Fb", True),
    ([re.compile(r"/p/%25")], "/p/%25", True),
    ([], "/anything", False),
])
def test_path_patterns(patterns, raw, expected):
    assert PathPatterns(patterns)(raw) is expected


def test_a_bad_escape_is_a_literal_percent_as_for_the_router():
    # unquote leaves "%/" alone, so "/100%/x" is the segments "100%" and "x", as "/100%25/x" is.
    assert split_path("/100%/x") == split_path("/100%25/x") == ["100%", "x"]
    assert PathPatterns(["/100%/x"])("/100%/x") is True


@pytest.mark.parametrize("pattern, exc, message", [
    ("/webhooks*", ValueError, "in exempt paths a '*' stands for whole segments (\"/webhooks/*\"), "
                               "not part of one, got '/webhooks*'"),
    ("/api/v*/ping", ValueError, "in exempt paths a '*' stands for whole segments (\"/webhooks/*\"), "
                                 "not part of one, got '/api/v*/ping'"),
    ("webhooks/*", ValueError, "exempt paths start with '/', as route paths do, got 'webhooks/*'"),
    ("", ValueError, "exempt paths start with '/', as route paths do, got ''"),
    (re.compile(rb"/x"), TypeError, "exempt paths are matched against text: compile the regex from a str, "
                                    "got re.compile(b'/x')"),
    (42, TypeError, "exempt paths are strings or compiled regexes, got 42"),
])
def test_patterns_that_cannot_mean_what_they_say_are_refused(pattern, exc, message):
    with pytest.raises(exc) as info:
        PathPatterns([pattern], "exempt paths")
    assert str(info.value) == message


def test_repr():
    p = PathPatterns(["/a", "/b/*", "/c/*/d", re.compile("/e")])
    assert repr(p) == "PathPatterns(exact=['/a'], prefixes=['/b/'], patterns=['/c/[^/]+/d', '/e'])"


# Each pattern beside the route that means the same path. "/x/*" is "/x/{rest:path}" except for
# "/x" itself, which the path converter takes with an empty rest and "/x/*" does not.
EQUIVALENT = [
    ("/webhooks", "/webhooks"),
    ("/webhooks/x", "/webhooks/x"),
    ("/café", "/café"),
    ("/", "/"),
    ("/webhooks/*/delete", "/webhooks/{name}/delete"),
    ("/*/x", "/{name}/x"),
    ("/webhooks/*", "/webhooks/{rest:path}"),
]


@pytest.mark.parametrize("pattern, route", EQUIVALENT)
def test_a_pattern_matches_exactly_what_its_route_matches(pattern, route):
    router = Router()
    router.add_route(route, lambda: None)
    matches = PathPatterns([pattern])
    bare = split_path(pattern[:-2]) if pattern.endswith("/*") else None
    checked = 0
    for raw in RAW_PATHS + ["/", "/webhooks/", "/webhooks//", "/caf%C3%A9", "/webhooks/a/b/c"]:
        if split_path(raw) == bare:
            assert not matches(raw), raw
            continue
        found, _ = router.match("GET", raw)
        assert matches(raw) is (found is not None), raw
        checked += found is not None
    assert checked > 0


# ---------------------------------------------------------------- rate limits follow the router

class Clock:
    def __init__(self):
        self.now = 10_000 * 1_000_000_000

    def __call__(self):
        return self.now


def limited_app(limiter, calls):
    app = Covet()

    @app.post("/webhooks/{name}")
    @limiter.exempt
    async def hook(name: str):
        calls.append(("hook", name))
        return {}

    @app.post("/{section}/delete")
    async def delete(section: str):
        calls.append(("delete", section))
        return {}

    @app.post("/login/{step}")
    @limiter.limit("2/minute")
    def login(step: str):
        calls.append(("login", step))
        return {}

    return app


@pytest.mark.parametrize("mounted", [False, True])
def test_the_rate_limiter_exempts_and_limits_what_the_router_reaches(client, mounted):
    limiter = RateLimiter("1/minute", backend=MemoryLimiterBackend(clock=Clock()))
    calls = []
    app = limited_app(limiter, calls)
    prefix = ""
    if mounted:
        outer = Covet()
        outer.mount("/site", app)
        outer.add_middleware(RateLimitMiddleware(limiter))
        app, prefix = outer, "/site"
    else:
        app.add_middleware(RateLimitMiddleware(limiter))
    c = client(app)
    # @limiter.exempt on /webhooks/{name}: never counted, however the segment is spelled.
    for path in ("/webhooks/a", "/webhooks/a%2Fb", "/webhooks/%2E%2E", "/webhooks/..", "/webhooks/a", "/webhooks/a"):
        assert c.post(prefix + path).status_code == 200
    # /webhooks%2Fx/delete is /{section}/delete: counted against the default 1/minute.
    assert c.post(prefix + "/webhooks%2Fx/delete").status_code == 200
    assert c.post(prefix + "/webhooks%2Fy/delete").status_code == 429
    # /login%2Fx/y is not /login/{step}: it has the default limit, already spent.
    assert c.post(prefix + "/login/a").status_code == 200
    assert c.post(prefix + "/login/%61").status_code == 200
    assert c.post(prefix + "/login/b").status_code == 429
    assert calls == [("hook", "a"), ("hook", "a/b"), ("hook", ".."), ("hook", ".."), ("hook", "a"), ("hook", "a"),
                     ("delete", "webhooks/x"), ("login", "a"), ("login", "a")]


# ---------------------------------------------------------------- no path decisions elsewhere

def test_cors_sessions_and_trusted_hosts_answer_every_spelling_of_a_path_alike(client):
    # They decide on headers (Origin, Cookie, Host), never on the path: the same answer for
    # every spelling, escaped slashes and dot segments included.
    app = Covet()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.test"])
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"])
    app.add_middleware(SessionMiddleware, secret_key="k" * 32)

    @app.get("/{rest:path}")
    async def any_path(request: Request, rest: str):
        request.session["n"] = request.session.get("n", 0) + 1
        return {"rest": rest, "n": request.session["n"]}

    c = client(app, base_url="http://example.test")
    answers = []
    for i, path in enumerate(["/a/b", "/a%2Fb", "/a/%2E%2E/b", "/a/../b", "//a/b", "/a/b/"]):
        r = c.get(path, headers={"Origin": "https://app.example"})
        answers.append((r.status_code, r.headers.get("access-control-allow-origin"), r.json()["n"]))
        assert r.json()["n"] == i + 1
        bad_host = c.get(path, headers={"Host": "evil.test"})
        assert bad_host.status_code == 400
    assert {(s, o) for s, o, _n in answers} == {(200, "https://app.example")}
