"""Template syntax and semantics: every construct with its exact output (Jinja2's semantics).

Filters and tests one by one are in test_templates_filters.py; errors, security
and escaping in test_templates_errors.py; loading, caching and the engine API
in test_templates_engine.py.
"""
import pytest

from covet.templates import Markup, TemplateEngine, TemplateError


def write(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def files(tmp_path):
    """make(files, **options) -> engine over tmp_path holding ``files``."""
    def make(mapping, **options):
        write(tmp_path, mapping)
        return TemplateEngine(str(tmp_path), **options)
    return make


ENGINE = TemplateEngine("templates-that-do-not-exist")


def render(source, **context):
    return ENGINE.render_string(source, context)


class Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


# expressions -------------------------------------------------------------------------------

EXPRESSIONS = [
    ("{{ 1 + 2 }}", "3"),
    ("{{ 7 - 10 }}", "-3"),
    ("{{ 2 * 3 }}", "6"),
    ("{{ 7 / 2 }}", "3.5"),
    ("{{ 7 // 2 }}", "3"),
    ("{{ 7 % 3 }}", "1"),
    ("{{ 2 ** 10 }}", "1024"),
    ("{{ 2 ** 3 ** 2 }}", "64"),          # left-associative, as in Jinja2
    ("{{ -2 ** 2 }}", "4"),               # unary minus binds tighter than **
    ("{{ 1 + 2 * 3 }}", "7"),
    ("{{ (1 + 2) * 3 }}", "9"),
    ("{{ 2 * 3 ~ 4 }}", "64"),
    ('{{ "a" ~ 1 ~ none }}', "a1None"),
    ("{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}", "True|False"),
    ("{{ 1 == 1.0 }}|{{ 1 != 2 }}|{{ 2 >= 2 and 1 <= 0 }}", "True|True|False"),
    ('{{ 0 or "x" }}|{{ 1 and "y" }}|{{ not 0 }}|{{ not 1 in [1] }}', "x|y|True|False"),
    ('{{ 1 in [1, 2] }}|{{ 3 not in [1, 2] }}|{{ "b" in "abc" }}', "True|True|True"),
    ('{{ "yes" if 1 else "no" }}|{{ "yes" if 0 else "no" }}|{{ "yes" if 0 }}|', "yes|no||"),
    ("{{ 1 if 0 else 2 if 1 else 3 }}", "2"),
    ("{{ \"dq\" }}{{ 'sq' }}{{ \"a\" 'b' }}", "dqsqab"),
    ('{{ "a\\"b" }}|{{ \'tab\\there\' }}|{{ "\\u00e9\\n" }}', "a&#34;b|tab\there|\u00e9\n"),
    ("{{ 42 }}|{{ -1 }}|{{ 1_000 }}|{{ 0x1f }}|{{ 0o17 }}|{{ 0b11 }}", "42|-1|1000|31|15|3"),
    ("{{ 1.5 }}|{{ 1e3 }}|{{ 2.5e-1 }}|{{ 1_0.5 }}", "1.5|1000.0|0.25|10.5"),
    ("{{ true }}{{ True }}{{ false }}{{ False }}{{ none }}{{ None }}", "TrueTrueFalseFalseNoneNone"),
    ('{{ [1, "a", none] }}', "[1, &#39;a&#39;, None]"),
    ("{{ (1, 2) }}|{{ (1,) }}|{{ () }}|{{ 1, 2 }}", "(1, 2)|(1,)|()|(1, 2)"),
    ('{{ {"k": "v", 1: [2]} }}', "{&#39;k&#39;: &#39;v&#39;, 1: [2]}"),
    ('{{ {"a": {"b": 1}}["a"]["b"] }}', "1"),
    ("{{ [1, 2, 3][1:] }}|{{ 'abcdef'[::2] }}|{{ 'abc'[:-1] }}|{{ 'abc'[-1] }}", "[2, 3]|ace|ab|c"),
    ("{{ dict(a=1) }}|{{ range(3)|list }}", "{&#39;a&#39;: 1}|[0, 1, 2]"),
    ('{{ "a-b".split("-") }}|{{ "x".upper() }}', "[&#39;a&#39;, &#39;b&#39;]|X"),
    ("{{ 1 is odd and 2 is even }}|{{ 3 is not divisibleby 2 }}", "True|True"),
]


@pytest.mark.parametrize("source,expected", EXPRESSIONS)
def test_expressions(source, expected):
    assert render(source) == expected


def test_attribute_access_falls_back_to_item_and_item_to_attribute():
    ctx = {"d": {"a": 1, "items": "I"}, "o": Obj(a=2, name="N"), "l": [10, 20]}
    assert render("{{ d.a }}|{{ d['a'] }}|{{ o.a }}|{{ o['a'] }}|{{ l.1 }}|{{ l[-1] }}", **ctx) == \
        "1|1|2|2|20|20"
    # getattr wins for a.b: d.items is the dict method, d['items'] the item
    assert render("{{ d.items is callable }}|{{ d['items'] }}", **ctx) == "True|I"
    assert render("{{ d.missing }}|{{ d.missing is defined }}|{{ o.nope is undefined }}", **ctx) == \
        "|False|True"


def test_calls_with_positional_keyword_and_star_arguments():
    def f(a, b=0, **kw):
        return "%s/%s/%s" % (a, b, sorted(kw.items()))
    ctx = {"f": f}
    assert render("{{ f(1) }}", **ctx) == "1/0/[]"
    assert render("{{ f(1, b=2) }}", **ctx) == "1/2/[]"
    assert render("{{ f(*[1, 2]) }}", **ctx) == "1/2/[]"
    assert render('{{ f(**{"a": 1, "c": 3}) }}', **ctx) == "1/0/[(&#39;c&#39;, 3)]"
    # a keyword that is a Python keyword still reaches the function
    assert render('{{ f(1, class="x") }}', **ctx) == "1/0/[(&#39;class&#39;, &#39;x&#39;)]"


def test_filters_chain_take_arguments_and_the_django_colon_form():
    assert render('{{ "  ab "|trim|upper }}') == "AB"
    assert render('{{ "the quick brown fox jumps"|truncate(13) }}') == "the quick..."
    assert render('{{ "the quick brown fox jumps"|truncate:13 }}') == "the quick..."
    assert render('{{ x|default:"none given" }}') == "none given"
    assert render('{{ "abc"|replace("b", "x")|upper }}') == "AXC"
    # in a slice and a dict key the colon keeps its meaning
    assert render("{{ 'abcd'[1:3] }}|{{ {'a'|upper: 1} }}") == "bc|{&#39;A&#39;: 1}"


def test_string_literal_escapes_follow_python():
    plain = TemplateEngine("unused", autoescape=False)
    source = r"""{{ "\x41\u00e9\U0001F600\N{BULLET}\101\0|\\|\n\t|\'\"|a\d|" }}{{ 'a\
b' }}"""
    # an unknown escape such as \d is kept as written, without a DeprecationWarning
    assert plain.render_string(source) == "A\u00e9\U0001F600\u2022A\x00|\\|\n\t|'\"|a\\d|ab"


def test_self_is_a_reference_to_the_blocks():
    assert render("{{ self }}{% block a %}{% endblock %}{% block b %}{% endblock %}") == \
        "&lt;TemplateReference a, b&gt;"


def test_comments_are_dropped():
    assert render("a{# a comment {{ x }} {% if %} #}b{#\nmulti\nline\n#}c") == "abc"


def test_raw_keeps_template_syntax():
    assert render("{% raw %}{{ x }}{% if %}{# c #}{% endraw %}") == "{{ x }}{% if %}{# c #}"


# undefined --------------------------------------------------------------------------------

def test_undefined_renders_empty_and_behaves_as_empty():
    assert render("[{{ missing }}]") == "[]"
    assert render("{% for x in missing %}x{% else %}none{% endfor %}") == "none"
    assert render("{% if missing %}y{% else %}n{% endif %}") == "n"
    assert render("{{ missing|length }}|{{ missing is defined }}|{{ missing is undefined }}") == "0|False|True"
    assert render("{{ missing == missing_too }}") == "True"


# if ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,expected", [(1, 0, "A"), (0, 1, "B"), (0, 0, "C"), (1, 1, "A")])
def test_if_elif_else(a, b, expected):
    assert render("{% if a %}A{% elif b %}B{% else %}C{% endif %}", a=a, b=b) == expected


def test_nested_if_and_multiple_elif():
    source = "{% if x > 2 %}big{% elif x > 1 %}mid{% elif x > 0 %}{% if x == 1 %}one{% endif %}{% endif %}"
    assert [render(source, x=x) for x in (3, 2, 1, 0)] == ["big", "mid", "one", ""]


# for -------------------------------------------------------------------------------------------

LOOP_FIELDS = ("{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
               "{{ loop.first }}{{ loop.last }}{{ loop.length }}")


def test_loop_fields_when_inlined():
    source = "{% for x in items %}" + LOOP_FIELDS + "|{% endfor %}"
    expected = "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|"
    assert render(source, items=["a", "b", "c"]) == expected
    # from a generator too: the length is taken by listing it
    assert render(source, items=(c for c in "abc")) == expected


def test_loop_fields_with_the_full_loop_object():
    # previtem forces a real loop object; the same fields must agree
    source = "{% for x in items %}" + LOOP_FIELDS + "{{ loop.previtem }}|{% endfor %}"
    assert render(source, items=["a", "b", "c"]) == "1032TrueFalse3|2121FalseFalse3a|3210FalseTrue3b|"
    assert render(source, items=(c for c in "abc")) == "1032TrueFalse3|2121FalseFalse3a|3210FalseTrue3b|"


def test_loop_previtem_nextitem_cycle_depth_changed():
    source = ("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('x', 'y') }}"
              "-{{ loop.depth }}{{ loop.depth0 }}|{% endfor %}")
    assert render(source) == "-2-x-10|1-3-y-10|2--x-10|"
    assert render("{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}") == "121"
    assert render("{% for x in 'ab' %}{% set l = loop %}{{ l.index }}{% endfor %}") == "12"


def test_loop_cycle_inlined():
    assert render("{% for x in range(5) %}{{ loop.cycle('o', 'e', '-') }}{% endfor %}") == "oe-oe"


def test_for_unpacking_else_and_filter():
    assert render("{% for a, b in pairs %}{{ a }}={{ b }};{% endfor %}", pairs=[(1, 2), (3, 4)]) == "1=2;3=4;"
    assert render("{% for (a, b) in pairs %}{{ a }}{{ b }}{% endfor %}", pairs=[(1, 2)]) == "12"
    assert render("{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", d={"x": 1}) == "x1"
    assert render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty"
    assert render("{% for x in [1] %}x{% else %}empty{% endfor %}") == "x"
    source = "{% for x in range(10) if x is odd %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"
    assert render(source) == "1,3,5,7,9"
    assert render("{% for x in range(4) if x > 9 %}x{% else %}none{% endfor %}") == "none"
    assert render("{% for a, b in [(1, 0), (2, 1)] if b %}{{ a }}{{ loop.index }}{% endfor %}") == "21"


def test_break_and_continue():
    source = ("{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}"
              "{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}")
    assert render(source) == "0246"


def test_recursive_loop_with_depth():
    tree = [{"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": []}]}]},
            {"name": "d", "children": []}]
    source = ("{% for item in tree recursive %}<li>{{ item.name }}{{ loop.depth }}"
              "{% if item.children %}<ul>{{ loop(item.children) }}</ul>{% endif %}</li>{% endfor %}")
    assert render(source, tree=tree) == \
        "<li>a1<ul><li>b2<ul><li>c3</li></ul></li></ul></li><li>d1</li>"


