"""Render and compile time of covet.templates against Jinja2, on three templates.

  table   a page of 100 table rows: a loop, loop.index/loop.cycle, filters, an if
  inherit three-level inheritance (base -> layout -> page) with super() and an include
  form    a macro-heavy form: field/label/error macros, a call block, 12 fields

Targets (issue 4): render time <= 1.0x Jinja2's and compile time <= 1.0x
Jinja2's for each template, both engines autoescaping. Before timing, the
script checks that both engines produce the same HTML.

Run with benchmarks/.venv/bin/python (Jinja2 installed there) or plain
python3 (the peer is reported as not installed). Prints the median of RUNS
runs for each figure, and the ratios covet / Jinja2 (below 1.0 is faster).
"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet.templates import TemplateEngine  # noqa: E402

try:
    import jinja2
except ImportError:  # the peer lives in benchmarks/.venv only
    jinja2 = None

RUNS = 9

TEMPLATES = {
    "table.html": """<!doctype html>
<html><head><title>{{ title|title }}</title></head>
<body>
<h1>{{ title }}</h1>
<table class="users">
  <tr><th>#</th><th>Name</th><th>Email</th><th>Role</th><th>Balance</th><th>Notes</th></tr>
  {%- for user in users %}
  <tr class="{{ loop.cycle('odd', 'even') }}">
    <td>{{ loop.index }}</td>
    <td><a href="/users/{{ user.id }}">{{ user.name|title }}</a></td>
    <td>{{ user.email|lower }}</td>
    <td>{% if user.admin %}<b>admin</b>{% else %}{{ user.role|default('member') }}{% endif %}</td>
    <td>{{ "%.2f"|format(user.balance) }}</td>
    <td>{{ user.notes|truncate(40) }}</td>
  </tr>
  {%- endfor %}
</table>
<p>{{ users|length }} users</p>
</body></html>
""",
    "base.html": """<!doctype html>
<html lang="{{ lang|default('en') }}">
<head>
  <meta charset="utf-8">
  <title>{% block title %}Site{% endblock %}</title>
  {% block head %}<link rel="stylesheet" href="/static/site.css">{% endblock %}
</head>
<body>
  <header>{% include "nav.html" %}</header>
  <main>{% block main %}{% endblock %}</main>
  <footer>{% block footer %}&copy; {{ year }} Example{% endblock %}</footer>
</body>
</html>
""",
    "nav.html": """<nav><ul>
{%- for item in nav %}
  <li{% if item.href == current %} class="active"{% endif %}><a href="{{ item.href }}">{{ item.label }}</a></li>
{%- endfor %}
</ul></nav>""",
    "layout.html": """{% extends "base.html" %}
{% block title %}{% block page_title %}{% endblock %} | {{ super() }}{% endblock %}
{% block head %}{{ super() }}<link rel="stylesheet" href="/static/layout.css">{% endblock %}
{% block main %}
<div class="layout">
  <aside>{% block sidebar %}{% for link in sidebar %}<a href="{{ link.url }}">{{ link.text }}</a>{% endfor %}{% endblock %}</aside>
  <section>{% block content %}{% endblock %}</section>
</div>
{% endblock %}
""",
    "page.html": """{% extends "layout.html" %}
{% block page_title %}{{ article.title }}{% endblock %}
{% block content %}
<article>
  <h1>{{ article.title }}</h1>
  <p class="byline">by {{ article.author.name }} on {{ article.date }}</p>
  {% for paragraph in article.paragraphs %}<p>{{ paragraph }}</p>
  {% endfor %}
  <ul class="tags">{% for tag in article.tags %}<li>{{ tag|upper }}</li>{% endfor %}</ul>
</article>
{% endblock %}
{% block footer %}{{ super() }} &middot; {{ article.comments|length }} comments{% endblock %}
""",
    "forms.html": """{% macro label(field) -%}
