"""Every built-in filter and test, one by one, with exact output (autoescaped string templates)."""
import pytest

from covet.templates import Markup, TemplateEngine, TemplateError

ENGINE = TemplateEngine("templates-that-do-not-exist")


def render(source, **context):
    return ENGINE.render_string(source, context)


class Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


USERS = [
    {"name": "a", "city": "Paris", "age": 30, "admin": True},
    {"name": "b", "city": "Berlin", "age": 25, "admin": False},
    {"name": "c", "city": "paris", "age": 35, "admin": False},
]

FILTERS = [
    # abs
    ("{{ -3|abs }}|{{ (-2.5)|abs }}", {}, "3|2.5"),
    # attr: getattr only, no item fallback
    ('{{ o|attr("name") }}|{{ d|attr("a") }}|{{ o|attr("nope") is defined }}',
     {"o": Obj(name="N"), "d": {"a": 1}}, "N||False"),
    # batch
    ("{{ [1, 2, 3, 4, 5]|batch(2)|list }}|{{ [1, 2, 3]|batch(2, 0)|list }}", {},
     "[[1, 2], [3, 4], [5]]|[[1, 2], [3, 0]]"),
    # capitalize
    ('{{ "hELLO world"|capitalize }}', {}, "Hello world"),
    # center
    ('[{{ "ab"|center(6) }}]', {}, "[  ab  ]"),
    # default and d
    ('{{ missing|default("x") }}|{{ ""|default("x") }}|{{ ""|default("x", true) }}|{{ none|d("x") }}|{{ 0|d(5, boolean=true) }}',
     {}, "x||x|None|5"),
    # dictsort
    ("{% for k, v in d|dictsort %}{{ k }}{{ v }} {% endfor %}", {"d": {"b": 1, "C": 2, "a": 3}}, "a3 b1 C2 "),
    ("{% for k, v in d|dictsort(true) %}{{ k }}{{ v }} {% endfor %}", {"d": {"b": 1, "C": 2, "a": 3}}, "C2 a3 b1 "),
    ("{% for k, v in d|dictsort(by='value', reverse=true) %}{{ k }}{% endfor %}", {"d": {"b": 1, "C": 2, "a": 3}}, "aCb"),
    # escape and e (Markup result: not escaped twice)
    ('{{ "<&>"|e }}|{{ "<&>"|escape }}', {}, "&lt;&amp;&gt;|&lt;&amp;&gt;"),
    ('{% autoescape false %}{{ "<a>"|escape }}{{ "<a>" }}{% endautoescape %}', {}, "&lt;a&gt;<a>"),
    # first
    ('{{ [3, 4]|first }}|{{ []|first }}|{{ "abc"|first }}', {}, "3||a"),
    # float
    ('{{ "1.5"|float }}|{{ "x"|float }}|{{ "x"|float(2.5) }}|{{ 3|float }}', {}, "1.5|0.0|2.5|3.0"),
    # forceescape
    ('{{ "<b>"|safe|forceescape }}', {}, "&lt;b&gt;"),
    # format
    ('{{ "%s=%d"|format("a", 3) }}|{{ "%(x)s"|format(x="<") }}|{{ "%.2f"|format(2) }}', {}, "a=3|&lt;|2.00"),
    # groupby: sorted groups, case-insensitive by default, grouper from the first item
    ('{% for g in users|groupby("city") %}{{ g.grouper }}: {{ g.list|map(attribute="name")|join(", ") }}; {% endfor %}',
     {"users": USERS}, "Berlin: b; Paris: a, c; "),
    ('{% for city, items in users|groupby("city", case_sensitive=true) %}{{ city }}{{ items|length }} {% endfor %}',
     {"users": USERS}, "Berlin1 Paris1 paris1 "),
    # indent
    ('{{ "a\nb\n\nc"|indent }}', {}, "a\n    b\n\n    c"),
    ('{{ "a\nb"|indent(2, true) }}|{{ "a\n\nb"|indent(2, blank=true) }}|{{ "a\nb"|indent(">") }}', {},
     "  a\n  b|a\n  \n  b|a\n&gt;b"),
    # int
    ('{{ "42"|int }}|{{ 3.9|int }}|{{ "x"|int }}|{{ "x"|int(-1) }}|{{ "ff"|int(base=16) }}|{{ "3.7"|int }}', {},
     "42|3|0|-1|255|3"),
    # join
    ('{{ [1, 2, 3]|join("-") }}|{{ [1, 2]|join }}|{{ users|join(", ", attribute="name") }}', {"users": USERS},
     "1-2-3|12|a, b, c"),
    ('{{ ["<a>", m]|join("|") }}|{{ ["<a>", "b"]|join("<") }}', {"m": Markup("<br>")}, "&lt;a&gt;|<br>|&lt;a&gt;&lt;b"),
    # last
    ("{{ [3, 4]|last }}|{{ []|last }}", {}, "4|"),
    # length and count
    ('{{ [1, 2]|length }}|{{ "abc"|count }}|{{ {"a": 1}|length }}', {}, "2|3|1"),
    # list
    ('{{ "ab"|list }}|{{ range(3)|list }}', {}, "[&#39;a&#39;, &#39;b&#39;]|[0, 1, 2]"),
    # lower
    ('{{ "AbC"|lower }}', {}, "abc"),
    # map
    ('{{ ["a", "b"]|map("upper")|join }}|{{ users|map(attribute="name")|join(",") }}|{{ ["1", "2"]|map("int")|sum }}',
     {"users": USERS}, "AB|a,b,c|3"),
    ('{{ ["a", "b"]|map("replace", "a", "x")|join }}|{{ users|map(attribute="zip", default="-")|join }}',
     {"users": USERS}, "xb|---"),
    # max and min
    ('{{ [3, 1, 2]|max }}|{{ ["b", "A", "c"]|max }}|{{ ["b", "A", "C"]|min }}|{{ []|max }}|{{ (users|max(attribute="age")).name }}',
     {"users": USERS}, "3|c|A||c"),
    ('{{ ["b", "A", "C"]|min(case_sensitive=true) }}|{{ (users|min(attribute="age")).name }}', {"users": USERS}, "A|b"),
    # replace (Markup-aware under autoescape)
    ('{{ "aaa"|replace("a", "b", 2) }}|{{ "<a>"|replace("a", "b") }}|{{ "x<y"|replace("x", "<br>"|safe) }}', {},
     "bba|&lt;b&gt;|<br>&lt;y"),
    # reverse
    ('{{ "abc"|reverse }}|{{ [1, 2, 3]|reverse|join }}|{{ gen|reverse|join }}', {"gen": (x for x in [1, 2])},
     "cba|321|21"),
    # round
    ('{{ 2.567|round(2) }}|{{ 2.1|round(method="ceil") }}|{{ 2.9|round(method="floor") }}|{{ 2.5|round }}|{{ 3.14159|round(3, "floor") }}',
     {}, "2.57|3.0|2.0|2.0|3.141"),
    # safe
    ('{{ "<b>"|safe }}', {}, "<b>"),
    # select and reject
    ('{{ range(6)|select("odd")|join }}|{{ range(6)|reject("odd")|join }}|{{ [0, 1, "", "a"]|select|list }}|{{ [0, 1]|reject|list }}',
     {}, "135|024|[1, &#39;a&#39;]|[0]"),
    ('{{ range(10)|select("divisibleby", 3)|join(",") }}|{{ range(5)|select("gt", 2)|join }}', {}, "0,3,6,9|34"),
    # selectattr and rejectattr
    ('{{ users|selectattr("admin")|map(attribute="name")|join }}|{{ users|rejectattr("admin")|map(attribute="name")|join }}',
     {"users": USERS}, "a|bc"),
    ('{{ users|selectattr("age", "ge", 30)|map(attribute="name")|join }}|{{ users|rejectattr("city", "eq", "Paris")|map(attribute="name")|join }}',
     {"users": USERS}, "ac|bc"),
    # slice
    ("{{ [1, 2, 3, 4, 5]|slice(2)|list }}|{{ [1, 2, 3, 4]|slice(3, 0)|list }}", {},
     "[[1, 2, 3], [4, 5]]|[[1, 2], [3, 0], [4, 0]]"),
    # sort
    ('{{ [3, 1, 2]|sort|join }}|{{ ["b", "C", "a"]|sort|join }}|{{ ["b", "C", "a"]|sort(case_sensitive=true)|join }}|{{ [1, 3, 2]|sort(reverse=true)|join }}',
     {}, "123|abC|Cab|321"),
    ('{{ users|sort(attribute="age")|map(attribute="name")|join }}|{{ users|sort(attribute="city,age")|map(attribute="name")|join }}',
     {"users": USERS}, "bac|bac"),
    # string
    ("{{ 1|string ~ 2 }}|{{ [1]|string }}|{{ none|string }}", {}, "12|[1]|None"),
    # striptags
    ('{{ "<p>a  <b>b</b></p>\n<!-- c -->&amp; d"|striptags }}', {}, "a b &amp; d"),
    # sum
    ('{{ [1, 2, 3]|sum }}|{{ users|sum(attribute="age") }}|{{ [1]|sum(start=10) }}', {"users": USERS}, "6|90|11"),
    # title
    ('{{ "hello wORLD-foo (bar)"|title }}', {}, "Hello World-Foo (Bar)"),
    # tojson: sorted keys, safe in <script>
    ('{{ {"b": 1, "a": [1, "x"]}|tojson }}|{{ "<\'&>"|tojson }}|{{ {"a": 1}|tojson(2) }}', {},
     '{"a": [1, "x"], "b": 1}|"\\u003c\\u0027\\u0026\\u003e"|{\n  "a": 1\n}'),
    # trim
    ('[{{ "  x  "|trim }}]|{{ "--x--"|trim("-") }}', {}, "[x]|x"),
    # truncate (leeway 5 by default, as Jinja2)
    ('{{ "the quick brown fox jumps"|truncate(13) }}|{{ "abcdefghijkl"|truncate(5, true) }}|{{ "abc def ghi jkl"|truncate(9, end="!") }}|{{ "short"|truncate(3) }}',
     {}, "the quick...|ab...|abc def!|short"),
    ('{{ "hello world foo bar"|truncate(9, leeway=0) }}', {}, "hello..."),
    # unique
    ('{{ [1, 2, 1, 3]|unique|join }}|{{ ["a", "A", "b"]|unique|join }}|{{ ["a", "A"]|unique(case_sensitive=true)|join }}',
     {}, "123|ab|aA"),
    ('{{ users|unique(attribute="city")|map(attribute="name")|join }}', {"users": USERS}, "ab"),
    # upper
    ('{{ "abc"|upper }}', {}, "ABC"),
    # urlencode
    ('{{ "a b/c&d"|urlencode }}|{{ {"q": "a b", "x": "&"}|urlencode }}|{{ [("k", 1)]|urlencode }}|{{ "\u00e9"|urlencode }}',
     {}, "a%20b/c%26d|q=a+b&amp;x=%26|k=1|%C3%A9"),
    # wordcount
    ('{{ "one two  three, four"|wordcount }}', {}, "4"),
    # wordwrap
    ('{{ "aaa bbb ccc"|wordwrap(7) }}|{{ "aaa bbb"|wordwrap(3, wrapstring="<br>") }}', {}, "aaa bbb\nccc|aaa&lt;br&gt;bbb"),
    # xmlattr
    ('<p{{ {"class": "a b", "id": none, "title": "<x>", "x": missing}|xmlattr }}>|{{ {"a": 1}|xmlattr(false) }}', {},
     '<p class="a b" title="&lt;x&gt;">|a="1"'),
]


