"""Template errors (syntax and runtime, with template name and line), security and escaping."""
import traceback

import pytest

from covet.templates import (Markup, SecurityError, TemplateEngine, TemplateError, TemplateNotFound,
                              TemplateSyntaxError, UndefinedError, escape)

ENGINE = TemplateEngine("templates-that-do-not-exist")


def render(source, **context):
    return ENGINE.render_string(source, context)


def engine_with(tmp_path, files, **options):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return TemplateEngine(str(tmp_path), **options)


# syntax errors: template, line, what was expected ------------------------------------------

SYNTAX_ERRORS = [
    ("{% if x %}\nabc", "line 2: unexpected end of template, expected 'elif', 'else' or 'endif' to close the "
                        "'if' tag opened on line 1"),
    ("\n\n{% for x in y %}\n{% if x %}\n{% endfor %}",
     "line 5: unexpected 'endfor', expected 'elif', 'else' or 'endif' to close the 'if' tag opened on line 4"),
    ("{% endfor %}", "line 1: unexpected 'endfor': no open tag to close"),
    ("{% foo %}", "line 1: unknown tag 'foo'"),
    ("{% for x in y %}{% foo %}{% endfor %}",
     "line 1: unknown tag 'foo', expected 'endfor' or 'else' to close the 'for' tag opened on line 1"),
    ("{% if x %}{% else %}{% else %}{% endif %}",
     "line 1: unexpected 'else', expected 'endif' to close the 'if' tag opened on line 1"),
    ("{{ }}", "line 1: expected an expression, got end of print statement '}}'"),
    ("a\n{{ x", "line 2: unexpected end of template, expected '}}' to close the tag opened on line 2"),
    ("{{ x + }}", "line 1: expected an expression, got end of print statement '}}'"),
    ("{{ 1 = 2 }}", "line 1: expected end of print statement '}}', got '='"),
    ("{{ 'abc }}", "line 1: unterminated string literal"),
    ("{{ x @ y }}", "line 1: unexpected character '@' in tag"),
    ("{{ (1, 2 }}", "line 1: unexpected '}', expected ')'"),
    ("{{ [1, 2) }}", "line 1: unexpected ')', expected ']'"),
    ("{{ x.  }}", "line 1: expected an attribute name after '.', got end of print statement '}}'"),
    ("{{ x|nofilter }}", "line 1: no filter named 'nofilter'"),
    ("{{ x is nosuchtest }}", "line 1: no test named 'nosuchtest'"),
    ("{{ f(a=1, 2) }}", "line 1: a positional argument follows a keyword or '*' argument"),
    ("{# unclosed", "line 1: missing end of comment tag '#}' (comment opened on line 1)"),
    ("{% raw %}x", "line 1: missing '{% endraw %}' for the 'raw' tag opened on line 1"),
    ("{% set %}", "line 1: expected a name to assign to, got end of statement '%}'"),
    ("{% set x = 1 %}{% endset %}", "line 1: unexpected 'endset': no open tag to close"),
    ("{% for in x %}{% endfor %}", "line 1: expected 'in', got 'x'"),
    ("{% for x in y %}{% endfor x %}", "line 1: expected end of statement '%}' after the 'endfor' tag, got 'x'"),
    ("{% break %}", "line 1: 'break' outside of a 'for' loop"),
    ("{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}",
     "line 1: 'continue' outside of a 'for' loop"),
    ("{% block a %}{% endblock %}{% block a %}{% endblock %}", "line 1: block 'a' defined twice"),
    ("{% block a %}x{% endblock b %}", "line 1: 'endblock b' does not match the 'block a' opened on line 1"),
    ("{% block a required %}x{% endblock %}",
     "line 1: required block 'a' may only contain whitespace and comments"),
    ("{% macro m(a=1, b) %}{% endmacro %}",
     "line 1: argument 'b' without a default follows an argument with one"),
    ("{% macro m %}{% endmacro %}", "line 1: expected '(' after the macro name, got end of statement '%}'"),
    ("{% from 'x' import _y %}", "line 1: names starting with an underscore cannot be imported: '_y'"),
    ("{% call m %}{% endcall %}", "line 1: the 'call' tag expects a macro call, such as {% call m() %}"),
    ("{% autoescape x %}{% endautoescape %}", "line 1: 'autoescape' takes true or false"),
    ("{{ super() }}", "line 1: super() can only be used inside a block"),
    ("{% macro m() %}{% extends 'a' %}{% endmacro %}",
     "line 1: 'extends' must be at the top level of a template, not inside a block, macro or call"),
    ("{% with a %}{% endwith %}", "line 1: expected '=', got end of statement '%}'"),
    ("{% include %}", "line 1: expected an expression, got end of statement '%}'"),
    ("{{ '\\N' }}", "line 1: invalid escape in string literal '\\N' (malformed \\N character escape)"),
    ("{{ '\\x4' }}", "line 1: invalid escape in string literal '\\x4' (truncated \\xXX escape)"),
    ("{{ '\\u12' }}", "line 1: invalid escape in string literal '\\u12' (truncated \\uXXXX escape)"),
    ("{{ '\\N{NO SUCH NAME}' }}",
     "line 1: invalid escape in string literal '\\N{NO SUCH NAME}' (unknown Unicode character name)"),
    ("{{ '\\U00110000' }}", "line 1: invalid escape in string literal '\\U00110000' (illegal Unicode character)"),
    ("{{ 1" + "0" * 5000 + " }}", "line 1: integer literal too long"),
]


