"""Point tracebacks at template lines instead of generated Python lines.

A frame running generated code is replaced by a stand-in frame whose code
object is compiled under the template's file name with its statement on
the template line, so tracebacks read ``File ".../page.html", line 7, in
block 'content'`` and show that template line's text. The first template
frame's name and line are also attached to a ``TemplateError``.
"""
import linecache
import sys

from ._errors import TemplateError

__all__ = ["rewrite_traceback"]


class _StandIn(Exception):
    """Raised by a stand-in frame; never escapes this module."""


def _frame_label(code_name):
    if code_name == "_root":
        return "template"
    if code_name.startswith("_b_"):
        return "block %r" % code_name[3:]
    if code_name.startswith("_caller"):
        return "call block"
    if code_name.startswith("_loop"):
        return "recursive loop"
    if code_name.startswith("l_"):
        return "macro %r" % code_name.split("_", 2)[2]
    return code_name


def _stand_in(filename, lineno, label):
    linecache.checkcache(filename)
    line = linecache.getline(filename, lineno)
    stripped = line.strip()
    indent = len(line) - len(line.lstrip())
    statement = "raise _StandIn"
    if len(stripped) > len(statement):
        # Python draws ^^^ under the part of the line the failing statement
        # covers unless it covers the whole line; pad it to the line's width.
        statement = "raise (_StandIn%s)" % (" " * (len(stripped) - len(statement) - 2))
    if indent and lineno > 1:
        source = "if 1:\n" + "\n" * (lineno - 2) + " " * indent + statement
    else:
        source = "\n" * (lineno - 1) + statement
    code = compile(source, filename, "exec")
    code = code.replace(co_name=label)
    try:
        exec(code, {"_StandIn": _StandIn})
    except _StandIn:
        return sys.exc_info()[2].tb_next
    raise AssertionError("stand-in frame did not raise")  # pragma: no cover


def rewrite_traceback(exc, tb):
    """Return ``tb`` with every generated-code frame replaced by its template line."""
    entries = []
    located = False
    while tb is not None:
        frame = tb.tb_frame
        template = frame.f_globals.get("__covet_template__")
        if template is not None and frame.f_code.co_filename == template.code_filename:
            line_map = template.line_map
            lineno = line_map[tb.tb_lineno] if 0 <= tb.tb_lineno < len(line_map) else 1
            entries.append((template, lineno, _frame_label(frame.f_code.co_name)))
            located = (template, lineno)
        else:
            entries.append(tb)
        tb = tb.tb_next
    if located and isinstance(exc, TemplateError) and exc.template_name is None:
        exc.template_name = located[0].name or "<template>"
        exc.lineno = located[1]
    new = None
    for entry in reversed(entries):
        if isinstance(entry, tuple):
            template, lineno, label = entry
            entry = _stand_in(template.code_filename, lineno, label)
        entry.tb_next = new
        new = entry
    return new
