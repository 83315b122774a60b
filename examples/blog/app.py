"""A small blog served by covet: template inheritance, includes, macros and a form.

Run it:   python -m covet run examples/blog/app.py     (then open http://127.0.0.1:8000)
Test it:  tests/test_example_blog.py renders every page through the test client.

Templates (examples/blog/templates/):
  base.html      the page: <head>, the navigation (an include), blocks title/content/footer
  blog.html      extends base.html: posts on the left, a tag list on the right
  index.html     extends blog.html: a summary of every post (a macro from _macros.html)
  post.html      extends blog.html: one post
  new.html       extends base.html: the form, built from the macros in _macros.html
  404.html       extends base.html
"""
import os
import re

from covet import Covet, RedirectResponse, Request
from covet.templates import TemplateEngine

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_TITLE = 100
MAX_BODY = 20_000
MAX_TAGS = 5
TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")

SEED = [
    {"slug": "hello-covet", "title": "Hello, covet", "tags": ["news"],
     "body": "covet runs on the standard library alone.\n\nThis blog is one file and six templates."},
    {"slug": "templates-compile-to-python", "title": "Templates compile to Python",
     "tags": ["templates", "speed"],
     "body": "Each template becomes a Python function.\n\nRendering runs it; nothing is parsed twice."},
]


def slugify(title):
    """'Hello, World!' -> 'hello-world'."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def tag_counts(posts):
    """[(tag, number of posts)] sorted by tag."""
    counts = {}
    for post in posts:
        for tag in post["tags"]:
            counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts.items())


def validate(values, posts):
    """Field name -> error message, for a submitted post."""
    errors = {}
    title, body = values["title"], values["body"]
    if not title:
        errors["title"] = "A title is required."
    elif len(title) > MAX_TITLE:
        errors["title"] = "At most %d characters, please." % MAX_TITLE
    elif not slugify(title):
        errors["title"] = "The title needs at least one letter or digit."
    elif any(post["slug"] == slugify(title) for post in posts):
        errors["title"] = "A post with this title exists already."
    tags = [t.strip().lower() for t in values["tags"].split(",") if t.strip()]
    if len(tags) > MAX_TAGS or not all(TAG.fullmatch(t) for t in tags):
        errors["tags"] = "Up to %d tags: lower-case letters, digits and dashes." % MAX_TAGS
    if not body:
        errors["body"] = "Write something."
    elif len(body) > MAX_BODY:
        errors["body"] = "At most %d characters, please." % MAX_BODY
    return errors, tags


def create_app(debug=False):
    """A blog app with its own post list (seeded with two posts)."""
    app = Covet(debug=debug)
    templates = TemplateEngine(os.path.join(HERE, "templates"), auto_reload=debug,
                               trim_blocks=True, lstrip_blocks=True,
                               globals={"site": {"name": "covet blog"}})
    posts = app.state.posts = [dict(post) for post in SEED]

    def page(name, request, status_code=200, **context):
        context.update(current=request.path, posts_count=len(posts), tags=tag_counts(posts))
        return templates.response(name, context, status_code=status_code)

    @app.get("/")
    def index(request: Request):
        return page("index.html", request, posts=posts[::-1])

    @app.get("/posts/{slug}")
    def show(slug: str, request: Request):
        for post in posts:
            if post["slug"] == slug:
                return page("post.html", request, post=post)
        return page("404.html", request, status_code=404, slug=slug)

    @app.get("/new")
    def new_post(request: Request):
        return page("new.html", request, values={}, errors={})

    @app.post("/new")
    async def create_post(request: Request):
        form = await request.form()
        values = {name: str(form.get(name, "")).strip() for name in ("title", "tags", "body")}
        errors, tags = validate(values, posts)
        if errors:
            return page("new.html", request, status_code=422, values=values, errors=errors)
        post = {"slug": slugify(values["title"]), "title": values["title"], "tags": tags,
                "body": values["body"].replace("\r\n", "\n")}
        posts.append(post)
        return RedirectResponse("/posts/" + post["slug"], status_code=303)

    return app


app = create_app()