def test_loop_variable_is_the_innermost_loop():
    assert render("{% for i in 'ab' %}{% for j in 'xyz' %}{{ loop.index }}{% endfor %}|{% endfor %}") == "123|123|"


# set and with ----------------------------------------------------------------------------------

def test_set_inside_a_loop_does_not_leak_and_each_iteration_starts_from_the_outer_value():
    source = "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}"
    assert render(source) == "11121"
    assert render("{% for i in [1, 2] %}{% set y = i %}{% endfor %}[{{ y }}]") == "[]"


def test_set_inside_if_is_visible_after_it():
    assert render("{% if true %}{% set y = 2 %}{% endif %}{{ y }}") == "2"
    assert render("{{ x }}{% set x = 5 %}{{ x }}", x=1) == "15"


def test_set_tuple_namespace_and_block_set():
    assert render("{% set a, b = 1, 2 %}{{ a }}{{ b }}") == "12"
    source = "{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}"
    assert render(source) == "6"
    assert render('{% set nav %}<a href="/">{{ "<Home>" }}</a>{% endset %}{{ nav }}') == \
        '<a href="/">&lt;Home&gt;</a>'
    assert render("{% set x | upper %}abc{% endset %}{{ x }}") == "ABC"
    assert render("{% set x %}a{% set inner = 1 %}{% endset %}{{ x }}[{{ inner }}]") == "a[]"


