"""TemplateEngine: finds, compiles, caches and renders templates."""
import os
import sys
from typing import TYPE_CHECKING, Any, Mapping, Optional, overload

from ._compiler import CodeGenerator
from ._errors import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError
from ._filters import FILTERS, TESTS
from ._lexer import tokenize
from ._parser import Parser
from ._runtime import Cycler, Joiner, Namespace, Runtime, StrictUndefined, Undefined
from ._template import Template

if TYPE_CHECKING:
    from ._response import TemplateResponse

__all__ = ["TemplateEngine", "RELOADER_ENV"]

# Extensions whose templates are HTML/XML and so are escaped by default.
AUTOESCAPE_EXTENSIONS = (".html", ".htm", ".xml", ".svg")
# render_string() keeps this many compiled sources; beyond it the oldest goes.
# Enough for the inline templates of an app, bounded so that rendering
# generated source strings cannot grow memory without limit.
MAX_STRING_CACHE = 256
# Set in the environment of an app run with ``--reload`` (covet.server.workers names it
# RELOADER_CHILD_ENV; a test keeps the two equal): there, auto_reload=None means on.
RELOADER_ENV = "COVET_RELOADER_CHILD"
# The kernel module whose debug_enabled() tells whether a Covet app with debug on exists.
APP_MODULE = "covet.core.app"


def _debug_app_running() -> bool:
    """Whether a Covet app of this process has debug on (auto_reload=None follows it)."""
    # Looked up, not imported: rendering without a web app (mail, static pages) must not
    # load the HTTP kernel, and a process that made an app has imported the module already.
    app_module = sys.modules.get(APP_MODULE)
    return app_module is not None and app_module.debug_enabled()


def _default_globals():
    return {"range": range, "dict": dict, "cycler": Cycler, "joiner": Joiner,
            "namespace": Namespace}


