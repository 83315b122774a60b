"""covet.core.routing: templates, converters, precedence, 404/405/OPTIONS/HEAD, slashes, url_for, groups, mounts."""
import json
import pickle
import random
import re
import uuid
from urllib.parse import quote

import pytest

from covet import Covet, Depends, Request, Response
from covet.core.routing import Converter, NoMatchFound, Router, UUIDConverter


def problem(status, detail, instance, title):
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}


def echo_app(*paths):
    """An app whose routes return their own path params."""
    app = Covet()
    for i, path in enumerate(paths):
        async def handler(request: Request):
            return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in request.path_params.items()}
        app.add_route(path, handler, name="h%d" % i)
    return app


# -- templates and converters ------------------------------------------------

def test_static_route_matches_exact_path_only(client):
    app = echo_app("/about")
    c = client(app)
    assert c.get("/about").json() == {}
    r = c.get("/about/us")
    assert r.status_code == 404
    assert r.json() == problem(404, "no route for /about/us", "/about/us", "Not Found")


def test_str_param_takes_one_non_empty_segment(client):
    c = client(echo_app("/users/{name}"))
    assert c.get("/users/ada").json() == {"name": "ada"}
    assert c.get("/users/ada/x").status_code == 404
    assert c.get("/users/", follow_redirects=False).status_code == 404


@pytest.mark.parametrize("url, expected", [
    ("/n/7", {"n": 7}),
    ("/n/007", {"n": 7}),
])
def test_int_converter_gives_int(client, url, expected):
    assert client(echo_app("/n/{n:int}")).get(url).json() == expected


@pytest.mark.parametrize("url", ["/n/-1", "/n/+1", "/n/1.5", "/n/abc", "/n/%D9%A3", "/n/" + "1" * 31])
def test_int_converter_refuses_non_digits_with_404(client, url):
    assert client(echo_app("/n/{n:int}")).get(url).status_code == 404


def test_float_converter(client):
    c = client(echo_app("/f/{x:float}"))
    assert c.get("/f/1.5").json() == {"x": 1.5}
    assert c.get("/f/2").json() == {"x": 2.0}
    assert c.get("/f/nan").status_code == 404
    assert c.get("/f/1e5").status_code == 404


def test_uuid_converter(client):
    c = client(echo_app("/u/{id:uuid}"))
    u = "12345678-1234-5678-1234-567812345678"
    assert c.get("/u/" + u).json() == {"id": u}
    assert c.get("/u/" + u.upper()).json() == {"id": u}
    assert c.get("/u/12345678123456781234567812345678").status_code == 404


def test_uuid_converter_gives_a_real_uuid_object():
    router = Router()
    route = router.add_route("/u/{id:uuid}", lambda: None)
    text = "12345678-1234-5678-1234-567812345678"
    found, params = router.match("GET", "/u/" + text.upper())
    assert found is route
    value = params["id"]
    assert type(value) is uuid.UUID
    assert value == uuid.UUID(text) and hash(value) == hash(uuid.UUID(text))
    assert str(value) == text and value.int == 0x12345678123456781234567812345678
    assert value.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(value)) == value


@pytest.mark.parametrize("template, path", [
    ("/u/{id:uuid}", "/u/%s"),                  # the matcher's own UUID test, its bytes reused
    ("/u/{id:uuid}.json", "/u/%s.json"),        # inside a pattern: parsed from the text
    ("/u/{id:uuid}/{n:int}", "/u/%s/7"),        # with a second converted value
])
@pytest.mark.parametrize("shared_leaf", [False, True])
def test_every_path_to_a_uuid_gives_the_same_real_uuid(template, path, shared_leaf):
    router = Router()
    route = router.add_route(template, lambda: None)
    if shared_leaf:
        # another parameter name at the same leaf: values go through Route.build_params
        router.add_route(template.replace("{id:", "{key:"), lambda: None, methods=["POST"])
    text = "0123abcd-1234-5678-9abc-def012345678"
    found, params = router.match("GET", path % text.upper())
    assert found is route
    value = params["id"]
    assert type(value) is uuid.UUID and value == uuid.UUID(text) and str(value) == text
    assert hash(value) == hash(uuid.UUID(text)) and value.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(value)) == value
    assert ("build_params" in router.matcher_source) is shared_leaf


@pytest.mark.parametrize("segment", [
    "12345678-1234-5678-1234-56781234567g",    # not hex
    "1234567-81234-5678-1234-567812345678",    # hyphens out of place
    "12345678-1234-5678-1234-5678123456789",   # one digit too many
    "12345678-1234-5678-1234-56781234567",     # one too few
    "0x345678-1234-5678-1234-567812345678",    # int(..., 16) would take the 0x prefix
    "1234_678-1234-5678-1234-567812345678",    # ... and underscores
    "+2345678-1234-5678-1234-567812345678",    # ... and a sign
    " 2345678-1234-5678-1234-567812345678",    # ... and spaces
    "\u0661\u0662345678-1234-5678-1234-567812345678",  # ... and non-ASCII digits
])
def test_uuid_converter_refuses_what_only_int_would_take(segment):
    router = Router()
    router.add_route("/u/{id:uuid}", lambda: None)
    assert router.match("GET", "/u/" + quote(segment)) == (None, None)