<label for="f-{{ field.name }}">{{ field.label }}{% if field.required %} <span class="req">*</span>{% endif %}</label>
{%- endmacro %}
{% macro errors(list) -%}
{% if list %}<ul class="errors">{% for e in list %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
{%- endmacro %}
{% macro input(field, type="text", placeholder="") -%}
<div class="field{% if field.errors %} invalid{% endif %}">
  {{ label(field) }}
  <input type="{{ type }}" id="f-{{ field.name }}" name="{{ field.name }}" value="{{ field.value|default('') }}"
         placeholder="{{ placeholder }}"{% if field.required %} required{% endif %}>
  {{ errors(field.errors) }}
</div>
{%- endmacro %}
{% macro select(field, options) -%}
<div class="field">
  {{ label(field) }}
  <select id="f-{{ field.name }}" name="{{ field.name }}">
  {%- for value, text in options %}
    <option value="{{ value }}"{% if value == field.value %} selected{% endif %}>{{ text }}</option>
  {%- endfor %}
  </select>
</div>
{%- endmacro %}
{% macro fieldset(legend) -%}
<fieldset><legend>{{ legend }}</legend>{{ caller() }}</fieldset>
{%- endmacro %}""",
    "form.html": """{% from "forms.html" import input, select, fieldset %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  {% call fieldset("Account") %}
    {% for field in fields[:6] %}{{ input(field, type=field.type, placeholder=field.label|lower) }}
    {% endfor %}
  {% endcall %}
  {% call fieldset("Profile") %}
    {% for field in fields[6:] %}{{ input(field) }}
    {% endfor %}
    {{ select(country, countries) }}
  {% endcall %}
  <button type="submit">Save</button>
</form>
""",
}

TABLE_CONTEXT = {
    "title": "user <list> & balances",
    "users": [
        {"id": i, "name": "user number %d" % i, "email": "User%d@Example.COM" % i,
         "admin": i % 10 == 0, "role": "editor" if i % 3 == 0 else None, "balance": i * 12.5,
         "notes": "Notes for user %d: <script>alert('x')</script> and more text here" % i}
        for i in range(100)
    ],
}
for _user in TABLE_CONTEXT["users"]:
    if _user["role"] is None:
        del _user["role"]


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


INHERIT_CONTEXT = {
    "lang": "en", "year": 2026, "current": "/blog",
    "nav": [{"href": h, "label": h.strip("/").title() or "Home"} for h in ("/", "/blog", "/about", "/contact")],
    "sidebar": [{"url": "/tag/%d" % i, "text": "Tag %d" % i} for i in range(8)],
    "article": _Obj(title="Compiling <templates>", author=_Obj(name="Ada"), date="2026-11-23",
                    paragraphs=["Paragraph %d with a few words & symbols." % i for i in range(12)],
                    tags=["python", "templates", "speed"], comments=list(range(5))),
}

FORM_CONTEXT = {
    "action": "/profile", "csrf": "tok<en>",
    "fields": [
        {"name": "f%d" % i, "label": "Field %d" % i, "required": i % 2 == 0,
         "value": "value %d" % i if i % 3 else "", "errors": ["Too short"] if i == 4 else [],
         "type": "email" if i == 1 else "text"}
        for i in range(12)
    ],
    "country": {"name": "country", "label": "Country", "required": True, "value": "fr", "errors": []},
    "countries": [("de", "Germany"), ("fr", "France"), ("it", "Italy"), ("es", "Spain")],
}

CASES = [
    ("table", "table.html", ["table.html"], TABLE_CONTEXT, 300),
    ("inherit", "page.html", ["base.html", "nav.html", "layout.html", "page.html"], INHERIT_CONTEXT, 1000),
    ("form", "form.html", ["forms.html", "form.html"], FORM_CONTEXT, 500),
]


def median_time(fn, number):
    """Median seconds per call over RUNS runs of ``number`` calls."""
    figures = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        figures.append((time.perf_counter() - start) / number)
    return statistics.median(figures)


def main():
    folder = tempfile.mkdtemp(prefix="covet-bench-")
    for name, source in TEMPLATES.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(source)
    covet = TemplateEngine(folder)
    env = None
    if jinja2 is not None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True)
    else:
        print("jinja2: peer not installed (run with benchmarks/.venv/bin/python to compare)")
    print("%-8s %13s %13s %7s   %13s %13s %7s" % ("template", "covet render", "jinja2 render", "ratio",
                                                  "covet compile", "jinja2 compile", "ratio"))
    for label, name, sources, context, number in CASES:
        covet_render = median_time(lambda: covet.render(name, context), number)
        # compile: every template the page needs, from source, no cache
        texts = [(n, TEMPLATES[n]) for n in sources]

        def covet_compile():
            for n, text in texts:
                covet.compile(text, n)
        covet_compile_time = median_time(covet_compile, max(5, number // 20))
        if env is None:
            print("%-8s %10.1f us %13s %7s   %10.1f us %13s %7s" % (
                label, covet_render * 1e6, "-", "-", covet_compile_time * 1e6, "-", "-"))
            continue
        jinja_template = env.get_template(name)
        expected = jinja_template.render(context)
        got = covet.render(name, context)
        if got != expected:
            raise SystemExit("output of %s differs from Jinja2's:\n--- jinja2\n%s\n--- covet\n%s"
                             % (name, expected, got))
        jinja_render = median_time(lambda: jinja_template.render(context), number)

        def jinja_compile():
            for n, text in texts:
                env.from_string(text)
        jinja_compile_time = median_time(jinja_compile, max(5, number // 20))
        print("%-8s %10.1f us %10.1f us %6.2fx   %10.1f us %10.1f us %6.2fx" % (
            label, covet_render * 1e6, jinja_render * 1e6, covet_render / jinja_render,
            covet_compile_time * 1e6, jinja_compile_time * 1e6, covet_compile_time / jinja_compile_time))


if __name__ == "__main__":
    main()