def test_with_evaluates_values_outside_and_scopes_names_inside():
    assert render("{% with a = 1, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", a=5) == "155"
    assert render("{% with %}{% set a = 3 %}{{ a }}{% endwith %}{{ a }}", a=5) == "35"
    assert render("{% with a, b = (1, 2) %}{{ a }}{{ b }}{% endwith %}") == "12"


# macros, call, import ---------------------------------------------------------------------------

def test_macro_arguments_defaults_varargs_kwargs():
    macro = "{% macro m(a, b=a ~ 'x') %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}"
    assert render(macro + "{{ m(1) }}") == "11x(){}"
    assert render(macro + "{{ m(1, 2, 3, k=4) }}") == "12(3,){&#39;k&#39;: 4}"
    assert render(macro + "{{ m(b=2, a=1) }}") == "12(){}"
    assert render("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}") == "[]"


def test_macro_output_is_markup_and_arguments_are_escaped():
    source = "{% macro b(x) %}<b>{{ x }}</b>{% endmacro %}{{ b('<i>') }}|{{ b(b('y')) }}"
    assert render(source) == "<b>&lt;i&gt;</b>|<b><b>y</b></b>"


def test_macro_with_unusual_argument_names():
    assert render("{% macro m(_a, class, l_1_x) %}{{ _a }}{{ class }}{{ l_1_x }}{% endmacro %}"
                  "{{ m(1, class=2, l_1_x=3) }}") == "123"


