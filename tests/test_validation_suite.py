"""covet.validation against the official JSON-Schema-Test-Suite, draft 2020-12.

The suite lives outside the repository: ../shared/jsonschema-test-suite from the
repo root, or wherever the JSON_SCHEMA_TEST_SUITE environment variable points (a
checkout of github.com/json-schema-org/JSON-Schema-Test-Suite). Without it the whole
file is skipped, and the run's summary says so. Every case of every keyword file
covet supports runs as its own test; the groups covet does not implement are listed
below with the reason, and a test checks that covet refuses each of them with
SchemaError instead of guessing.
"""
import json
import os
from pathlib import Path

import pytest

from covet.validation import SchemaError, ValidationError, compile_schema

SUITE_ROOT = Path(os.environ.get("JSON_SCHEMA_TEST_SUITE")
                  or Path(__file__).resolve().parents[2] / "shared" / "jsonschema-test-suite")
DRAFT = next((p for p in (SUITE_ROOT / "tests" / "draft2020-12", SUITE_ROOT / "draft2020-12") if p.is_dir()), None)
if DRAFT is None:
    pytest.skip("JSON-Schema-Test-Suite not found at %s: set JSON_SCHEMA_TEST_SUITE to a checkout "
                "(docs/validation.md, 'The official test suite')" % SUITE_ROOT, allow_module_level=True)

KEYWORD_FILES = [
    "additionalProperties.json", "allOf.json", "anyOf.json", "boolean_schema.json", "const.json",
    "contains.json", "default.json", "defs.json", "dependentRequired.json", "enum.json",
    "exclusiveMaximum.json", "exclusiveMinimum.json", "if-then-else.json", "items.json",
    "maxContains.json", "maxItems.json", "maxLength.json", "maxProperties.json", "maximum.json",
    "minContains.json", "minItems.json", "minLength.json", "minProperties.json", "minimum.json",
    "multipleOf.json", "not.json", "oneOf.json", "pattern.json", "patternProperties.json",
    "prefixItems.json", "properties.json", "propertyNames.json", "ref.json", "required.json",
    "type.json", "uniqueItems.json",
] + ["optional/format/%s.json" % name for name in (
    "date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname")]

_REMOTE = "remote $ref (covet resolves references inside the schema only)"
_ID = "$id-based resolution (embedded schema resources with their own base URI)"
SKIPPED = {
    ("defs.json", "validate definition against metaschema"): _REMOTE + ": the 2020-12 metaschema",
    ("not.json", "collect annotations inside a 'not', even if collection is disabled"):
        "unevaluatedProperties (annotation collection) is not implemented",
    ("pattern.json", "pattern with Unicode property escape requires unicode mode"):
        "ECMA-262 \\p{...} escapes: patterns are Python re, which has no \\p",
    ("patternProperties.json", "patternProperties with Unicode property escape"):
        "ECMA-262 \\p{...} escapes: patterns are Python re, which has no \\p",
    ("ref.json", "remote ref, containing refs itself"): _REMOTE,
    ("ref.json", "Recursive references between schemas"): _ID,
    ("ref.json", "ref creates new scope when adjacent to keywords"):
        "unevaluatedProperties (annotation collection) is not implemented",
    ("ref.json", "refs with relative uris and defs"): _ID,
    ("ref.json", "relative refs with absolute uris and defs"): _ID,
    ("ref.json", "$id must be resolved against nearest parent, not just immediate parent"): _ID,
    ("ref.json", "order of evaluation: $id and $ref"): _ID,
    ("ref.json", "order of evaluation: $id and $anchor and $ref"): "$anchor references",
    ("ref.json", "order of evaluation: $id and $ref on nested schema"): _ID,
    ("ref.json", "simple URN base URI with $ref via the URN"): _ID + " (URN)",
    ("ref.json", "URN base URI with URN and JSON pointer ref"): _ID + " (URN)",
    ("ref.json", "URN base URI with URN and anchor ref"): _ID + " (URN) and $anchor",
    ("ref.json", "URN ref with nested pointer ref"): _ID + " (URN)",
    ("ref.json", "ref to if"): _ID,
    ("ref.json", "ref to then"): _ID,
    ("ref.json", "ref to else"): _ID,
    ("ref.json", "ref with absolute-path-reference"): _ID,
}
# Cases of the copied suite (SOURCE.md: commit 44401e0c); update both when the copy is refreshed.
EXPECTED_RUN, EXPECTED_SKIPPED = 1203, 44


def _groups():
    out = []
    for name in KEYWORD_FILES:
        path = DRAFT / name
        if path.is_file():
            for index, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                out.append((name, index, group))
    return out


GROUPS = _groups()
_COMPILED = {}


def _validator(name, index, schema):
    key = (name, index)
    if key not in _COMPILED:
        _COMPILED[key] = compile_schema(schema)
    return _COMPILED[key]


def _cases():
    params = []
    for name, index, group in GROUPS:
        reason = SKIPPED.get((name, group["description"]))
        for number, case in enumerate(group["tests"]):
            marks = [pytest.mark.skip(reason="not supported: " + reason)] if reason else []
            params.append(pytest.param(name, index, group["schema"], case["data"], case["valid"],
                                       id="%s-%d-%d" % (name.replace("optional/format/", "format-"), index, number),
                                       marks=marks))
    return params


CASES = _cases()


@pytest.mark.parametrize("name, index, schema, data, valid", CASES)
def test_official_case(name, index, schema, data, valid):
    check = _validator(name, index, schema)
    try:
        check(data)
    except ValidationError as exc:
        assert not valid, "valid instance rejected: %s" % exc.errors
        assert exc.errors and all(set(e) == {"loc", "msg", "type"} for e in exc.errors)
    else:
        assert valid, "invalid instance accepted"


def test_every_keyword_file_is_present():
    missing = [name for name in KEYWORD_FILES if not (DRAFT / name).is_file()]
    assert missing == []


def test_case_count_is_visible():
    run = sum(1 for p in CASES if not p.marks)
    skipped = sum(1 for p in CASES if p.marks)
    assert (run, skipped) == (EXPECTED_RUN, EXPECTED_SKIPPED)


def test_skip_table_names_real_groups():
    present = {(name, group["description"]) for name, _, group in GROUPS}
    assert sorted(set(SKIPPED) - present) == []


@pytest.mark.parametrize("name, description", sorted(SKIPPED))
def test_unsupported_groups_are_refused_at_compile_time(name, description):
    schema = next(g["schema"] for n, _, g in GROUPS if n == name and g["description"] == description)
    with pytest.raises(SchemaError):
        compile_schema(schema)