class TemplateEngine:
    """Jinja-style templates from one or more directories, compiled to Python and autoescaped.

    :param directory: a folder, or a list of folders searched in order.
    :param autoescape: True escapes ``.html .htm .xml .svg`` templates and render_string();
        False escapes nothing; a callable ``f(name_or_None) -> bool`` decides per template.
    :param auto_reload: re-check file mtimes on every lookup, so edited templates (and the
        templates they extend, include or import) are compiled again. None, the default, turns
        it on when the app runs under covet's reloader (``--reload``), and while any Covet app
        of the process has ``debug`` on; otherwise it is off.
    :param globals: extra names visible to every template.

    Example::

        engine = TemplateEngine("templates")
        html = engine.render("page.html", {"title": "Home"})
    """

    def __init__(self, directory="templates", autoescape=True, auto_reload=None, globals=None,
                 *, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=False,
                 strict_undefined=False):
        if isinstance(directory, (str, os.PathLike)):
            directory = [directory]
        self.directories = [os.path.realpath(os.fspath(d)) for d in directory]
        if not (autoescape is True or autoescape is False or callable(autoescape)):
            raise TypeError("autoescape must be True, False or a callable(name) -> bool")
        self.autoescape = autoescape
        # None: the reloader's environment decides now; debug apps decide at each lookup
        self._reload_follows_debug = auto_reload is None
        self._auto_reload = bool(os.environ.get(RELOADER_ENV)) if auto_reload is None else bool(auto_reload)
        self.trim_blocks = trim_blocks
        self.lstrip_blocks = lstrip_blocks
        self.keep_trailing_newline = keep_trailing_newline
        self.strict_undefined = strict_undefined
        self.globals = _default_globals()
        if globals:
            self.globals.update(globals)
        self.filters = dict(FILTERS)
        self.tests = dict(TESTS)
        self.runtime = Runtime(self, StrictUndefined if strict_undefined else Undefined)
        self._namespace = self.runtime.namespace()
        self._cache = {}
        self._string_cache = {}

    # public API -------------------------------------------------------------------
    def render(self, name, /, context=None, **kw):
        """Render the template file ``name`` (relative to the directories) to a str.

        ``name`` is positional-only, so a template variable may be called ``name``.
        """
        return self.get_template(name).render(context, **kw)

    def render_string(self, source, /, context=None, **kw):
        """Render template ``source`` given as a string (compiled once, then cached)."""
        return self.from_string(source).render(context, **kw)

    @property
    def auto_reload(self) -> bool:
        """Whether lookups re-check the template file's mtime now (setting it fixes the choice)."""
        return self._auto_reload or (self._reload_follows_debug and _debug_app_running())

    @auto_reload.setter
    def auto_reload(self, value: bool) -> None:
        self._reload_follows_debug = False
        self._auto_reload = bool(value)

    @overload
    def response(self, request: Any, name: str, context: Optional[Mapping[str, Any]] = None,
                 status_code: int = 200, headers: Any = None, media_type: Optional[str] = None,
                 background: Any = None) -> "TemplateResponse": ...

    @overload
    def response(self, name: str, context: Optional[Mapping[str, Any]] = None, status_code: int = 200,
                 headers: Any = None, media_type: Optional[str] = None,
                 background: Any = None) -> "TemplateResponse": ...

    def response(self, *args: Any, **kwargs: Any) -> "TemplateResponse":
        """Render template ``name`` into a TemplateResponse (an HTMLResponse).

        ``response(request, name, context=None, status_code=200, headers=None, media_type=None,
        background=None)``: the context also holds ``request``, ``url_for`` and, with
        CSRFMiddleware, ``csrf_token`` (names in ``context`` win). The request may be
        left out: ``response(name, context)`` renders ``context`` as it is.

        Example::

            @app.get("/users/{user_id:int}")
            def show_user(request: Request, user_id: int):
                return engine.response(request, "user.html", {"user": load(user_id)})
        """
        if args and isinstance(args[0], str):
            args = (None,) + args
        return self._response(*args, **kwargs)

    def _response(self, request: Any = None, name: Optional[str] = None,
                  context: Optional[Mapping[str, Any]] = None, status_code: int = 200, headers: Any = None,
                  media_type: Optional[str] = None, background: Any = None) -> "TemplateResponse":
        # here, not at the top: responses load the HTTP kernel (and asyncio), which
        # rendering alone (mail, static pages) does not need
        from ._response import TemplateResponse, request_context

        if name is None:
            raise TypeError("response() needs the template name")
        if request is not None:
            names = request_context(request)
            if context:
                names.update(context)
            context = names
        return TemplateResponse(self.get_template(name), context, status_code, headers, media_type, background)

    def add_filter(self, name, fn):
        """Make ``fn(value, *args, **kwargs)`` available as ``{{ x|name }}``."""
        self._check_name(name, fn, "filter")
        self.filters[name] = fn
        self.clear_cache()

    def add_test(self, name, fn):
        """Make ``fn(value, *args) -> bool`` available as ``{% if x is name %}``."""
        self._check_name(name, fn, "test")
        self.tests[name] = fn
        self.clear_cache()

    def add_global(self, name, value):
        """Make ``value`` visible as ``name`` in every template."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError("a global's name must be an identifier, got %r" % (name,))
        self.globals[name] = value

    def clear_cache(self):
        """Forget every compiled template (they are compiled again on next use)."""
        self._cache.clear()
        self._string_cache.clear()

    @staticmethod
    def _check_name(name, fn, kind):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError("a %s name must be an identifier, got %r" % (kind, name))
        if not callable(fn):
            raise TypeError("a %s must be callable, got %r" % (kind, fn))

    def get_template(self, name):
        """The compiled Template for ``name``; compiled on first use, cached by name and mtime."""
        template = self._cache.get(name)
        if template is not None:
            # PERF: without reloading, a cached template is returned without a stat; the
            # debug check is a dict lookup and a length.
            if not self._auto_reload and not (self._reload_follows_debug and _debug_app_running()):
                return template
            try:
                mtime = os.stat(template.filename).st_mtime_ns
            except OSError:
                mtime = None
            if mtime == template.mtime:
                return template
        path = self.resolve(name)
        try:
            with open(path, "rb") as f:
                mtime = os.fstat(f.fileno()).st_mtime_ns
                data = f.read()
        except OSError as exc:
            raise TemplateNotFound(name, "template %r could not be read: %s" % (name, exc)) from None
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateError("template %r is not valid UTF-8 (byte %d)" % (name, exc.start)) from None
        template = self.compile(source, name, path, mtime)
        self._cache[name] = template
        return template

    def from_string(self, source):
        """Compile template ``source`` (cached by its text)."""
        if not isinstance(source, str):
            raise TypeError("template source must be a str, got %s" % type(source).__name__)
        cache = self._string_cache
        template = cache.get(source)
        if template is None:
            template = self.compile(source, None, None, None)
            while len(cache) >= MAX_STRING_CACHE:
                try:  # another thread may evict at the same time
                    cache.pop(next(iter(cache)), None)
                except (StopIteration, RuntimeError):
                    break
            cache[source] = template
        return template

    def resolve(self, name):
        """Absolute path of template ``name``; refuses names that leave the directories."""
        if not isinstance(name, str):
            raise TypeError("a template name must be a str, got %s" % type(name).__name__)
        if not name or "\x00" in name or "\\" in name or name.startswith("/") or \
                os.path.isabs(name) or os.path.splitdrive(name)[0]:
            raise SecurityError("template name %r is refused: names are relative paths "
                                "with '/' separators" % (name,))
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts or not parts:
            raise SecurityError("template name %r is refused: it leaves the template directories"
                                % (name,))
        for directory in self.directories:
            path = os.path.realpath(os.path.join(directory, *parts))
            if not path.startswith(directory + os.sep):
                # a symlink inside the directory that points out of it
                raise SecurityError("template %r resolves outside the template directories" % (name,))
            if os.path.isfile(path):
                return path
        raise TemplateNotFound(name, "template %r not found in %s" % (
            name, ", ".join(self.directories)))

    def is_autoescaped(self, name):
        """Whether template ``name`` (None for a string template) is autoescaped."""
        if callable(self.autoescape):
            return bool(self.autoescape(name))
        if not self.autoescape:
            return False
        if name is None:
            return True
        return name.lower().endswith(AUTOESCAPE_EXTENSIONS)

    def compile(self, source, name=None, filename=None, mtime=None):
        """Compile ``source`` into a Template (no caching; see get_template/from_string)."""
        autoescape = self.is_autoescaped(name)
        label = name or "<template>"
        tokens = tokenize(source, label, self.trim_blocks, self.lstrip_blocks, self.keep_trailing_newline)
        body = Parser(tokens, label).parse()
        generator = CodeGenerator(label, autoescape, self.filters, self.tests)
        code_filename = filename or "<template>"
        try:
            python_source, line_map = generator.generate(body)
            code = compile(python_source, code_filename, "exec", dont_inherit=True)
        except RecursionError:
            raise TemplateSyntaxError("the template nests too deeply", label) from None
        except SyntaxError as exc:
            # CPython refuses more than 20 nested loops in one function
            lineno = line_map[exc.lineno] if exc.lineno and exc.lineno < len(line_map) else None
            raise TemplateSyntaxError("the template nests too deeply for Python (%s)" % exc.msg,
                                      label, lineno) from None
        template = Template()
        namespace = dict(self._namespace)
        namespace["__covet_template__"] = template
        for filter_name in generator.used_filters:
            namespace["_f_" + filter_name] = self.filters[filter_name]
        for test_name in generator.used_tests:
            namespace["_t_" + test_name] = self.tests[test_name]
        exec(code, namespace)
        template.engine = self
        template.name = name
        template.filename = filename
        template.code_filename = code_filename
        template.mtime = mtime
        template.autoescape = autoescape
        template.python_source = python_source
        template.line_map = line_map
        template.root = namespace["_root"]
        template.blocks = namespace["_blocks"]
        template.exported = namespace["_exported"]
        template.module_cache = None
        return template
