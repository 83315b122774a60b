"""Template: one compiled template and how it renders."""
from typing import Any, Mapping, Optional

from ._debug import rewrite_traceback

__all__ = ["Template"]


class Template:
    """One compiled template; ``render(context=None, **kw)`` returns a str.

    Templates come from ``TemplateEngine.get_template(name)`` or ``from_string(source)``;
    ``python_source`` holds the generated module.

    Example::

        page = engine.get_template("page.html")
        page.render({"title": "Home"})
    """

    __slots__ = ("engine", "name", "filename", "code_filename", "mtime", "autoescape",
                 "python_source", "line_map", "root", "blocks", "exported", "module_cache")

    def render(self, context: Optional[Mapping[str, Any]] = None, **kw: Any) -> str:
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

    def __repr__(self) -> str:
        return "<Template %r>" % (self.name,)
