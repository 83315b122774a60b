"""covet.core.status: the written-out codes and phrases agree with http.HTTPStatus."""
import ast
import http
import pathlib
import re

from covet.core import status

# RFC 9110 §15 renamed these; http.HTTPStatus took the new names only in Python 3.13.
RFC9110 = {413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable",
           422: "Unprocessable Content"}
OLD_NAMES = {"HTTP_413_REQUEST_ENTITY_TOO_LARGE", "HTTP_414_REQUEST_URI_TOO_LONG",
             "HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE", "HTTP_422_UNPROCESSABLE_ENTITY"}


def test_phrases_are_those_of_http_httpstatus_with_the_rfc_9110_names_pinned():
    expected = {s.value: RFC9110.get(s.value, s.phrase) for s in http.HTTPStatus}
    assert status.PHRASES == expected


def test_every_httpstatus_member_has_its_constant_under_the_name_python_gives_it():
    for s in http.HTTPStatus:
        # On 3.9-3.12 the four renamed codes carry their old names: those are aliases here.
        assert getattr(status, "HTTP_%d_%s" % (s.value, s.name)) == s.value


def test_each_constant_is_the_number_in_its_name_and_named_after_its_phrase():
    constants = {n: getattr(status, n) for n in dir(status) if n.startswith("HTTP_")}
    assert len(constants) == len(status.PHRASES) + len(OLD_NAMES)
    for name, value in constants.items():
        assert type(value) is int and name.startswith("HTTP_%d_" % value), name
        if name not in OLD_NAMES:
            derived = re.sub(r"[^A-Z0-9]+", "_", status.PHRASES[value].upper().replace("'", ""))
            assert name == "HTTP_%d_%s" % (value, derived)
    assert sorted(n for n in status.__all__ if n.startswith("HTTP_")) == sorted(constants)


def test_constants_are_written_in_the_source_so_tools_see_them():
    tree = ast.parse(pathlib.Path(status.__file__).read_text(encoding="utf-8"))
    written = {node.target.id: node.value.value for node in tree.body
               if isinstance(node, ast.AnnAssign) and node.target.id.startswith("HTTP_")}
    assert written == {n: getattr(status, n) for n in dir(status) if n.startswith("HTTP_")}


def test_phrase_of_unknown_codes_is_empty():
    assert (status.phrase(404), status.phrase(299), status.phrase(999)) == ("Not Found", "", "")


def test_status_is_importable_from_covet_as_a_module():
    from covet import status
    from covet.core import status as core_status

    assert status is core_status
    assert status.HTTP_404_NOT_FOUND == 404
