"""A small blog served by covet: template inheritance, includes, macros, a form shown again
with its errors, a flash message after posting, CSRF protection, and a style sheet.

Run it:   python -m covet run examples/blog/app.py     (then open http://127.0.0.1:8000)
          set BLOG_SECRET_KEY to keep sessions across restarts and workers
Test it:  tests/test_example_blog.py renders every page through the test client;
          tests/browser/test_blog.py and test_static.py use it in Chromium (make test-browser).

Templates (examples/blog/templates/):
  base.html      the page: <head>, the navigation (an include), blocks title/content/footer
  blog.html      extends base.html: posts on the left, a tag list on the right
  index.html     extends blog.html: a summary of every post (a macro from _macros.html)
  post.html      extends blog.html: one post
  new.html       extends base.html: the form, built from the macros in _macros.html
  404.html       extends base.html

Static files (examples/blog/static/) are served by ``app.static("/static", STATIC, max_age=0)``, a
mount named "static", so templates link them with ``static("app.css")`` (ETag, 304s, ranges, and
every path-traversal spelling refused: docs/static-files.md).

The form is checked by a Model (PostForm) and a few rules of the blog's own; form_errors()
turns both into {field: [messages]} for the template, and flash() leaves "Published." in
the session for the page the redirect leads to.

Posting needs a CSRF token (``CSRFProtection``, docs/security.md#csrf): the form carries
``csrf_token(request)`` in a hidden field, its secret lives in the session, and a POST without
it, or with one that is not this session's, is refused with 403 before the handler runs.
"""
import os
import re
import secrets
from typing import Any, Dict, List

from covet import Covet, RedirectResponse, Request, flash, form_errors
from covet.security import CSRFProtection, SessionMiddleware, csrf_token
from covet.templates import TemplateEngine
from covet.validation import Field, Model, ValidationError

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, "static")
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


class PostForm(Model):
    """What the form must hold; the blog's own rules (tags, unique titles) are in validate()."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    tags: str = ""
    body: str = Field(min_length=1, max_length=MAX_BODY)


# The texts shown for the Model's errors, by "field.type" (covet.forms.form_errors).
MESSAGES = {
    "title.minLength": "A title is required.",
    "title.maxLength": "At most %d characters, please." % MAX_TITLE,
    "body.minLength": "Write something.",
    "body.maxLength": "At most %d characters, please." % MAX_BODY,
}


def validate(values, posts):
    """(field name -> error messages, tags) for a submitted post."""
    errors = []  # type: List[Dict[str, Any]]
    try:
        PostForm.parse(values)
    except ValidationError as exc:
        errors.extend(exc.errors)
    title = values["title"]
    if not any(error["loc"] == ["title"] for error in errors):
        if not slugify(title):
            errors.append({"loc": ["title"], "msg": "The title needs at least one letter or digit.",
                           "type": "slug"})
        elif any(post["slug"] == slugify(title) for post in posts):
            errors.append({"loc": ["title"], "msg": "A post with this title exists already.", "type": "unique"})
    tags = [t.strip().lower() for t in values["tags"].split(",") if t.strip()]
    if len(tags) > MAX_TAGS or not all(TAG.fullmatch(t) for t in tags):
        errors.append({"loc": ["tags"], "msg": "Up to %d tags: lower-case letters, digits and dashes." % MAX_TAGS,
                       "type": "tags"})
    return form_errors(errors, messages=MESSAGES), tags


def create_app(debug=False, secret_key=None):
    """A blog app with its own post list (seeded with two posts).

    ``secret_key`` signs the session cookie that carries flash messages; without one,
    ``BLOG_SECRET_KEY`` from the environment, else a random key (sessions then end when
    the process does, and each worker has its own).
    """
    app = Covet(debug=debug)
    secret_key = secret_key or os.environ.get("BLOG_SECRET_KEY") or secrets.token_urlsafe(32)
    # The session first: it is the outer middleware, and CSRFProtection keeps its secret in it.
    app.add_middleware(SessionMiddleware, secret_key=secret_key)
    app.add_middleware(CSRFProtection, secret_key=secret_key)
    templates = TemplateEngine(os.path.join(HERE, "templates"), auto_reload=debug,
                               trim_blocks=True, lstrip_blocks=True,
                               globals={"site": {"name": "covet blog"}, "csrf_token": csrf_token})
    posts = app.state.posts = [dict(post) for post in SEED]

    def page(name, request, status_code=200, **context):
        # response(request, ...) adds request, url_for, static and get_flashed_messages
        context.update(current=request.path, posts_count=len(posts), tags=tag_counts(posts))
        return templates.response(request, name, context, status_code=status_code)

    # max_age=0: "Cache-Control: public, max-age=0", so a browser asks again on every page, with
    # If-None-Match, and gets a 304 while the file is unchanged; an edited style sheet shows at
    # once. Without a Cache-Control a browser may keep it for a tenth of its age since it was last
    # modified (RFC 9111 §4.2.2) without asking. A site that deploys its assets with hashed names
    # would use hashed=True and a long max_age instead (docs/static-files.md).
    app.static("/static", STATIC, max_age=0)

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
        flash(request, "Your post is published.", "success")
        return RedirectResponse("/posts/" + post["slug"], status_code=303)

    return app


app = create_app()