@pytest.mark.parametrize("source,context,expected", FILTERS)
def test_filter(source, context, expected):
    assert render(source, **context) == expected


def test_every_issue_filter_is_covered_here():
    names = ("abs attr batch capitalize center default d dictsort escape e first float forceescape format "
             "groupby indent int join last length count list lower map max min replace reverse round safe "
             "select reject selectattr rejectattr slice sort string striptags sum title tojson trim truncate "
             "unique upper urlencode wordcount wordwrap xmlattr").split()
    covered = " ".join(source for source, _, _ in FILTERS)
    missing = [n for n in names if "|" + n not in covered and "|" + n + "(" not in covered]
    assert missing == []
    assert set(names) <= set(ENGINE.filters)


def test_filters_that_return_lists_where_jinja2_returns_iterators():
    # Documented difference: printing these shows the items, not a generator's repr.
    assert render("{{ [1, 2, 3]|select('odd') }}|{{ [1, 2]|map('string') }}|{{ [1, 1]|unique }}|{{ [1, 2]|reverse }}") == \
        "[1, 3]|[&#39;1&#39;, &#39;2&#39;]|[1]|[2, 1]"


def test_filters_outside_autoescape_return_plain_strings():
    plain = TemplateEngine("unused", autoescape=False)
    assert plain.render_string('{{ ["<a>", "b"]|join("<") }}|{{ "<a>"|replace("a", "<") }}|{{ {"a": "<"}|xmlattr }}') == \
        '<a><b|<<>| a="&lt;"'