@pytest.mark.parametrize("source,message", SYNTAX_ERRORS)
def test_syntax_error_names_template_line_and_expectation(source, message):
    with pytest.raises(TemplateSyntaxError) as info:
        ENGINE.render_string(source)
    assert str(info.value) == "<template>, " + message


def test_syntax_error_in_a_file_carries_name_and_line(tmp_path):
    engine = engine_with(tmp_path, {"bad.html": "<p>\n{{ user.name }\n</p>", "uses.html": "{% include 'bad.html' %}"})
    with pytest.raises(TemplateSyntaxError) as info:
        engine.render("bad.html")
    assert (info.value.template_name, info.value.lineno) == ("bad.html", 2)
    assert str(info.value) == "bad.html, line 2: unexpected '}'"
    # reached through an include, the error still names the broken template
    with pytest.raises(TemplateSyntaxError) as info:
        engine.render("uses.html")
    assert str(info.value) == "bad.html, line 2: unexpected '}'"


def test_templates_nested_beyond_python_limits_get_a_clear_error():
    cases = [
        ("{{ " + "(" * 600 + "1" + ")" * 600 + " }}", "<template>, line 1: the template nests too deeply "
                                                      "(tags or parentheses)"),
        ("{% if x %}" * 300 + "{% endif %}" * 300, "<template>, line 1: the template nests too deeply "
                                                   "(tags or parentheses)"),
        ("{{ x" + "|upper" * 3000 + " }}", "<template>: the template nests too deeply"),
    ]
    for source, message in cases:
        with pytest.raises(TemplateSyntaxError) as info:
            ENGINE.render_string(source)
        assert str(info.value) == message
    # CPython allows 20 nested loops; 3.9-3.12 report the 21st, 3.13 the 22nd
    with pytest.raises(TemplateSyntaxError) as info:
        ENGINE.render_string("\n".join(["{% for a in x %}"] * 25) + "{% endfor %}" * 25)
    assert str(info.value) in ["<template>, line %d: the template nests too deeply for Python (too many "
                               "statically nested blocks)" % line for line in (21, 22)]


# undefined ---------------------------------------------------------------------------------