def test_uuid_matching_accepts_exactly_the_converters_regex():
    shape = re.compile(UUIDConverter.regex).fullmatch
    router = Router()
    route = router.add_route("/u/{id:uuid}", lambda: None)
    rng = random.Random(20261203)
    alphabet = "0123456789abcdefABCDEFgxX-_+ \t\u0663\uff11"
    base = "12345678-1234-5678-1234-567812345678"
    for _ in range(3000):
        chars = list(base)
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            pos = rng.randrange(len(chars) + 1)
            if op < 0.6 and pos < len(chars):
                chars[pos] = rng.choice(alphabet)
            elif op < 0.8:
                chars.insert(pos, rng.choice(alphabet))
            elif chars:
                del chars[min(pos, len(chars) - 1)]
        segment = "".join(chars)
        found, params = router.match("GET", "/u/" + quote(segment))
        if shape(segment):
            assert found is route and params == {"id": uuid.UUID(segment)}, segment
        else:
            assert found is None, segment


def test_a_converter_whose_convert_refuses_gives_404(client):
    class Even(Converter):
        regex = "[0-9]+"

        def convert(self, value):
            if int(value) % 2:
                raise ValueError("odd")
            return int(value)

    app = Covet()
    app.register_converter("even", Even())

    @app.get("/n/{n:even}")
    async def n(n: int):
        return {"n": n}

    c = client(app)
    assert c.get("/n/4").json() == {"n": 4}
    assert c.get("/n/5").status_code == 404


def test_routes_on_one_path_may_name_their_params_differently(client):
    app = Covet()

    @app.get("/a/{x}")
    async def get_a(x):
        return {"x": x}

    @app.put("/a/{y}")
    async def put_a(y):
        return {"y": y}

    @app.post("/a/{z:int}")
    async def post_a(z: int):
        return {"z": z}

    c = client(app)
    assert c.get("/a/1").json() == {"x": "1"}
    assert c.put("/a/2").json() == {"y": "2"}
    assert c.post("/a/3").json() == {"z": 3}
    assert c.post("/a/q").status_code == 405


def test_path_converter_takes_the_rest_with_slashes(client):
    c = client(echo_app("/files/{p:path}"))
    assert c.get("/files/a/b/c.txt").json() == {"p": "a/b/c.txt"}
    assert c.get("/files/a%20b/c").json() == {"p": "a b/c"}


def test_custom_registered_converter(client):
    class Slug(Converter):
        regex = "[a-z0-9]+(?:-[a-z0-9]+)*"

        def convert(self, value):
            return value.upper()

        def to_url(self, value):
            return value.lower()

    app = Covet()
    app.register_converter("slug", Slug())

    @app.get("/posts/{s:slug}")
    async def post(s):
        return {"s": s}

    c = client(app)
    assert c.get("/posts/hello-world").json() == {"s": "HELLO-WORLD"}
    assert c.get("/posts/Hello").status_code == 404
    assert app.url_for("post", s="HELLO-WORLD") == "/posts/hello-world"


def test_register_converter_needs_a_converter_instance():
    with pytest.raises(TypeError, match="Converter instance"):
        Covet().register_converter("slug", str)


def test_the_converter_type_error_names_a_class_that_can_be_imported():
    import covet
    from covet.core import routing

    with pytest.raises(TypeError) as info:
        Covet().register_converter("slug", str)
    assert str(info.value) == ("converter must be a covet.core.routing.Converter instance "
                               "(also importable as covet.Converter), got <class 'str'>")
    assert routing.Converter is covet.Converter  # both names in the message resolve


def test_unknown_converter_raises_at_registration():
    with pytest.raises(ValueError, match="unknown converter 'nope' in route path '/x/{a:nope}'"):
        Covet().add_route("/x/{a:nope}", lambda: None)


@pytest.mark.parametrize("path, message", [
    ("x", "route path must start with '/': 'x'"),
    ("/a/{b", "malformed parameter in route path '/a/{b': '{b'"),
    ("/a/{b}/{b}", "parameter 'b' appears twice in route path '/a/{b}/{b}'"),
    ("/a/{p:path}/b", "a {name:path} parameter must be the last segment: '/a/{p:path}/b'"),
    ("/a/x{p:path}", "a {name:path} parameter must fill its whole segment: '/a/x{p:path}'"),
])
def test_bad_templates_raise_with_the_path_named(path, message):
    async def h():
        return None
    with pytest.raises(ValueError) as info:
        Covet().add_route(path, h)
    assert str(info.value) == message


def test_invalid_method_refused_at_registration():
    with pytest.raises(ValueError, match="invalid HTTP method 'GE T'"):
        Covet().add_route("/x", lambda: None, methods=["GE T"])


def test_mixed_segment_name_and_extension(client):
    c = client(echo_app("/dl/{name}.{ext}", "/v/{major:int}.{minor:int}"))
    assert c.get("/dl/report.final.pdf").json() == {"name": "report", "ext": "final.pdf"}
    assert c.get("/dl/report").status_code == 404
    assert c.get("/v/2.13").json() == {"major": 2, "minor": 13}
    assert c.get("/v/2.x").status_code == 404


# -- precedence and backtracking -------------------------------------------------

