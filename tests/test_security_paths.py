"""Path decisions in security middleware see the segments the router matches: split_path
(covet.core._paths) against the router itself."""
import itertools

import pytest

from covet.core._paths import decode_segment, split_path
from covet.core.converters import Converter
from covet.core.routing import Router

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