def test_using_an_undefined_value_raises_with_name_and_line(tmp_path):
    engine = engine_with(tmp_path, {"p.html": "ok\n{{ user.name }}", "q.html": "\n\n{{ d.a.b }}",
                                    "r.html": "{{ n + 1 }}"})
    with pytest.raises(UndefinedError) as info:
        engine.render("p.html")
    assert str(info.value) == "p.html, line 2: 'user' is undefined"
    with pytest.raises(UndefinedError) as info:
        engine.render("q.html", d={})
    assert str(info.value) == "q.html, line 3: 'dict object' has no attribute 'a'"
    with pytest.raises(UndefinedError) as info:
        engine.render("r.html")
    assert str(info.value) == "r.html, line 1: 'n' is undefined"


def test_strict_undefined_raises_on_any_use(tmp_path):
    files = {"s.html": "line one\n{% block content %}\n  {{ user.name }}\n  {{ missing }}\n{% endblock %}",
             "t.html": "{% if flag %}x{% endif %}", "u.html": "{% for x in items %}{% endfor %}",
             "v.html": "{{ a is defined }}|{{ a|default('d') }}|{{ a is undefined }}"}
    engine = engine_with(tmp_path, files, strict_undefined=True)
    with pytest.raises(UndefinedError) as info:
        engine.render("s.html", user={"name": "x"})
    assert str(info.value) == "s.html, line 4: 'missing' is undefined"
    assert (info.value.template_name, info.value.lineno) == ("s.html", 4)
    for name, variable in (("t.html", "flag"), ("u.html", "items")):
        with pytest.raises(UndefinedError) as info:
            engine.render(name)
        assert str(info.value) == "%s, line 1: '%s' is undefined" % (name, variable)
    assert engine.render("v.html") == "False|d|True"
    assert engine_with(tmp_path, {}).render("s.html", user={"name": "x"}) == "line one\n\n  x\n  \n"


# runtime errors point at template lines ----------------------------------------------------------

def test_runtime_error_traceback_shows_the_template_line(tmp_path):
    source = "<h1>{{ title }}</h1>\n{% for r in rows %}\n  <p>{{ r.a }}\n     {{ 10 / r.b }}</p>\n{% endfor %}"
    engine = engine_with(tmp_path, {"page.html": source})
    with pytest.raises(ZeroDivisionError) as info:
        engine.render("page.html", title="t", rows=[{"a": 1, "b": 2}, {"a": 1, "b": 0}])
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    path = str(tmp_path / "page.html")
    assert 'File "%s", line 4, in template\n    {{ 10 / r.b }}</p>\n' % path in text
    assert "_root" not in text


def test_traceback_names_blocks_and_macros(tmp_path):
    engine = engine_with(tmp_path, {
        "base.html": "{% block content %}{% endblock %}",
        "child.html": ("{% extends 'base.html' %}\n{% macro boom(x) %}\n{{ x.explode() }}\n{% endmacro %}\n"
                       "{% block content %}\n{{ boom(obj) }}\n{% endblock %}"),
    })

    class Bomb:
        def explode(self):
            raise RuntimeError("bang")
    with pytest.raises(RuntimeError) as info:
        engine.render("child.html", obj=Bomb())
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    path = str(tmp_path / "child.html")
    assert 'File "%s", line 6, in block \'content\'' % path in text
    assert 'File "%s", line 3, in macro \'boom\'' % path in text
    assert "in explode\n" in text


def test_template_not_found_from_include_names_the_including_line(tmp_path):
    engine = engine_with(tmp_path, {"page.html": "a\n{% include 'missing.html' %}"})
    with pytest.raises(TemplateNotFound) as info:
        engine.render("page.html")
    assert str(info.value) == "page.html, line 2: template 'missing.html' not found in %s" % tmp_path
    assert info.value.name == "missing.html"