def test_filter_argument_errors():
    with pytest.raises(ValueError) as info:
        render('{{ "abcdef"|truncate(2) }}')
    assert str(info.value) == "truncate length must be at least len(end) = 3, got 2"
    with pytest.raises(ValueError) as info:
        render('{{ {"a b": 1}|xmlattr }}')
    assert str(info.value) == "invalid character in attribute name: 'a b'"
    with pytest.raises(TemplateError) as info:
        render('{{ {"a": 1}|dictsort(by="size") }}')
    assert str(info.value) == "<template>, line 1: dictsort can only sort by 'key' or 'value', not 'size'"
    with pytest.raises(TemplateError) as info:
        render('{{ 1.5|round(method="up") }}')
    assert str(info.value) == "<template>, line 1: round method must be 'common', 'ceil' or 'floor', not 'up'"
    with pytest.raises(TemplateError) as info:
        render('{{ "%s %(a)s"|format(1, a=2) }}')
    assert str(info.value) == "<template>, line 1: format takes positional or keyword arguments, not both"
    with pytest.raises(TemplateError) as info:
        render("{{ [1]|map }}")
    assert str(info.value) == "<template>, line 1: map() needs a filter name or attribute="
    with pytest.raises(TemplateError) as info:
        render("{{ [1]|map('nosuchfilter')|list }}")
    assert str(info.value) == "<template>, line 1: no filter named 'nosuchfilter'"
    with pytest.raises(TemplateError) as info:
        render("{{ [1]|select('nosuchtest')|list }}")
    assert str(info.value) == "<template>, line 1: no test named 'nosuchtest'"


