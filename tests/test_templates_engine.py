"""TemplateEngine API: loading from directories, caching by mtime, auto_reload, extension points."""
import gc
import os
import subprocess
import sys

import pytest

from covet.templates import Template, TemplateEngine, TemplateError, TemplateNotFound


def write(path, text, mtime_ns=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


T0 = 1_700_000_000 * 10**9  # fixed mtimes: no sleeping, no reliance on clock resolution


@pytest.fixture
def no_debug_app(monkeypatch):
    """No Covet app of the process has debug on during the test, so auto_reload=None is off
    (unless the reloader's variable is set); debug apps of earlier tests are switched off."""
    from covet.core.app import Covet, debug_enabled

    gc.collect()  # apps of earlier tests that only reference cycles keep alive
    for obj in gc.get_objects():
        if isinstance(obj, Covet) and obj.debug:
            monkeypatch.setattr(obj, "debug", False)
    monkeypatch.delenv("COVET_RELOADER_CHILD", raising=False)
    assert not debug_enabled()


def test_render_context_and_keywords(tmp_path):
    write(tmp_path / "p.html", "{{ a }}{{ b }}{{ name }}{{ context }}")
    engine = TemplateEngine(str(tmp_path))
    assert engine.render("p.html", {"a": 1}, b=2) == "12"
    # the template name is positional-only: 'name' is free for the template
    assert engine.render("p.html", name="n") == "n"
    assert engine.render("p.html", {"b": 1}, b=2) == "2"
    assert engine.render_string("{{ name }}", name="s") == "s"
    assert engine.render_string("x") == "x"


def test_several_directories_are_searched_in_order(tmp_path):
    write(tmp_path / "one" / "a.html", "one-a")
    write(tmp_path / "two" / "a.html", "two-a")
    write(tmp_path / "two" / "b.html", "two-b {% include 'a.html' %}")
    engine = TemplateEngine([str(tmp_path / "one"), tmp_path / "two"])
    assert engine.render("a.html") == "one-a"
    assert engine.render("b.html") == "two-b one-a"
    with pytest.raises(TemplateNotFound) as info:
        engine.render("c.html")
    assert str(info.value) == "template 'c.html' not found in %s, %s" % (tmp_path / "one", tmp_path / "two")
    assert info.value.name == "c.html" and isinstance(info.value, LookupError)


@pytest.mark.usefixtures("no_debug_app")
def test_templates_are_compiled_once_and_cached(tmp_path):
    write(tmp_path / "p.html", "v1", T0)
    engine = TemplateEngine(str(tmp_path))
    first = engine.get_template("p.html")
    assert isinstance(first, Template) and first.render() == "v1"
    write(tmp_path / "p.html", "v2", T0 + 10**9)
    assert engine.get_template("p.html") is first
    assert engine.render("p.html") == "v1"  # auto_reload is off: the file is not looked at again
    engine.clear_cache()
    assert engine.render("p.html") == "v2"


def test_auto_reload_recompiles_when_the_mtime_changes(tmp_path):
    write(tmp_path / "p.html", "v1 {% include 'inc.html' %}", T0)
    write(tmp_path / "inc.html", "i1", T0)
    engine = TemplateEngine(str(tmp_path), auto_reload=True)
    assert engine.render("p.html") == "v1 i1"
    compiled = engine.get_template("p.html")
    assert engine.get_template("p.html") is compiled  # same mtime: no recompilation
    write(tmp_path / "inc.html", "i2", T0 + 1)
    assert engine.render("p.html") == "v1 i2"
    write(tmp_path / "p.html", "v2 {% include 'inc.html' %}", T0 - 5 * 10**9)  # any change counts, even back
    assert engine.render("p.html") == "v2 i2"
    os.remove(tmp_path / "inc.html")
    with pytest.raises(TemplateNotFound):
        engine.render("p.html")


@pytest.mark.usefixtures("no_debug_app")
def test_auto_reload_defaults_to_off_and_can_be_switched(tmp_path):
    write(tmp_path / "p.html", "v1", T0)
    engine = TemplateEngine(str(tmp_path))
    assert engine.auto_reload is False
    assert TemplateEngine(str(tmp_path), auto_reload=None).auto_reload is False
    assert engine.render("p.html") == "v1"
    write(tmp_path / "p.html", "v2", T0 + 1)
    engine.auto_reload = True  # what the app does with its debug flag
    assert engine.render("p.html") == "v2"


def test_render_string_caches_by_source_with_a_bound():
    engine = TemplateEngine("unused")
    assert engine.from_string("{{ 1 }}") is engine.from_string("{{ 1 }}")
    from covet.templates._engine import MAX_STRING_CACHE
    first = engine.from_string("first")
    for i in range(MAX_STRING_CACHE):
        engine.render_string("t%d" % i)
    assert len(engine._string_cache) == MAX_STRING_CACHE
    assert engine.from_string("first") is not first


def test_add_filter_test_and_global(tmp_path):
    write(tmp_path / "p.html", "{{ x|double }}")
    engine = TemplateEngine(str(tmp_path), globals={"site": "S"})
    with pytest.raises(TemplateError):
        engine.render("p.html", x=1)
    engine.add_filter("double", lambda v, times=2: v * times)
    engine.add_test("positive", lambda v: v > 0)
    engine.add_global("answer", 42)
    assert engine.render("p.html", x=2) == "4"
    assert engine.render_string("{{ 'ab'|double(3) }}|{{ 3 is positive }}|{{ -1 is positive }}|{{ answer }}|{{ site }}") == \
        "ababab|True|False|42|S"
    # a user filter may replace a built-in one
    engine.add_filter("upper", lambda v: "U(%s)" % v)
    assert engine.render_string("{{ 'a'|upper }}") == "U(a)"
    # context values shadow globals
    assert engine.render_string("{{ answer }}", answer=1) == "1"


def test_extension_point_arguments_are_checked():
    engine = TemplateEngine("unused")
    with pytest.raises(ValueError) as info:
        engine.add_filter("not a name", str)
    assert str(info.value) == "a filter name must be an identifier, got 'not a name'"
    with pytest.raises(TypeError) as info:
        engine.add_test("t", "not callable")
    assert str(info.value) == "a test must be callable, got 'not callable'"
    with pytest.raises(ValueError) as info:
        engine.add_global("1x", 1)
    assert str(info.value) == "a global's name must be an identifier, got '1x'"
    with pytest.raises(TypeError) as info:
        engine.render_string(b"bytes")
    assert str(info.value) == "template source must be a str, got bytes"
    with pytest.raises(TypeError) as info:
        engine.render(3)
    assert str(info.value) == "a template name must be a str, got int"


def test_files_that_are_not_utf8_are_reported(tmp_path):
    (tmp_path / "latin.html").write_bytes(b"caf\xe9")
    engine = TemplateEngine(str(tmp_path))
    with pytest.raises(TemplateError) as info:
        engine.render("latin.html")
    assert str(info.value) == "template 'latin.html' is not valid UTF-8 (byte 3)"


def test_compiled_source_is_inspectable_and_uses_locals(tmp_path):
    write(tmp_path / "p.html", "{% for r in rows %}{{ r.name }}{% endfor %}")
    template = TemplateEngine(str(tmp_path)).get_template("p.html")
    assert template.python_source == (
        "def _root(_c, _o, _b):\n"
        "    _w = _o.append; _x = _o.extend\n"
        "    l_0_rows = _c['rows']\n"
        "    for l_1_r in l_0_rows:\n"
        "        _w(_e(_gad(l_1_r, 'name')))\n"
        "_blocks = {}\n"
        "_exported = ()\n")
    assert template.name == "p.html" and template.filename == str(tmp_path / "p.html")
    assert template.render({"rows": [{"name": "a"}, {"name": "<"}]}) == "a&lt;"


def test_response_returns_an_html_response(tmp_path):
    from covet.core.responses import HTMLResponse
    write(tmp_path / "p.html", "<p>{{ msg }}</p>")
    engine = TemplateEngine(str(tmp_path))
    response = engine.response("p.html", {"msg": "<hi>"}, status_code=201, headers={"X-Test": "1"})
    assert isinstance(response, HTMLResponse)
    assert response.status_code == 201
    assert response.body == b"<p>&lt;hi&gt;</p>"
    assert (b"x-test", b"1") in response.raw_headers
    assert (b"content-type", b"text/html; charset=utf-8") in response.raw_headers


def test_rendering_is_repeatable_and_does_not_leak_between_renders(tmp_path):
    write(tmp_path / "m.html", "{% set counter = namespace(n=0) %}{% macro bump() %}{% set counter.n = counter.n + 1 %}{% endmacro %}")
    write(tmp_path / "p.html", "{% import 'm.html' as m %}{{ m.bump() }}{{ m.counter.n }}{% set x = x ~ 'a' %}{{ x }}")
    engine = TemplateEngine(str(tmp_path))
    first = engine.render("p.html", x="")
    assert first == "1a"
    # imports without context are cached modules, like Jinja2's: their state persists
    assert engine.render("p.html", x="") == "2a"
    assert engine.render("p.html", x="b") == "3ba"


def counting(engine):
    """Wrap engine.compile; returns the list of names it compiles, in order."""
    compiled = []
    real = engine.compile

    def compile(source, name=None, filename=None, mtime=None):
        compiled.append(name)
        return real(source, name, filename, mtime)

    engine.compile = compile
    return compiled


def test_auto_reload_picks_up_an_edited_parent_include_and_import(tmp_path):
    write(tmp_path / "base.html", "[base1 {% block body %}{% endblock %}]", T0)
    write(tmp_path / "nav.html", "nav1", T0)
    write(tmp_path / "macros.html", "{% macro m() %}m1{% endmacro %}", T0)
    write(tmp_path / "page.html", "{% extends 'base.html' %}{% import 'macros.html' as ms %}"
                                  "{% block body %}{% include 'nav.html' %} {{ ms.m() }}{% endblock %}", T0)
    engine = TemplateEngine(str(tmp_path), auto_reload=True)
    compiled = counting(engine)
    assert engine.render("page.html") == "[base1 nav1 m1]"
    assert sorted(compiled) == ["base.html", "macros.html", "nav.html", "page.html"]
    assert engine.render("page.html") == "[base1 nav1 m1]"
    assert len(compiled) == 4  # nothing changed: nothing compiled again
    write(tmp_path / "base.html", "[base2 {% block body %}{% endblock %}]", T0 + 10**9)
    assert engine.render("page.html") == "[base2 nav1 m1]"
    write(tmp_path / "nav.html", "nav2", T0 + 10**9)
    write(tmp_path / "macros.html", "{% macro m() %}m2{% endmacro %}", T0 + 10**9)
    assert engine.render("page.html") == "[base2 nav2 m2]"
    assert sorted(compiled[4:]) == ["base.html", "macros.html", "nav.html"]  # the edited files, once each


def test_without_auto_reload_a_compiled_template_is_reused(tmp_path):
    write(tmp_path / "base.html", "[{% block body %}{% endblock %}]", T0)
    write(tmp_path / "page.html", "{% extends 'base.html' %}{% block body %}p1{% endblock %}", T0)
    engine = TemplateEngine(str(tmp_path), auto_reload=False)
    compiled = counting(engine)
    assert engine.render("page.html") == "[p1]"
    write(tmp_path / "base.html", "<{% block body %}{% endblock %}>", T0 + 10**9)
    write(tmp_path / "page.html", "{% extends 'base.html' %}{% block body %}p2{% endblock %}", T0 + 10**9)
    for _ in range(3):
        assert engine.render("page.html") == "[p1]"
    assert compiled == ["page.html", "base.html"]


@pytest.mark.usefixtures("no_debug_app")
def test_auto_reload_none_is_on_under_the_reloader(tmp_path, monkeypatch):
    from covet.server.workers import RELOADER_CHILD_ENV
    from covet.templates._engine import RELOADER_ENV

    assert RELOADER_ENV == RELOADER_CHILD_ENV  # the variable the reloader sets in the app's process
    monkeypatch.setenv(RELOADER_ENV, "1")
    assert TemplateEngine(str(tmp_path)).auto_reload is True
    assert TemplateEngine(str(tmp_path), auto_reload=False).auto_reload is False
    monkeypatch.delenv(RELOADER_ENV)
    assert TemplateEngine(str(tmp_path)).auto_reload is False


@pytest.mark.parametrize("debug, auto_reload, reloads", [
    (True, None, True),     # the default follows the app's debug flag
    (False, None, False),
    (True, False, False),   # an explicit choice wins
    (False, True, True),
])
@pytest.mark.usefixtures("no_debug_app")
def test_an_engine_rendering_for_a_debug_app_reloads_edited_templates(client, tmp_path, debug, auto_reload,
                                                                       reloads):
    from covet import Covet, Request

    write(tmp_path / "p.html", "v1", T0)
    engine = TemplateEngine(str(tmp_path), auto_reload=auto_reload)
    compiled = counting(engine)
    app = Covet(debug=debug)

    @app.get("/")
    def page(request: Request):
        return engine.response(request, "p.html")

    c = client(app)
    assert c.get("/").text == "v1"
    write(tmp_path / "p.html", "v2", T0 + 10**9)
    assert c.get("/").text == ("v2" if reloads else "v1")
    assert c.get("/").text == ("v2" if reloads else "v1")
    assert compiled == (["p.html", "p.html"] if reloads else ["p.html"])
    assert engine.auto_reload is reloads


@pytest.mark.usefixtures("no_debug_app")
def test_a_debug_app_makes_default_engines_reload_templates_its_handlers_render(client, tmp_path):
    from covet import Covet

    write(tmp_path / "p.html", "v1 {% include 'inc.html' %}", T0)
    write(tmp_path / "inc.html", "i1", T0)
    before = TemplateEngine(str(tmp_path))  # made at import time, before the app, as modules do
    pinned = TemplateEngine(str(tmp_path), auto_reload=False)
    compiled = counting(before)
    assert before.auto_reload is False
    app = Covet(debug=True)
    after = TemplateEngine(str(tmp_path))
    assert (before.auto_reload, after.auto_reload, pinned.auto_reload) == (True, True, False)

    @app.get("/before")
    async def page_before():
        return before.render("p.html")  # render(), not response(request, ...): no request in sight

    @app.get("/after")
    def page_after():
        return after.render("p.html")

    @app.get("/pinned")
    def page_pinned():
        return pinned.render("p.html")

    c = client(app)
    assert [c.get(p).text for p in ("/before", "/after", "/pinned")] == ["v1 i1"] * 3
    write(tmp_path / "inc.html", "i2", T0 + 10**9)
    assert [c.get(p).text for p in ("/before", "/after", "/pinned")] == ["v1 i2", "v1 i2", "v1 i1"]
    write(tmp_path / "p.html", "v2 {% include 'inc.html' %}", T0 + 10**9)
    assert [c.get(p).text for p in ("/before", "/after", "/pinned")] == ["v2 i2", "v2 i2", "v1 i1"]
    assert compiled == ["p.html", "inc.html", "inc.html", "p.html"]  # an edited file once, nothing else

    app.debug = False  # no app with debug on: the default is off again
    assert before.auto_reload is False
    write(tmp_path / "p.html", "v3 {% include 'inc.html' %}", T0 + 2 * 10**9)
    assert c.get("/before").text == "v2 i2"
    app.debug = True
    assert c.get("/before").text == "v3 i2"


@pytest.mark.usefixtures("no_debug_app")
def test_without_reloading_a_cached_template_is_not_even_stat_ed(tmp_path, monkeypatch):
    from covet import Covet

    write(tmp_path / "p.html", "{% include 'inc.html' %}", T0)
    write(tmp_path / "inc.html", "i", T0)
    engine = TemplateEngine(str(tmp_path))
    app = Covet()  # an app without debug changes nothing
    assert engine.render("p.html") == "i"
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **kw: stats.append(path) or real_stat(path, *a, **kw))
    assert engine.render("p.html") == "i"
    assert stats == []
    app.debug = True
    assert engine.render("p.html") == "i"
    assert sorted(stats) == [str(tmp_path / "inc.html"), str(tmp_path / "p.html")]


@pytest.mark.usefixtures("no_debug_app")
def test_a_dropped_debug_app_stops_the_reloading():
    from covet import Covet

    engine = TemplateEngine("unused")
    app = Covet(debug=True)
    assert engine.auto_reload is True
    del app
    gc.collect()  # the app's router refers back to it: a cycle, freed by the collector
    assert engine.auto_reload is False


def test_rendering_templates_does_not_load_the_web_kernel(tmp_path):
    # The check for a debug app looks the app module up; it never imports it.
    write(tmp_path / "p.html", "{{ x }}")
    code = ("import sys; from covet.templates import TemplateEngine; "
            "e = TemplateEngine(%r); assert e.render('p.html', x=1) == '1'; assert e.auto_reload is False; "
            "loaded = sorted(m for m in ('covet.core.app', 'asyncio') if m in sys.modules); "
            "assert not loaded, loaded" % str(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "COVET_RELOADER_CHILD"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