def test_macro_call_errors():
    with pytest.raises(TypeError) as info:
        render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}")
    assert str(info.value) == "macro 'm' takes not more than 1 argument(s)"
    with pytest.raises(TypeError) as info:
        render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}")
    assert str(info.value) == "macro 'm' takes no keyword argument 'b'"
    with pytest.raises(TypeError) as info:
        render("{% macro m() %}x{% endmacro %}{% call m() %}y{% endcall %}")
    assert str(info.value) == "macro 'm' was called from a {% call %} block but never uses caller()"
    with pytest.raises(UndefinedError) as info:
        render("{% macro m() %}{{ caller() }}{% endmacro %}{{ m() }}")
    assert str(info.value) == "<template>, line 1: No caller defined"
    with pytest.raises(TypeError) as info:
        render("{% macro m(_a) %}{% endmacro %}{{ m(1, _a=2) }}")
    assert str(info.value) == "macro 'm' got multiple values for argument '_a'"


def test_other_runtime_errors():
    with pytest.raises(TemplateError) as info:
        render("{% set x = 1 %}{% set x.a = 2 %}")
    assert str(info.value) == ("<template>, line 1: cannot assign attribute 'a' on int object: only a "
                               "namespace() accepts {% set x.attr = ... %}")
    with pytest.raises(TypeError) as info:
        render("{% for x in [1] %}{{ loop(x) }}{% endfor %}")
    assert str(info.value) == "the loop is not marked 'recursive', so loop(...) cannot be called"
    with pytest.raises(TemplateError) as info:
        render("{% extends 1 %}")
    assert str(info.value) == "<template>, line 1: a template name must be a string, got int object"


# security -------------------------------------------------------------------------------------

PRIVATE_ACCESS = [
    ("{{ x.__class__ }}", "'__class__' of int object"),
    ("{{ x['__class__'] }}", "'__class__' of int object"),
    ("{{ x|attr('__class__') }}", "'__class__' of int object"),
    ("{{ x._secret }}", "'_secret' of int object"),
    ("{{ ''.__class__.__mro__ }}", "'__class__' of str object"),
    ("{{ g.gi_frame }}", "'gi_frame' of generator object"),
    ("{{ x.mro }}", "'mro' of int object"),
    ("{{ d.f_globals }}", "'f_globals' of dict object"),
]


@pytest.mark.parametrize("source,what", PRIVATE_ACCESS)
def test_private_attributes_are_refused(source, what):
    with pytest.raises(SecurityError) as info:
        render(source, x=1, g=(i for i in ()), d={})
    assert str(info.value) == ("<template>, line 1: access to attribute %s is refused: names starting "
                               "with '_' and interpreter internals are private" % what)


def test_format_cannot_reach_private_attributes():
    with pytest.raises(SecurityError) as info:
        render("{{ '{0.__class__}'.format(1) }}")
    assert str(info.value) == "<template>, line 1: format field '0.__class__' refers to a private attribute"
    with pytest.raises(SecurityError):
        render("{{ '{x.__class__}'.format_map({'x': 1}) }}")
    with pytest.raises(SecurityError):
        render("{{ s['format'](1) }}", s="{0._x}")
    with pytest.raises(SecurityError):
        render("{{ ('{0.__class__}'|safe).format(1) }}")
    assert render("{{ '{0}-{x}'.format(1, x='<') }}|{{ '{a}'.format_map({'a': 2}) }}") == "1-&lt;|2"


def test_private_names_of_imported_templates_are_refused(tmp_path):
    engine = engine_with(tmp_path, {"m.html": "{% set _p = 1 %}{% set v = 2 %}",
                                    "p.html": "{% import 'm.html' as m %}{{ m.v }}{{ m._p }}"})
    with pytest.raises(SecurityError) as info:
        engine.render("p.html")
    assert str(info.value).startswith("p.html, line 1: access to attribute '_p' of "
                                      "covet.templates._runtime.TemplateModule object is refused")


def test_private_keys_of_mappings_are_still_readable():
    assert render("{{ doc._id }}|{{ doc['_id'] }}", doc={"_id": 7}) == "7|7"


