"""covet.core._codegen: the emitter the router, template and schema compilers write through."""
import pytest

from covet.core._codegen import Emitter


def test_blocks_indent_their_body_and_close_themselves():
    e = Emitter()
    with e.block("def f(x)"):
        with e.block("if x"):
            e.line("return 1")
        with e.block("for i in range(3)"):
            e.line("x += i")
        e.line("return x")
    assert e.source() == ("def f(x):\n"
                          "    if x:\n"
                          "        return 1\n"
                          "    for i in range(3):\n"
                          "        x += i\n"
                          "    return x\n")
    namespace = {}
    exec(compile(e.source(), "<test>", "exec"), namespace)
    assert (namespace["f"](0), namespace["f"](5)) == (3, 1)


def test_an_empty_block_gets_pass_with_the_headers_tag():
    e = Emitter()
    with e.block("if x", tag=7):
        pass
    e.line("y = 1", tag=8)
    assert e.source() == "if x:\n    pass\ny = 1\n"
    assert e.tags() == [7, 7, 8]


def test_an_exception_inside_a_block_still_restores_the_level():
    e = Emitter(1)
    with pytest.raises(ValueError):
        with e.block("while True"):
            e.line("break")
            raise ValueError("generation failed")
    assert e.level == 1
    with pytest.raises(ValueError):
        with e.block("if x"):
            raise ValueError("before any line")
    assert e.level == 1 and e.lines[-1] == (1, "if x:", None)  # no 'pass' added on the way out


def test_extend_places_another_emitters_start_at_the_current_level():
    inner = Emitter()
    with inner.block("def g()"):
        inner.line("return 2", tag="g")
    body = Emitter(2)  # written for a place two levels deep
    body.line("a = 1")
    outer = Emitter()
    with outer.block("def f()"):
        with outer.block("try"):
            outer.extend(body)
            outer.extend(inner)
        with outer.block("except ValueError"):
            outer.line("a = 0")
        outer.line("return a + g()")
    assert outer.source() == ("def f():\n"
                              "    try:\n"
                              "        a = 1\n"
                              "        def g():\n"
                              "            return 2\n"
                              "    except ValueError:\n"
                              "        a = 0\n"
                              "    return a + g()\n")
    assert outer.tags() == [None, None, None, None, "g", None, None, None]