def test_precedence_literal_then_typed_then_str_then_path(client):
    app = Covet()

    @app.get("/p/me")
    async def literal():
        return "literal"

    @app.get("/p/{n:int}")
    async def typed(n):
        return "int"

    @app.get("/p/{name}")
    async def string(name):
        return "str"

    @app.get("/p/{rest:path}")
    async def rest(rest):
        return "path"

    c = client(app)
    assert [c.get(u).text for u in ("/p/me", "/p/42", "/p/bob", "/p/a/b")] == ["literal", "int", "str", "path"]


def test_precedence_does_not_depend_on_registration_order(client):
    app = Covet()

    @app.get("/p/{rest:path}")
    async def rest(rest):
        return "path"

    @app.get("/p/{name}")
    async def string(name):
        return "str"

    @app.get("/p/{n:int}")
    async def typed(n):
        return "int"

    @app.get("/p/me")
    async def literal():
        return "literal"

    c = client(app)
    assert [c.get(u).text for u in ("/p/me", "/p/42", "/p/bob", "/p/a/b")] == ["literal", "int", "str", "path"]


def test_static_post_route_does_not_hide_dynamic_get(client):
    app = Covet()

    @app.post("/users/me")
    async def update_me():
        return "me"

    @app.get("/users/{user_id}")
    async def get_user(user_id):
        return "user " + user_id

    c = client(app)
    assert c.get("/users/me").text == "user me"
    assert c.post("/users/me").text == "me"
    assert c.post("/users/7").headers["allow"] == "GET, HEAD, OPTIONS"


def test_backtracks_out_of_a_typed_branch_that_fails_deeper(client):
    c = client(echo_app("/a/{x:int}/b", "/a/{y}/c"))
    assert c.get("/a/5/b").json() == {"x": 5}
    assert c.get("/a/5/c").json() == {"y": "5"}


def test_same_shape_same_method_is_a_conflict_with_a_clear_message():
    app = Covet()

    @app.get("/items/{item_id}")
    async def first(item_id):
        return None

    async def second(name):
        return None

    with pytest.raises(ValueError) as info:
        app.add_route("/items/{name}", second)
    assert str(info.value) == (
        "route conflict: GET /items/{name} (second) overlaps GET /items/{item_id} (first), registered earlier"
    )


def test_same_path_other_method_or_other_type_is_not_a_conflict(client):
    app = echo_app("/items/{item_id}", "/items/{n:int}")

    @app.delete("/items/{item_id}")
    async def remove(item_id):
        return None

    c = client(app)
    assert c.get("/items/x").json() == {"item_id": "x"}
    assert c.get("/items/3").json() == {"n": 3}
    assert c.delete("/items/x").status_code == 204


def test_path_catchalls_at_the_same_place_conflict():
    app = echo_app("/s/{a:path}")
    with pytest.raises(ValueError, match="route conflict: GET /s/{b:path}"):
        app.add_route("/s/{b:path}", lambda: None)


# -- raw segments, percent-decoding, non-ASCII -----------------------------------

def test_encoded_slash_stays_inside_its_segment(client):
    c = client(echo_app("/files/{name}", "/files/{name}/meta"))
    assert c.get("/files/a%2Fb").json() == {"name": "a/b"}
    assert c.get("/files/a%2Fb/meta").json() == {"name": "a/b"}
    assert c.get("/files/a/b").status_code == 404


def test_encoded_slash_does_not_match_a_literal_with_two_segments(client):
    app = Covet()

    @app.get("/a/b")
    async def ab():
        return "ab"

    c = client(app)
    assert c.get("/a/b").text == "ab"
    assert c.get("/a%2Fb").status_code == 404


def test_dot_dot_segments_are_plain_text(client, dispatch):
    app = echo_app("/a/{x}/b", "/secret")
    c = client(app)
    assert c.get("/a/../b").json() == {"x": ".."}
    assert c.get("/a/%2E%2E/b").json() == {"x": ".."}
    assert dispatch(app, "GET", "/a/../secret").status_code == 404
    assert dispatch(app, "GET", "/a/b/../../secret").status_code == 404


def test_params_are_percent_decoded_exactly_once(client):
    c = client(echo_app("/q/{v}", "/r/{p:path}"))
    assert c.get("/q/100%2525").json() == {"v": "100%25"}
    assert c.get("/q/a%20b%3F").json() == {"v": "a b?"}
    assert c.get("/r/x%2520/y").json() == {"p": "x%20/y"}


def test_non_ascii_routes_and_params(client):
    app = echo_app("/café/{name}")
    c = client(app)
    assert c.get("/café/zoë").json() == {"name": "zoë"}
    assert c.get("/caf%C3%A9/zo%C3%AB").json() == {"name": "zoë"}
    assert c.get("/caf%c3%a9/%E2%9C%93").json() == {"name": "✓"}
    assert app.url_for("h0", name="zoë") == "/caf%C3%A9/zo%C3%AB"


def test_invalid_utf8_percent_escape_is_a_4xx_never_a_crash(client, dispatch):
    app = echo_app("/e/{name}")
    r = dispatch(app, "GET", "/nothing/%FF")
    assert r.status_code == 404
    assert json.loads(r.body)["instance"] == "/nothing/\ufffd"
    r = dispatch(app, "GET", "/e/%FF%FE")
    assert (r.status_code, json.loads(r.body)) == (200, {"name": "\ufffd\ufffd"})