def test_template_names_that_leave_the_directory_are_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    root = tmp_path / "templates"
    engine = engine_with(root, {"ok.html": "ok", "sub/inner.html": "inner",
                                "evil.html": "{% include '../secret.txt' %}",
                                "quiet.html": "{% include '../secret.txt' ignore missing %}"})
    assert engine.render("sub/inner.html") == "inner"
    assert engine.render("./ok.html") == "ok"
    for name in ("../secret.txt", "sub/../../secret.txt", "/etc/passwd", str(tmp_path / "secret.txt"),
                 "..\\secret.txt", "ok.html\x00", "", "..", "sub/.."):
        with pytest.raises(SecurityError) as info:
            engine.render(name)
        assert str(info.value).startswith("template name %r is refused" % name)
    with pytest.raises(SecurityError) as info:
        engine.render("evil.html")
    assert str(info.value) == ("evil.html, line 1: template name '../secret.txt' is refused: it leaves "
                               "the template directories")
    with pytest.raises(SecurityError):  # 'ignore missing' does not hide an escape attempt
        engine.render("quiet.html")


def test_symlinks_out_of_the_directory_are_refused(tmp_path):
    (tmp_path / "outside.html").write_text("outside")
    root = tmp_path / "templates"
    engine = engine_with(root, {"ok.html": "ok"})
    try:
        (root / "link.html").symlink_to(tmp_path / "outside.html")
    except OSError:
        pytest.skip("symlinks are not available here")
    with pytest.raises(SecurityError) as info:
        engine.render("link.html")
    assert str(info.value) == "template 'link.html' resolves outside the template directories"


# escaping and XSS -------------------------------------------------------------------------------

XSS = "<script>alert('x')</script>"


def test_variables_are_escaped_including_quotes():
    assert render("{{ v }}", v=XSS) == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert render("{{ v }}", v="a & b \"q\" 'r'") == "a &amp; b &#34;q&#34; &#39;r&#39;"
    assert render("{{ v }}", v=42) == "42"


def test_attribute_payloads_cannot_break_out_of_quotes():
    payload = "\" onmouseover=\"alert(1)"
    assert render('<a title="{{ t }}">', t=payload) == '<a title="&#34; onmouseover=&#34;alert(1)">'
    assert render("<a title='{{ t }}'>", t="' onclick='x()") == "<a title='&#39; onclick=&#39;x()'>"
    assert render('<a href="/u/{{ u }}">', u='"><script>') == '<a href="/u/&#34;&gt;&lt;script&gt;">'


def test_tojson_is_safe_inside_script():
    data = {"x": "</script><script>alert(1)</script>", "q": "'&"}
    assert render("<script>var d = {{ data|tojson }};</script>", data=data) == (
        '<script>var d = {"q": "\\u0027\\u0026", "x": "\\u003c/script\\u003e\\u003cscript\\u003e'
        'alert(1)\\u003c/script\\u003e"};</script>')
    assert render("<div data-d='{{ data|tojson }}'>", data={"a": "'"}) == "<div data-d='{\"a\": \"\\u0027\"}'>"


def test_user_strings_stay_unsafe_through_operations():
    ctx = {"v": "<b>"}
    assert render("{{ v ~ '' }}|{{ v|upper }}|{{ v|replace('b', 'i') }}|{{ '%s'|format(v) }}|{{ v|join }}", **ctx) == \
        "&lt;b&gt;|&lt;B&gt;|&lt;i&gt;|&lt;b&gt;|&lt;b&gt;"
    assert render("{% set x = v %}{{ x }}|{% filter lower %}{{ v }}{% endfilter %}", **ctx) == "&lt;b&gt;|&lt;b&gt;"


def test_markup_survives_includes_macros_and_blocks(tmp_path):
    engine = engine_with(tmp_path, {
        "inc.html": "{{ m }}{{ v }}",
        "base.html": "{% block b %}{% endblock %}",
        "page.html": ("{% extends 'base.html' %}{% macro k() %}<k>{% endmacro %}"
                      "{% block b %}{% include 'inc.html' %}{{ k() }}{% endblock %}"),
        "plain.txt": "{{ v }}{% include 'inc.html' %}",
    })
    assert engine.render("page.html", m=Markup("<m>"), v="<v>") == "<m>&lt;v&gt;<k>"
    # a .txt template is not escaped, but an .html template it includes still is
    assert engine.render("plain.txt", m=Markup("<m>"), v="<v>") == "<v><m>&lt;v&gt;"