def test_macro_sees_template_variables_and_later_assignments():
    assert render("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}") == "2"
    assert render("{% macro m() %}{{ who }}{% endmacro %}{{ m() }}", who="ctx") == "ctx"
    assert render("{% set x = 1 %}{% macro m() %}{{ x }}{% set x = 3 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}") == "131"


def test_recursive_macro():
    source = ("{% macro tree(n) %}({{ n.v }}{% for c in n.kids %}{{ tree(c) }}{% endfor %}){% endmacro %}"
              "{{ tree(t) }}")
    t = {"v": 1, "kids": [{"v": 2, "kids": []}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}
    assert render(source, t=t) == "(1(2)(3(4)))"


def test_call_block_and_caller_with_arguments():
    wrap = "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
    assert render(wrap + "{% call wrap('p') %}Hi {{ name }}{% endcall %}", name="<x>") == "<p>Hi &lt;x&gt;</p>"
    listing = ("{% macro ul(items) %}<ul>{% for i in items %}<li>{{ caller(i) }}</li>{% endfor %}</ul>"
               "{% endmacro %}{% call(it) ul([1, '<']) %}*{{ it }}*{% endcall %}")
    assert render(listing) == "<ul><li>*1*</li><li>*&lt;*</li></ul>"
    # the caller sees the variables at the call site
    loop = "{% for n in [1, 2] %}{% call wrap('i') %}{{ n }}{% endcall %}{% endfor %}"
    assert render(wrap + loop) == "<i>1</i><i>2</i>"


def test_import_and_from_import(files):
    engine = files({
        "macros.html": ("{% set version = 3 %}{% set _hidden = 1 %}"
                        "{% macro field(name) %}<input name=\"{{ name }}\">{{ suffix }}{% endmacro %}"
                        "{% macro _private() %}{% endmacro %}body"),
        "a.html": "{% import 'macros.html' as m %}{{ m.version }}|{{ m.field('q') }}|{{ m }}",
        "b.html": "{% from 'macros.html' import field, version as v %}{{ field('x') }}|{{ v }}",
        "c.html": "{% from 'macros.html' import field, nope %}{{ nope is defined }}|{{ field('y') }}",
        "d.html": "{% import 'macros.html' as m with context %}{{ m.field('q') }}",
        "e.html": "{% from 'macros.html' import field with context %}{{ field('q') }}",
    })
    assert engine.render("a.html", suffix="!") == '3|<input name="q">|body'
    assert engine.render("b.html") == '<input name="x">|3'
    assert engine.render("c.html") == 'False|<input name="y">'
    assert engine.render("d.html", suffix="!") == '<input name="q">!'
    assert engine.render("e.html", suffix="?") == '<input name="q">?'


def test_filter_block_and_autoescape_block():
    assert render("{% filter upper %}a<{{ '<b>' }}{% endfilter %}") == "A<&LT;B&GT;"
    assert render("{% filter trim|replace('a', 'o') %}  banana  {% endfilter %}") == "bonono"
    assert render("{% autoescape false %}{{ '<b>' }}{% endautoescape %}{{ '<b>' }}") == "<b>&lt;b&gt;"
    plain = TemplateEngine("unused", autoescape=False)
    assert plain.render_string("{% autoescape true %}{{ '<b>' }}{% endautoescape %}{{ '<b>' }}") == "&lt;b&gt;<b>"


def test_globals_range_dict_cycler_joiner_namespace():
    assert render("{{ range(2, 8, 2)|join(',') }}|{{ dict(a=1, b=2)|length }}") == "2,4,6|2"
    assert render("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.current }}{{ c.next() }}") == "abaa"
    assert render("{% set j = joiner('|') %}{% for x in 'abc' %}{{ j() }}{{ x }}{% endfor %}") == "a|b|c"
    assert render("{% set ns = namespace(a=1, b='x') %}{{ ns.a }}{{ ns.b }}") == "1x"
    assert render("{{ lipsum is defined }}") == "False"


# include ------------------------------------------------------------------------------------

def test_include_with_context_sees_locals_but_not_loop(files):
    engine = files({
        "row.html": "<{{ item }}{{ extra }}{{ loop is defined }}>",
        "page.html": "{% for item in [1, 2] %}{% set extra = 'x' %}{% include 'row.html' %}{% endfor %}",
        "bare.html": "{% include 'row.html' without context %}",
        "opt.html": "a{% include 'missing.html' ignore missing %}b",
        "list.html": "{% include ['missing.html', 'row.html'] %}",
        "var.html": "{% include name %}",
    })
    assert engine.render("page.html") == "<1xFalse><2xFalse>"
    assert engine.render("bare.html", item="ctx") == "<False>"
    assert engine.render("opt.html") == "ab"
    assert engine.render("list.html", item=7) == "<7False>"
    assert engine.render("var.html", name="row.html", item=8) == "<8False>"


# inheritance ----------------------------------------------------------------------------------

INHERITANCE = {
    "base.html": ("<title>{% block title %}Base{% endblock %}</title>\n"
                  "<body>{% block body %}{% block content %}base content{% endblock %}{% endblock %}</body>"),
    "layout.html": ("{% extends 'base.html' %}"
                    "{% block title %}Layout - {{ super() }}{% endblock %}"
                    "{% block body %}<nav/>{{ super() }}{% endblock %}"),
    "page.html": ("{% extends 'layout.html' %}ignored text outside blocks"
                  "{% block title %}Page - {{ super() }}{% endblock %}"
                  "{% block content %}page content, then {{ super() }}{% endblock %}"),
}


def test_three_levels_of_inheritance_with_super(files):
    engine = files(INHERITANCE)
    assert engine.render("page.html") == \
        "<title>Page - Layout - Base</title>\n<body><nav/>page content, then base content</body>"
    assert engine.render("layout.html") == "<title>Layout - Base</title>\n<body><nav/>base content</body>"
    assert engine.render("base.html") == "<title>Base</title>\n<body>base content</body>"


def test_child_variables_and_output_before_extends(files):
    engine = files({
        "base.html": "{% set b = 1 %}[{% block a %}A{{ x }}{{ c }}{{ b }}{% endblock %}]{% set c = 5 %}",
        "child.html": "before|{% extends 'base.html' %}{% set x = 2 %}{% block a %}C{{ x }}{{ b }}{{ super() }}{% endblock %}after",
        "dynamic.html": "{% extends layout %}{% block a %}D{% endblock %}",
        "cond.html": "{% if wrap %}{% extends 'base.html' %}{% endif %}{% block a %}C{% endblock %}tail",
    })
    # top-level sets of the child are visible in every block; the parent's set after the block is not
    assert engine.render("child.html") == "before|[C21A21]"
    assert engine.render("dynamic.html", layout="base.html") == "[D]"
    assert engine.render("cond.html", wrap=True) == "[C]"
    assert engine.render("cond.html", wrap=False) == "Ctail"


def test_self_scoped_and_required_blocks(files):
    engine = files({
        "selfref.html": "<h1>{% block title %}T{% endblock %}</h1><title>{{ self.title() }}</title>",
        "scoped.html": "{% for i in [1, 2] %}{% block item scoped %}[{{ i }}]{% endblock %}{% endfor %}",
        "unscoped.html": "{% for i in [1, 2] %}{% block item %}[{{ i }}]{% endblock %}{% endfor %}",
        "override.html": "{% extends 'scoped.html' %}{% block item %}<{{ i }}{{ super() }}>{% endblock %}",
        "req.html": "{% block r required %}{# nothing #}{% endblock %}",
        "req_child.html": "{% extends 'req.html' %}{% block r %}R{% endblock %}",
        "nested.html": "{% block outer %}<{% block inner %}i{% endblock %}>{% endblock %}",
        "nested_child.html": "{% extends 'nested.html' %}{% block inner %}I{{ super() }}{% endblock %}",
    })
    assert engine.render("selfref.html") == "<h1>T</h1><title>T</title>"
    assert engine.render("scoped.html") == "[1][2]"
    assert engine.render("unscoped.html") == "[][]"
    assert engine.render("override.html") == "<1[1]><2[2]>"
    assert engine.render("req_child.html") == "R"
    with pytest.raises(TemplateError) as info:
        engine.render("req.html")
    assert str(info.value) == "req.html, line 1: required block 'r' of 'req.html' was not overridden"
    assert engine.render("nested_child.html") == "<Ii>"


# whitespace control ------------------------------------------------------------------------

WHITESPACE = [
    # source, default, trim_blocks, lstrip_blocks, both
    ("a  {{- 1 -}}  b", "a1b", "a1b", "a1b", "a1b"),
    ("a\n  {%- if true -%}\n  x  \n{%- endif -%}\n  b", "axb", "axb", "axb", "axb"),
    ("a {#- c -#} b", "ab", "ab", "ab", "ab"),
    ("<ul>\n{% for i in [1, 2] %}\n  <li>{{ i }}</li>\n{% endfor %}\n</ul>",
     "<ul>\n\n  <li>1</li>\n\n  <li>2</li>\n\n</ul>",
     "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>",
     "<ul>\n\n  <li>1</li>\n\n  <li>2</li>\n\n</ul>",
     "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"),
    ("  {% if true %}\n  yes\n  {% endif %}\n",
     "  \n  yes\n  ", "    yes\n  ", "\n  yes\n", "  yes\n"),
    ("a\n    {% if true %}\n    b\n    {% endif %}\n c",
     "a\n    \n    b\n    \n c", "a\n        b\n     c", "a\n\n    b\n\n c", "a\n    b\n c"),
    ("  {%+ if true %}x{% endif +%}\nz", "  x\nz", "  x\nz", "  x\nz", "  x\nz"),
    ("x\n  {# note #}\ny", "x\n  \ny", "x\n  y", "x\n\ny", "x\ny"),
    ("{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}", "12", "12", "12", "12"),
    ("text {{ 1 }}  {% if true %}  in  {% endif %}\nend",
     "text 1    in  \nend", "text 1    in  end", "text 1    in  \nend", "text 1    in  end"),
    ("  {% raw %}\n  {{ }}\n  {% endraw %}\nz",
     "  \n  {{ }}\n  \nz", "  \n  {{ }}\n  z", "\n  {{ }}\n\nz", "\n  {{ }}\nz"),
    ("line\r\nline2\r\n{% if true %}\r\nx\r\n{% endif %}\r\n",
     "line\nline2\n\nx\n", "line\nline2\nx\n", "line\nline2\n\nx\n", "line\nline2\nx\n"),
]


@pytest.mark.parametrize("source,default,trim,lstrip,both", WHITESPACE)
def test_whitespace_control(source, default, trim, lstrip, both):
    expected = {(False, False): default, (True, False): trim, (False, True): lstrip, (True, True): both}
    for (trim_blocks, lstrip_blocks), want in expected.items():
        engine = TemplateEngine("unused", trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks)
        assert engine.render_string(source) == want, (trim_blocks, lstrip_blocks)


def test_one_trailing_newline_is_dropped_unless_kept():
    assert render("a\n") == "a"
    assert render("a\n\n") == "a\n"
    assert TemplateEngine("unused", keep_trailing_newline=True).render_string("a\n") == "a\n"


def test_markup_values_pass_through_and_mix_safely():
    ctx = {"m": Markup("<b>"), "s": "<i>"}
    assert render("{{ m }}|{{ s }}|{{ m ~ s }}|{{ s ~ s }}|{{ s|safe }}", **ctx) == \
        "<b>|&lt;i&gt;|<b>&lt;i&gt;|&lt;i&gt;&lt;i&gt;|<i>"
    assert render("{{ m + s }}", **ctx) == "<b>&lt;i&gt;"


def test_every_syntax_node_class_is_written_out_in_the_source():
    # grep, editors and type checkers see only classes defined by a class statement
    import ast
    import inspect

    from covet.templates import _nodes

    tree = ast.parse(inspect.getsource(_nodes))
    defined = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert defined == _nodes.__all__
    assert all(issubclass(getattr(_nodes, name), _nodes.Node) for name in defined)