# -- HEAD, 405, OPTIONS --------------------------------------------------------------

def test_head_is_answered_from_get_without_body_but_with_content_length(client):
    app = Covet()
    calls = []

    @app.get("/doc")
    async def doc():
        calls.append(1)
        return {"hello": "world"}

    c = client(app)
    get = c.get("/doc")
    head = c.head("/doc")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == "application/json"
    assert len(calls) == 2


def test_explicit_head_route_wins_over_get(client):
    app = Covet()

    @app.get("/x")
    async def x_get():
        return "get"

    @app.head("/x")
    async def x_head():
        return Response(b"", 200, {"x-which": "head"})

    r = client(app).head("/x")
    assert (r.status_code, r.headers["x-which"], r.headers["content-length"]) == (200, "head", "0")


def test_405_lists_allow_from_every_route_on_the_path(client):
    app = Covet()

    @app.get("/items/{item_id}")
    async def read(item_id):
        return None

    @app.delete("/items/{item_id:int}")
    async def remove(item_id):
        return None

    @app.put("/items/special")
    async def special():
        return None

    c = client(app)
    r = c.post("/items/special")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == problem(405, "method POST is not allowed for /items/special", "/items/special",
                               "Method Not Allowed")
    assert c.post("/items/3").headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
    assert c.post("/items/x").headers["allow"] == "GET, HEAD, OPTIONS"


def test_405_for_static_route_and_unknown_method(client):
    app = Covet()

    @app.route("/s", methods=["GET", "POST"])
    async def s():
        return "s"

    c = client(app)
    assert c.post("/s").text == "s"
    r = c.request("PROPFIND", "/s")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_head_on_a_post_only_path_is_405(client):
    app = Covet()

    @app.post("/only")
    async def only():
        return None

    r = client(app).head("/only")
    assert r.status_code == 405
    assert r.headers["allow"] == "OPTIONS, POST"


def test_automatic_options_is_204_with_allow(client):
    app = Covet()

    @app.get("/x")
    async def x():
        return None

    @app.patch("/x")
    async def x2():
        return None

    r = client(app).options("/x")
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers.items() == [("allow", "GET, HEAD, OPTIONS, PATCH")]


def test_explicit_options_route_replaces_the_automatic_answer(client):
    app = Covet()

    @app.get("/x")
    async def x():
        return None

    @app.options("/x")
    async def opts():
        return "custom", 200

    assert client(app).options("/x").text == "custom"


def test_options_asterisk_lists_every_method_and_never_hits_root(dispatch):
    app = Covet()
    hits = []

    @app.get("/")
    async def root():
        hits.append("root")
        return "root"

    @app.delete("/things/{t}")
    async def rm(t):
        return None

    r = dispatch(app, "OPTIONS", "*")
    assert r.status_code == 204
    assert r.raw_headers == [(b"allow", b"DELETE, GET, HEAD, OPTIONS")]
    assert dispatch(app, "GET", "*").status_code == 404
    assert hits == []


def test_unknown_path_with_any_method_is_404(client):
    c = client(echo_app("/a"))
    for method in ("GET", "POST", "DELETE", "OPTIONS", "BREW"):
        assert c.request(method, "/zzz").status_code == 404


# -- trailing slashes ----------------------------------------------------------------------

def test_trailing_slash_redirects_308_both_ways_keeping_the_query(client):
    app = echo_app("/noslash", "/slash/")
    c = client(app, follow_redirects=False)
    r = c.get("/noslash/?a=1&b=%20")
    assert (r.status_code, r.headers["location"], r.content) == (308, "/noslash?a=1&b=%20", b"")
    r = c.post("/slash?x=y")
    assert (r.status_code, r.headers["location"]) == (308, "/slash/?x=y")
    assert client(app).get("/noslash/").status_code == 200


def test_no_slash_redirect_when_disabled(client):
    app = Covet(redirect_slashes=False)

    @app.get("/a")
    async def a():
        return None

    assert client(app, follow_redirects=False).get("/a/").status_code == 404


def test_slash_redirect_never_targets_another_host(dispatch):
    app = Covet()

    async def h():
        return "x"
    # Routes whose slash twin would read as //host or /\host in a browser.
    app.add_route("//evil.com", h, name="a")
    app.add_route("/\\evil.com", h, name="b")
    app.add_route("//evil.com/x/", h, name="c")
    for raw in ("//evil.com/", "/\\evil.com/", "//evil.com/x"):
        r = dispatch(app, "GET", raw)
        assert r.status_code == 404, raw
        assert not any(k == b"location" for k, _ in r.raw_headers)


# -- url_for ------------------------------------------------------------------------------

def test_url_for_fills_params_and_puts_extras_in_the_query():
    app = echo_app("/users/{user_id:int}/posts/{slug}")
    assert app.url_for("h0", user_id=3, slug="hi there") == "/users/3/posts/hi%20there"
    assert app.url_for("h0", user_id=3, slug="a/b", tab="x y", tag=["a", "b"]) == \
        "/users/3/posts/a%2Fb?tab=x+y&tag=a&tag=b"