# tests ----------------------------------------------------------------------------------------

TESTS = [
    ("{{ x is defined }}|{{ missing is defined }}|{{ none is defined }}", {"x": 0}, "True|False|True"),
    ("{{ x is undefined }}|{{ missing is undefined }}", {"x": 0}, "False|True"),
    ("{{ none is none }}|{{ 0 is none }}|{{ x is not none }}", {"x": 1}, "True|False|True"),
    ("{{ 1 is number }}|{{ 1.5 is number }}|{{ '1' is number }}|{{ true is number }}", {}, "True|True|False|True"),
    ("{{ 'a' is string }}|{{ m is string }}|{{ 1 is string }}", {"m": Markup("x")}, "True|True|False"),
    ("{{ {} is mapping }}|{{ [] is mapping }}", {}, "True|False"),
    ("{{ [] is iterable }}|{{ 'a' is iterable }}|{{ 1 is iterable }}", {}, "True|True|False"),
    ("{{ 2 is even }}|{{ 3 is even }}|{{ 3 is odd }}|{{ -1 is odd }}", {}, "True|False|True|True"),
    ("{{ 9 is divisibleby 3 }}|{{ 9 is divisibleby(2) }}|{{ 0 is divisibleby 5 }}", {}, "True|False|True"),
    ("{{ x is sameas x }}|{{ x is sameas y }}|{{ none is sameas none }}", {"x": [], "y": []}, "True|False|True"),
    ("{{ 'abc' is lower }}|{{ 'aBc' is lower }}|{{ 'ABC' is upper }}|{{ 'AbC' is upper }}", {}, "True|False|True|False"),
    # further Jinja2 tests
    ("{{ true is boolean }}|{{ 1 is boolean }}|{{ true is true }}|{{ 1 is true }}|{{ false is false }}", {},
     "True|False|True|False|True"),
    ("{{ 1 is integer }}|{{ true is integer }}|{{ 1.0 is float }}|{{ 1 is float }}", {}, "True|False|True|False"),
    ("{{ [1] is sequence }}|{{ 'a' is sequence }}|{{ 1 is sequence }}|{{ f is callable }}|{{ 1 is callable }}",
     {"f": len}, "True|True|False|True|False"),
    ("{{ m is escaped }}|{{ 's' is escaped }}|{{ 1 is in [1, 2] }}|{{ 'z' is in 'abc' }}", {"m": Markup("x")},
     "True|False|True|False"),
    ("{{ 1 is eq 1 }}|{{ 1 is equalto 2 }}|{{ 1 is ne 2 }}|{{ 1 is lt 2 }}|{{ 1 is lessthan 1 }}|{{ 1 is le 1 }}",
     {}, "True|False|True|True|False|True"),
    ("{{ 2 is gt 1 }}|{{ 2 is greaterthan 2 }}|{{ 2 is ge 2 }}", {}, "True|False|True"),
]


@pytest.mark.parametrize("source,context,expected", TESTS)
def test_test(source, context, expected):
    assert render(source, **context) == expected


def test_every_issue_test_is_covered_here():
    names = "defined undefined none number string mapping iterable even odd divisibleby sameas lower upper".split()
    covered = " ".join(source for source, _, _ in TESTS)
    assert [n for n in names if "is " + n not in covered] == []
    assert set(names) <= set(ENGINE.tests)


def test_tests_in_conditions_and_negation():
    assert render("{% if x is not defined %}nd{% endif %}{% if y is divisibleby 2 %}even{% endif %}", y=4) == "ndeven"
    assert render("{{ not x is defined }}") == "True"
