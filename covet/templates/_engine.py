"""TemplateEngine: finds, compiles, caches and renders templates."""
import os

from ._compiler import CodeGenerator
from ._debug import rewrite_traceback
from ._errors import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError
from ._filters import FILTERS, TESTS
from ._lexer import tokenize
from ._parser import Parser
from ._runtime import Cycler, Joiner, Namespace, Runtime, StrictUndefined, Undefined

__all__ = ["TemplateEngine", "Template"]

# Extensions whose templates are HTML/XML and so are escaped by default.
AUTOESCAPE_EXTENSIONS = (".html", ".htm", ".xml", ".svg")
# render_string() keeps this many compiled sources; beyond it the oldest goes.
# Enough for the inline templates of an app, bounded so that rendering
# generated source strings cannot grow memory without limit.
MAX_STRING_CACHE = 256


class Template:
    """One compiled template; ``render(context=None, **kw)`` returns a str."""

    __slots__ = ("engine", "name", "filename", "code_filename", "mtime", "autoescape",
                 "python_source", "line_map", "root", "blocks", "exported", "module_cache")

    def render(self, context=None, **kw):
        """Render with ``context`` (a mapping) and keyword variables; returns a str."""
        engine = self.engine
        ctx = engine.runtime.Context(engine.globals)
        if context:
            ctx.update(context)
        if kw:
            ctx.update(kw)
        out = []
        blocks = {name: [func] for name, func in self.blocks.items()} if self.blocks else {}
        try:
            self.root(ctx, out, blocks)
        except Exception as exc:
            tb = rewrite_traceback(exc, exc.__traceback__.tb_next)
            raise exc.with_traceback(tb)
        return "".join(out)

    def __repr__(self):
        return "<Template %r>" % (self.name,)


def _default_globals():
    return {"range": range, "dict": dict, "cycler": Cycler, "joiner": Joiner,
            "namespace": Namespace}


class TemplateEngine:
    """Jinja-style templates from one or more directories, compiled to Python and autoescaped.

    :param directory: a folder, or a list of folders searched in order.
    :param autoescape: True escapes ``.html .htm .xml .svg`` templates and render_string();
        False escapes nothing; a callable ``f(name_or_None) -> bool`` decides per template.
    :param auto_reload: re-check file mtimes on every lookup (None means False).
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
        self.auto_reload = bool(auto_reload)
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

    def response(self, name, /, context=None, status_code=200, headers=None):
        """Render ``name`` into an HTMLResponse."""
        from ..core.responses import HTMLResponse
        return HTMLResponse(self.render(name, context), status_code=status_code, headers=headers)

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
            if not self.auto_reload:
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