def test_url_for_errors():
    app = echo_app("/users/{user_id:int}", "/f/{x:float}")
    with pytest.raises(NoMatchFound, match="no route named 'nope'"):
        app.url_for("nope")
    with pytest.raises(NoMatchFound, match="route 'h0' needs parameter\\(s\\) user_id"):
        app.url_for("h0")
    with pytest.raises(NoMatchFound, match="route 'h0': "):
        app.url_for("h0", user_id="abc")
    with pytest.raises(NoMatchFound, match="negative integers"):
        app.url_for("h0", user_id=-1)
    with pytest.raises(NoMatchFound, match="finite non-negative"):
        app.url_for("h1", x=float("nan"))
    assert app.url_for("h1", x=2.5) == "/f/2.5"


def test_url_for_refuses_values_that_would_not_lead_back_to_the_route(client):
    app = echo_app("/i/{n:int}", "/f/{x:float}", "/s/{name}", "/u/{id:uuid}", "/m/{a}-{b}.txt")
    for kwargs in ({"n": True}, {"n": 1.5}, {"n": "1x"}):
        with pytest.raises(NoMatchFound, match="route 'h0': "):
            app.url_for("h0", **kwargs)
    assert app.url_for("h0", n=2.0) == "/i/2" and app.url_for("h0", n="7") == "/i/7"
    with pytest.raises(NoMatchFound, match="'' is not a value of {name}"):
        app.url_for("h2", name="")
    with pytest.raises(NoMatchFound, match="'nope' is not a value of {id}"):
        app.url_for("h3", id="nope")
    with pytest.raises(NoMatchFound, match="would not split back"):
        app.url_for("h4", a="x-y", b="z")  # '/m/x-y-z.txt' matches as a='x', b='y-z'
    c = client(app)
    # Every path url_for builds is answered by its route with the values given.
    for name, kwargs, expected in [
        ("h1", {"x": 1e-7}, {"x": 1e-7}), ("h1", {"x": 0.1}, {"x": 0.1}), ("h1", {"x": 1e22}, {"x": 1e22}),
        ("h2", {"name": ".."}, {"name": ".."}), ("h2", {"name": "."}, {"name": "."}),
        ("h2", {"name": "a/b?c#d%"}, {"name": "a/b?c#d%"}),
        ("h3", {"id": uuid.UUID(int=7)}, {"id": str(uuid.UUID(int=7))}),
        ("h4", {"a": "x", "b": "y-z"}, {"a": "x", "b": "y-z"}),
    ]:
        url = app.url_for(name, **kwargs)
        assert c.get(url).json() == expected, url
    assert app.url_for("h1", x=1e-7) == "/f/0.0000001"
    assert app.url_for("h2", name="..") == "/s/%2E%2E"


def test_url_for_leaves_none_out_of_the_query():
    app = echo_app("/s/{name}")
    assert app.url_for("h0", name="x", a=None, b=[1, None, 2], c=0) == "/s/x?b=1&b=2&c=0"


def test_url_for_never_returns_a_scheme_relative_url():
    app = echo_app("/{p:path}", "/{a}/{b}")
    assert app.url_for("h0", p="/evil.com") == "/%2Fevil.com"
    assert app.url_for("h0", p="\\evil.com") == "/%5Cevil.com"
    assert app.url_for("h1", a="/evil.com", b="x") == "/%2Fevil.com/x"
    with pytest.raises(NoMatchFound):  # an empty {a} could never match, so no "//evil.com" either
        app.url_for("h1", a="", b="evil.com")
    assert app.url_for("h0", p="https:evil.com") == "/https:evil.com"
    assert app.url_for("h1", a="a?b#c", b="%2F") == "/a%3Fb%23c/%252F"


def test_url_for_name_defaults_to_function_name_and_first_registration_wins():
    app = Covet()

    @app.get("/a")
    async def page():
        return None

    @app.get("/b", name="page")
    async def other():
        return None

    assert app.url_for("page") == "/a"
    with pytest.raises(NoMatchFound):
        app.url_for("other")


# -- groups, include_router, mount ----------------------------------------------------------

def tag_mw(tag):
    async def mw(request, call_next):
        response = await call_next(request)
        response.headers.append("x-mw", tag)
        return response
    return mw


def test_group_prefix_and_middleware_apply_only_to_group_routes(client):
    app = Covet()
    api = app.group("/api", middleware=[tag_mw("api")])

    @api.get("/items")
    async def items():
        return []

    @app.get("/plain")
    async def plain():
        return []

    c = client(app)
    r = c.get("/api/items")
    assert (r.status_code, r.headers.getlist("x-mw")) == (200, ["api"])
    assert c.get("/plain").headers.getlist("x-mw") == []
    assert c.get("/items").status_code == 404
    assert app.url_for("items") == "/api/items"


def test_group_dependencies_run_for_each_group_route(client):
    app = Covet()
    seen = []

    def audit(request: Request):
        seen.append(request.path)

    api = app.route_group("/api", dependencies=[Depends(audit)])

    @api.get("/a")
    async def a():
        return None

    @app.get("/b")
    async def b():
        return None

    c = client(app)
    c.get("/api/a")
    c.get("/b")
    assert seen == ["/api/a"]