def test_autoescape_by_extension_and_options(tmp_path):
    files = {name: "{{ v }}" for name in ("a.html", "a.htm", "a.xml", "a.svg", "a.txt", "a.md", "A.HTML")}
    engine = engine_with(tmp_path, files)
    results = {name: engine.render(name, v="<&>") for name in files}
    assert results == {"a.html": "&lt;&amp;&gt;", "a.htm": "&lt;&amp;&gt;", "a.xml": "&lt;&amp;&gt;",
                       "a.svg": "&lt;&amp;&gt;", "a.txt": "<&>", "a.md": "<&>", "A.HTML": "&lt;&amp;&gt;"}
    assert engine.render_string("{{ v }}", v="<") == "&lt;"
    off = TemplateEngine(str(tmp_path), autoescape=False)
    assert off.render("a.html", v="<") == "<"
    assert off.render_string("{{ v }}", v="<") == "<"
    chosen = TemplateEngine(str(tmp_path), autoescape=lambda name: name is not None and name.endswith(".txt"))
    assert (chosen.render("a.txt", v="<"), chosen.render("a.html", v="<"), chosen.render_string("{{ v }}", v="<")) == \
        ("&lt;", "<", "<")
    with pytest.raises(TypeError) as info:
        TemplateEngine(str(tmp_path), autoescape="yes")
    assert str(info.value) == "autoescape must be True, False or a callable(name) -> bool"


def test_markup_class():
    assert Markup("<b>%s</b>") % "<i>" == Markup("<b>&lt;i&gt;</b>")
    assert Markup("<b>%s %s</b>") % ("<", Markup("<br>")) == "<b>&lt; <br></b>"
    assert Markup("%(a)s") % {"a": "&"} == "&amp;"
    assert Markup("<b>") + "<i>" == "<b>&lt;i&gt;"
    assert "<i>" + Markup("<b>") == "&lt;i&gt;<b>"
    assert isinstance("<i>" + Markup("<b>"), Markup)
    assert Markup("<br>").join(["<", Markup("<hr>")]) == "&lt;<br><hr>"
    assert Markup("<p>{0}</p>").format("<x>") == "<p>&lt;x&gt;</p>"
    assert Markup("<p>{a}</p>").format_map({"a": Markup("<y>")}) == "<p><y></p>"
    assert Markup("a<b>").upper() == "A<B>" and isinstance(Markup("a").upper(), Markup)
    assert Markup("x&amp;y").replace("&", "<") == "x&lt;y"  # arguments are escaped first
    assert Markup("<p>a &amp; <b>b</b></p>").striptags() == "a & b"
    assert Markup("&lt;&#39;").unescape() == "<'"
    assert Markup("a,b").split(",") == ["a", "b"] and isinstance(Markup("a,b").split(",")[0], Markup)
    assert repr(Markup("<x>")) == "Markup('<x>')"
    assert Markup.escape("<") == "&lt;" and Markup(Markup("<b>")) == "<b>"
    assert Markup("ab") * 2 == "abab" and isinstance(Markup("a") * 2, Markup)
    assert Markup("<ab>")[1:3] == "ab" and isinstance(Markup("<ab>")[1:3], Markup)


def test_escape_function():
    assert escape("<a href=\"x\">'&'</a>") == "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    assert isinstance(escape("x"), Markup)
    assert escape(Markup("<b>")) == "<b>"
    assert escape(5) == "5" and escape(None) == "None"

    class HasHtml:
        def __html__(self):
            return "<safe>"
    assert escape(HasHtml()) == "<safe>"
    assert render("{{ h }}", h=HasHtml()) == "<safe>"