def test_nested_groups_stack_prefixes_and_middleware_outer_first(client):
    app = Covet()
    api = app.group("/api", middleware=[tag_mw("outer")])
    v1 = api.group("/v1", middleware=[tag_mw("inner")])

    @v1.get("/ping")
    async def ping():
        return "pong"

    r = client(app).get("/api/v1/ping")
    assert r.text == "pong"
    # Headers are appended on the way out: inner first, outer last.
    assert r.headers.getlist("x-mw") == ["inner", "outer"]
    assert [rt.path for rt in v1.routes] == ["/api/v1/ping"]


def test_include_router_adds_routes_under_prefix_with_its_converters(client):
    class Hex(Converter):
        regex = "[0-9a-f]+"

        def convert(self, value):
            return int(value, 16)

    router = Router(prefix="/things", middleware=[tag_mw("router")])
    router.register_converter("hex", Hex())

    @router.get("/{n:hex}")
    async def thing(n: int):
        return {"n": n}

    app = Covet()
    app.include_router(router, prefix="/v2")
    r = client(app).get("/v2/things/ff")
    assert r.json() == {"n": 255}
    assert r.headers["x-mw"] == "router"
    assert app.url_for("thing", n=255) == "/v2/things/255"


def test_routes_are_listed_in_registration_order():
    app = Covet()
    for path in ("/z", "/a/{x}", "/m"):
        app.add_route(path, lambda: None, name=path)
    api = app.group("/g")
    api.add_route("/q", lambda: None, name="q")
    assert [(r.path, sorted(r.methods), r.name) for r in app.routes] == [
        ("/z", ["GET"], "/z"), ("/a/{x}", ["GET"], "/a/{x}"), ("/m", ["GET"], "/m"), ("/g/q", ["GET"], "q"),
    ]


def make_sub_app(events):
    sub = Covet()

    @sub.middleware
    async def mark(request, call_next):
        response = await call_next(request)
        response.headers["x-sub"] = "yes"
        return response

    @sub.get("/")
    async def sub_root(request: Request):
        return {"root_path": request.root_path, "path": request.path, "url": str(request.url)}

    @sub.get("/users/{uid:int}")
    async def sub_user(uid):
        return {"uid": uid}

    @sub.exception_handler(404)
    async def sub_404(request, exc):
        return "sub 404", 404

    @sub.on_startup
    def started():
        events.append("sub started")

    @sub.on_shutdown
    def stopped():
        events.append("sub stopped")

    return sub


def test_mounted_app_runs_its_own_middleware_handlers_and_lifecycle(client):
    events = []
    app = Covet()
    app.mount("/admin", make_sub_app(events))

    @app.get("/")
    async def main_root():
        return "main"

    with client(app) as c:
        assert events == ["sub started"]
        r = c.get("/admin/users/5")
        assert (r.json(), r.headers["x-sub"]) == ({"uid": 5}, "yes")
        assert c.get("/admin").json() == {"root_path": "/admin", "path": "/", "url": "http://testserver/admin/"}
        r = c.get("/admin/nope")
        assert (r.status_code, r.text) == (404, "sub 404")
        assert "x-sub" not in c.get("/").headers
        assert c.get("/administrator").status_code == 404
    assert events == ["sub started", "sub stopped"]


def test_url_for_reaches_into_mounted_apps_and_redirects_keep_the_prefix(client):
    app = Covet()
    app.mount("/admin", make_sub_app([]))
    assert app.url_for("sub_user", uid=9) == "/admin/users/9"
    r = client(app, follow_redirects=False).get("/admin/users/9/?x=1")
    assert (r.status_code, r.headers["location"]) == (308, "/admin/users/9?x=1")


def test_mount_prefix_must_be_a_real_prefix():
    with pytest.raises(ValueError, match="mount prefix must start with '/'"):
        Covet().mount("/", Covet())
    with pytest.raises(ValueError, match="mount prefix must start with '/'"):
        Covet().mount("admin", Covet())


# -- the Router on its own ------------------------------------------------------------------------

def test_router_match_reports_route_params_or_allowed_methods():
    router = Router()

    async def h():
        return None

    route = router.add_route("/a/{x:int}", h, methods=["PUT"])
    assert router.match("PUT", "/a/1") == (route, {"x": 1})
    assert router.match("GET", "/a/1") == (None, {"PUT", "OPTIONS"})
    assert router.match("GET", "/b") == (None, None)


def test_a_uuid_before_a_wide_fan_of_literals_reaches_every_branch():
    router = Router()
    routes = [router.add_route("/u/{a:uuid}/x%d/{n:int}" % i, lambda: None) for i in range(8)]
    text = "12345678-1234-5678-1234-567812345678"
    for i, route in enumerate(routes):
        assert router.match("GET", "/u/%s/x%d/%d" % (text, i, i)) == (route, {"a": uuid.UUID(text), "n": i})
    assert router.match("GET", "/u/%s/x9/1" % text) == (None, None)
    assert router.match("GET", "/u/%sg/x1/1" % text[:-1]) == (None, None)


def test_percent_encoded_segments_are_decoded_before_converters_and_for_405():
    router = Router()
    u = router.add_route("/u/{a:uuid}", lambda: None)
    router.add_route("/s/{x}", lambda: None, methods=["PUT"])
    assert router.match("GET", "/u/%312345678-1234-5678-1234-56781234567%61") == (
        u, {"a": uuid.UUID("12345678-1234-5678-1234-56781234567a")})
    assert router.match("GET", "/u/1234567%2D1234-5678-1234-567812345678") == (None, None)  # '-' out of place
    assert router.match("GET", "/s/a%20b") == (None, {"PUT", "OPTIONS"})
    assert router.match("PUT", "/s/a%2Fb")[1] == {"x": "a/b"}


def test_a_match_taken_before_the_first_request_follows_routes_added_later():
    router = Router()
    match = router.match  # bound before the router compiled its matcher
    a = router.add_route("/a/{x:int}", lambda: None)
    assert match("GET", "/a/1") == (a, {"x": 1})
    b = router.add_route("/b/{y}", lambda: None)
    assert match("GET", "/b/2") == (b, {"y": "2"})
    assert router.match("GET", "/b/2") == (b, {"y": "2"})
    assert "def match(method, raw_path):" in router.matcher_source


# -- group and route middleware get errors as responses, as app middleware does ------------------

def watching(log, tag):
    """A middleware recording what its call_next gave: (tag, status) or (tag, exception name)."""
    async def mw(request, call_next):
        try:
            response = await call_next(request)
        except Exception as exc:
            log.append((tag, type(exc).__name__))
            raise
        assert isinstance(response, Response)
        log.append((tag, response.status_code, response.headers.get("content-type")))
        return response
    return mw


def errors_app(log):
    from covet import HTTPException

    app = Covet()
    app.add_middleware(watching(log, "app"))
    api = app.group("/api", middleware=[watching(log, "group")])
    v1 = api.group("/v1", middleware=[watching(log, "nested")])

    @v1.get("/teapot", middleware=[watching(log, "route")])
    async def teapot():
        raise HTTPException(418, "short and stout")

    @v1.get("/items/{n:int}", middleware=[watching(log, "route")])
    async def item(n: int, limit: int = 10):
        return {"n": n, "limit": limit}

    @v1.get("/boom", middleware=[watching(log, "route")])
    async def boom():
        raise RuntimeError("boom")

    return app


def test_route_group_and_nested_group_middleware_see_a_handlers_http_exception_as_its_response(client):
    log = []
    r = client(errors_app(log)).get("/api/v1/teapot")
    assert (r.status_code, r.json()["detail"]) == (418, "short and stout")
    problem = "application/problem+json"
    assert log == [("route", 418, problem), ("nested", 418, problem), ("group", 418, problem),
                   ("app", 418, problem)]


def test_every_level_sees_the_422_of_a_bad_parameter_as_a_response(client):
    log = []
    r = client(errors_app(log)).get("/api/v1/items/3?limit=x")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["query", "limit"], "msg": "must be of type integer", "type": "type"}]
    assert [entry[:2] for entry in log] == [("route", 422), ("nested", 422), ("group", 422), ("app", 422)]


def test_exception_handlers_still_answer_for_errors_under_group_middleware(client):
    log = []
    app = errors_app(log)

    @app.exception_handler(418)
    async def teapot_page(request, exc):
        return Response(b"I am a teapot", 418, media_type="text/plain")

    @app.exception_handler(RuntimeError)
    async def runtime(request, exc):
        return Response(b"handled: " + str(exc).encode(), 503, media_type="text/plain")

    c = client(app)
    r = c.get("/api/v1/teapot")
    assert (r.status_code, r.text) == (418, "I am a teapot")
    assert log == [(level, 418, "text/plain; charset=utf-8") for level in ("route", "nested", "group", "app")]
    log.clear()
    r = c.get("/api/v1/boom")
    assert (r.status_code, r.text) == (503, "handled: boom")
    assert log == [(level, 503, "text/plain; charset=utf-8") for level in ("route", "nested", "group", "app")]


def test_an_http_exception_raised_by_inner_group_middleware_reaches_outer_ones_as_a_response(client):
    from covet import HTTPException

    log = []
    app = Covet()

    async def require_key(request, call_next):
        if request.headers.get("x-key") != "k":
            raise HTTPException(401, "no key", headers={"WWW-Authenticate": "Key"})
        return await call_next(request)

    api = app.group("/api", middleware=[watching(log, "group")])
    admin = api.group("/admin", middleware=[require_key])

    @admin.get("/stats", middleware=[watching(log, "route")])
    async def stats():
        return {"users": 3}

    c = client(app)
    r = c.get("/api/admin/stats")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Key")
    assert log == [("group", 401, "application/problem+json")]
    log.clear()
    assert c.get("/api/admin/stats", headers={"x-key": "k"}).json() == {"users": 3}
    assert log == [("route", 200, "application/json"), ("group", 200, "application/json")]


def test_an_unhandled_error_passes_group_middleware_as_the_exception(client):
    log = []
    r = client(errors_app(log), raise_server_exceptions=False).get("/api/v1/boom")
    assert r.status_code == 500
    assert log == [(level, "RuntimeError") for level in ("route", "nested", "group", "app")]


def test_a_yield_dependency_sees_the_error_a_group_middleware_got_as_a_response(client):
    from covet import HTTPException

    seen = []

    async def session():
        try:
            yield "s"
        except HTTPException as exc:
            seen.append(exc.status_code)
            raise

    app = Covet()
    api = app.group("/api", middleware=[watching([], "group")])

    @api.get("/fail")
    async def fail(s=Depends(session)):
        raise HTTPException(409, "conflict")

    assert client(app).get("/api/fail").status_code == 409
    assert seen == [409]


# -- apps mounted through a group -----------------------------------------------------------

def test_a_group_middleware_guards_an_app_mounted_under_it(client):
    from covet import HTTPException

    log = []

    async def require_key(request, call_next):
        # Runs before the request enters the mounted app: the outer app and the full path.
        log.append((request.path, request.root_path, request.app is app))
        if request.headers.get("x-key") != "k":
            raise HTTPException(401, "missing key", {"WWW-Authenticate": "Key"})
        return await call_next(request)

    events = []
    app = Covet()
    admin = app.group("/admin", middleware=[tag_mw("group"), require_key])
    admin.mount("/sub", make_sub_app(events))

    @admin.get("/own")
    async def own():
        return "own"

    c = client(app)
    r = c.get("/admin/sub/users/5")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Key")
    assert r.headers.getlist("x-mw") == ["group"] and "x-sub" not in r.headers
    assert log == [("/admin/sub/users/5", "", True)]
    r = c.get("/admin/sub/users/5", headers={"x-key": "k"})
    # the mounted app's own middleware runs inside the group's
    assert (r.json(), r.headers["x-sub"], r.headers.getlist("x-mw")) == ({"uid": 5}, "yes", ["group"])
    r = c.get("/admin/sub", headers={"x-key": "k"})
    assert r.json() == {"root_path": "/admin/sub", "path": "/", "url": "http://testserver/admin/sub/"}
    r = c.get("/admin/sub/nope", headers={"x-key": "k"})  # the mounted app's 404 handler answers
    assert (r.status_code, r.text, r.headers.getlist("x-mw")) == (404, "sub 404", ["group"])
    assert c.get("/admin/own").status_code == 401
    assert app.url_for("sub_user", uid=3) == "/admin/sub/users/3"


def test_nested_groups_run_their_middleware_outer_first_for_a_mounted_app(client):
    app = Covet(middleware=[tag_mw("app")])
    inner = app.group("/a", middleware=[tag_mw("outer")]).group("/b", middleware=[tag_mw("inner")])
    inner.mount("/m", make_sub_app([]), middleware=[tag_mw("mount")])
    r = client(app).get("/a/b/m/users/1")
    assert (r.json(), r.headers["x-sub"]) == ({"uid": 1}, "yes")
    assert r.headers.getlist("x-mw") == ["mount", "inner", "outer", "app"]  # appended on the way out


def test_group_dependencies_run_before_a_mounted_app(client):
    from covet import Header, HTTPException

    events = []

    def require_admin(x_role: str = Header()):
        events.append("require_admin")
        if x_role != "admin":
            raise HTTPException(403, "admins only")

    async def session():
        events.append("session open")
        try:
            yield "s"
        except HTTPException as exc:  # the request's error is thrown in at the yield
            events.append("session saw %d" % exc.status_code)
            raise
        events.append("session closed")

    sub = Covet()

    @sub.get("/report")
    async def report():
        events.append("report")
        return {"ok": True}

    app = Covet()
    admin = app.group("/admin", dependencies=[Depends(require_admin), session])
    admin.mount("/m", sub)
    c = client(app)

    r = c.get("/admin/m/report")  # the header is missing: the 422 of the dependency's input
    assert r.status_code == 422
    assert r.json()["errors"] == [{"loc": ["header", "x-role"], "msg": "field required", "type": "required"}]
    assert events == ["session open", "session saw 422"]  # require_admin is not called without its input
    events.clear()
    r = c.get("/admin/m/report", headers={"x-role": "user"})
    assert (r.status_code, r.json()["detail"]) == (403, "admins only")
    assert events == ["require_admin"]
    events.clear()
    r = c.get("/admin/m/report", headers={"x-role": "admin"})
    assert (r.status_code, r.json()) == (200, {"ok": True})
    assert events == ["require_admin", "session open", "report", "session closed"]


def test_a_mount_made_through_a_group_of_a_router_keeps_the_guard_once_included(client):
    router = Router()
    router.group("/g", middleware=[tag_mw("group")]).mount("/m", make_sub_app([]))
    app = Covet()
    app.include_router(router, prefix="/v1")
    assert [(m.prefix, len(m.middleware), m.handle is not None) for m in app.router.mounts] == [
        ("/v1/g/m", 1, True)]
    r = client(app).get("/v1/g/m/users/2")
    assert (r.json(), r.headers.getlist("x-mw")) == ({"uid": 2}, ["group"])


def test_a_plain_mount_enters_the_app_directly_and_a_bad_group_dependency_fails_at_mount():
    from covet import Path

    app = Covet()
    app.mount("/plain", Covet())
    app.group("/g").mount("/m", Covet())  # a group with nothing to run adds nothing per request
    assert [m.handle for m in app.router.mounts] == [None, None]

    def needs_a_path_param(item_id: int = Path()):
        return item_id

    guarded = app.group("/x", dependencies=[needs_a_path_param])
    with pytest.raises(TypeError, match="declared Path"):
        guarded.mount("/m", Covet())
    assert [m.prefix for m in app.router.mounts] == ["/plain", "/g/m"]
