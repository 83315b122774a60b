"""covet.validation: every keyword (valid and invalid, exact error lists), coercion,
defaults, the rules-dict Validator, guard rails and the validate() cache."""
import copy
import json
import re

import pytest

import covet.validation as validation
from covet.validation import (SchemaError, ValidationError, Validator, compile_schema, validate)


def errors(schema, instance, **options):
    """The error list compile_schema(schema) reports for instance (it must fail)."""
    with pytest.raises(ValidationError) as info:
        compile_schema(schema, **options)(instance)
    return info.value.errors


def err(loc, msg, type_):
    return {"loc": loc, "msg": msg, "type": type_}


def ok(schema, instance, **options):
    return compile_schema(schema, **options)(instance)


# ---------------------------------------------------------------- type

@pytest.mark.parametrize("type_, good, bad", [
    ("null", None, 0),
    ("boolean", True, 1),
    ("boolean", False, 0),
    ("object", {"a": 1}, [("a", 1)]),
    ("array", [1, 2], {"0": 1}),
    ("array", (1, 2), "12"),
    ("number", 1.5, "1.5"),
    ("number", 3, True),
    ("string", "x", b"x"),
    ("integer", 7, "7"),
])
def test_type_accepts_and_rejects(type_, good, bad):
    assert ok({"type": type_}, good) is good
    assert errors({"type": type_}, bad) == [err([], "must be of type " + type_, "type")]


def test_integer_accepts_integral_floats_but_never_booleans():
    assert ok({"type": "integer"}, 1.0) == 1.0
    assert ok({"type": "integer"}, 10 ** 40) == 10 ** 40
    assert errors({"type": "integer"}, 1.5) == [err([], "must be of type integer", "type")]
    assert errors({"type": "integer"}, True) == [err([], "must be of type integer", "type")]
    assert errors({"type": "integer"}, False) == [err([], "must be of type integer", "type")]


def test_number_rejects_nan_and_infinity_and_booleans():
    for value in (float("nan"), float("inf"), float("-inf"), True):
        assert errors({"type": "number"}, value) == [err([], "must be of type number", "type")]


def test_type_list_and_its_message():
    schema = {"type": ["string", "integer", "null"]}
    assert ok(schema, None) is None and ok(schema, 3) == 3 and ok(schema, "a") == "a"
    assert errors(schema, 2.5) == [err([], "must be of type string, integer or null", "type")]


def test_type_failure_stops_the_other_keywords_for_that_value():
    assert errors({"type": "string", "minLength": 3, "enum": ["abc"]}, 5) == [
        err([], "must be of type string", "type")]


def test_invalid_type_keyword_is_a_schema_error():
    with pytest.raises(SchemaError, match="type must be one of"):
        compile_schema({"type": "str"})
    with pytest.raises(SchemaError):
        compile_schema({"type": []})


# ---------------------------------------------------------------- enum and const

def test_enum_of_strings():
    schema = {"enum": ["red", "green"]}
    assert ok(schema, "red") == "red"
    assert errors(schema, "blue") == [err([], 'must be one of: "red", "green"', "enum")]
    assert errors(schema, ["red"]) == [err([], 'must be one of: "red", "green"', "enum")]


def test_enum_uses_json_equality():
    schema = {"enum": [1, False, None, [1, {"a": 2}]]}
    assert ok(schema, 1.0) == 1.0  # 1 == 1.0 in JSON
    assert ok(schema, [1.0, {"a": 2}]) == [1.0, {"a": 2}]
    for bad in (True, 0, [True, {"a": 2}], [1, {"a": 2, "b": 3}], "1"):
        assert errors(schema, bad) == [err([], 'must be one of: 1, false, null, [1, {"a": 2}]', "enum")]


def test_enum_message_is_shortened_for_long_lists():
    message = errors({"enum": ["v%03d" % i for i in range(100)]}, "x")[0]["msg"]
    assert len(message) == len("must be one of: ") + 200 and message.endswith("...")


def test_const():
    assert ok({"const": "a"}, "a") == "a"
    assert errors({"const": "a"}, "b") == [err([], 'must be equal to "a"', "const")]
    assert errors({"const": 0}, False) == [err([], "must be equal to 0", "const")]
    assert errors({"const": False}, 0) == [err([], "must be equal to false", "const")]
    assert ok({"const": {"a": [1, 2]}}, {"a": [1.0, 2]}) == {"a": [1.0, 2]}
    assert errors({"const": None}, 0) == [err([], "must be equal to null", "const")]


# ---------------------------------------------------------------- numbers

def test_numeric_bounds():
    schema = {"minimum": 0, "maximum": 10, "exclusiveMinimum": -1, "exclusiveMaximum": 10.5}
    assert ok(schema, 0) == 0 and ok(schema, 10) == 10
    assert errors(schema, -1) == [err([], "must be greater than or equal to 0", "minimum"),
                                  err([], "must be greater than -1", "exclusiveMinimum")]
    assert errors(schema, 10.5) == [err([], "must be less than or equal to 10", "maximum"),
                                    err([], "must be less than 10.5", "exclusiveMaximum")]
    assert ok(schema, "not a number") == "not a number"  # numeric keywords ignore other types


def test_numeric_bounds_skip_booleans():
    assert ok({"minimum": 5}, True) is True


def test_multiple_of_is_exact_for_decimal_fractions():
    schema = {"multipleOf": 0.01}
    for good in (0.07, 19.99, 1234567.89, 0.1, 3, -0.02, 0.0, 10 ** 30):
        assert ok(schema, good) == good
    for bad in (0.075, 19.999, 0.001, 1e-9):
        assert errors(schema, bad) == [err([], "must be a multiple of 0.01", "multipleOf")]


def test_multiple_of_integers_and_huge_values():
    assert ok({"multipleOf": 3}, 9) == 9 and ok({"multipleOf": 3}, 9.0) == 9.0
    assert errors({"multipleOf": 3}, 10) == [err([], "must be a multiple of 3", "multipleOf")]
    assert errors({"multipleOf": 1.5}, 35) == [err([], "must be a multiple of 1.5", "multipleOf")]
    assert ok({"multipleOf": 1.5}, 4.5) == 4.5
    assert errors({"multipleOf": 0.123456789}, 1e308)[0]["type"] == "multipleOf"
    assert ok({"multipleOf": 1e-8}, 12391239123) == 12391239123
    assert ok({"multipleOf": 0.5}, 2.0 ** 80) == 2.0 ** 80


@pytest.mark.parametrize("schema, message", [
    ({"multipleOf": 0}, "multipleOf must be greater than 0"),
    ({"minimum": "1"}, "minimum must be a number"),
    ({"maximum": True}, "maximum must be a number"),
    ({"minLength": -1}, "minLength must be a non-negative integer"),
    ({"maxItems": 1.5}, "maxItems must be a non-negative integer"),
])
def test_malformed_numeric_keywords_are_schema_errors(schema, message):
    with pytest.raises(SchemaError, match=re.escape(message)):
        compile_schema(schema)


# ---------------------------------------------------------------- strings

def test_lengths_count_code_points():
    schema = {"minLength": 2, "maxLength": 3}
    assert ok(schema, "\U0001f4a9\U0001f4a9") == "\U0001f4a9\U0001f4a9"
    assert errors(schema, "\U0001f4a9") == [err([], "must be at least 2 characters long", "minLength")]
    assert errors(schema, "abcd") == [err([], "must be at most 3 characters long", "maxLength")]
    assert errors({"minLength": 1}, "") == [err([], "must be at least 1 character long", "minLength")]


def test_pattern_uses_search_semantics():
    assert ok({"pattern": "b+"}, "abbbc") == "abbbc"
    assert errors({"pattern": "^b+"}, "abbb") == [err([], 'must match pattern "^b+"', "pattern")]


def test_pattern_dollar_does_not_accept_a_trailing_newline():
    schema = {"pattern": "^[a-z]+$"}
    assert ok(schema, "abc") == "abc"
    assert errors(schema, "abc\n") == [err([], 'must match pattern "^[a-z]+$"', "pattern")]
    assert ok({"pattern": "[$]x"}, "$x") == "$x"  # a $ inside a class stays a literal
    assert ok({"pattern": r"\$"}, "a$") == "a$"
    assert ok({"pattern": "(?m)^a$"}, "b\na\nc") == "b\na\nc"


def test_invalid_pattern_is_a_schema_error():
    with pytest.raises(SchemaError, match="not a valid Python regular expression"):
        compile_schema({"pattern": "(unclosed"})
    with pytest.raises(SchemaError):
        compile_schema({"patternProperties": {"[": {}}})


@pytest.mark.parametrize("fmt, good, bad, name", [
    ("email", "ada@example.com", "ada@", "an email address"),
    ("uri", "https://example.com/a?b#c", "example.com", "an absolute URI"),
    ("uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08aa9811eab4aa73b441d16380", "a UUID"),
    ("date", "2024-02-29", "2023-02-29", "a date (YYYY-MM-DD)"),
    ("date-time", "2024-01-15T08:30:00+01:00", "2024-01-15T08:30:00", "an RFC 3339 date-time with offset"),
    ("time", "23:59:60Z", "12:00:00", "an RFC 3339 time with offset"),
    ("ipv4", "192.168.0.1", "192.168.0.01", "an IPv4 address"),
    ("ipv6", "::ffff:192.168.0.1", "fe80::a%eth1", "an IPv6 address"),
    ("hostname", "xn--9n2bp8q.xn--9t4b11yi5a", "-bad.example", "a host name"),
    ("decimal", "-12.50", "12,5", "a decimal number"),
])
def test_formats_are_asserted(fmt, good, bad, name):
    assert ok({"format": fmt}, good) == good
    assert errors({"format": fmt}, bad) == [err([], "must be " + name, "format")]
    assert ok({"format": fmt}, 12) == 12  # formats apply to strings only


def test_year_0000_is_refused_since_python_dates_cannot_hold_it():
    assert errors({"format": "date"}, "0000-01-01") == [err([], "must be a date (YYYY-MM-DD)", "format")]
    assert errors({"format": "date-time"}, "0000-01-01T00:00:00Z") == [
        err([], "must be an RFC 3339 date-time with offset", "format")]
    assert ok({"format": "date"}, "0001-01-01") == "0001-01-01"


def test_year_0000_in_a_typed_parameter_or_model_is_a_422_not_a_500():
    import datetime
    from typing import Optional

    from covet import Covet, Model
    from covet.testing import TestClient

    class Item(Model):
        d: Optional[datetime.date] = None
        when: Optional[datetime.datetime] = None

    app = Covet()

    @app.post("/item")
    async def item(i: Item):
        return {"d": str(i.d), "when": str(i.when)}

    @app.get("/q")
    async def q(d: datetime.date):
        return {"d": str(d)}

    with TestClient(app) as c:
        r = c.post("/item", json={"d": "0000-01-01", "when": "0000-12-31T23:59:59+01:00"})
        assert r.status_code == 422
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "d"], ["body", "when"]]
        r = c.get("/q", params={"d": "0000-01-01"})
        assert (r.status_code, r.json()["errors"][0]["loc"]) == (422, ["query", "d"])
        assert c.post("/item", json={"d": "0001-01-01"}).json() == {"d": "0001-01-01", "when": "None"}


def test_unknown_format_is_ignored():
    assert ok({"format": "color"}, "not checked") == "not checked"


# ---------------------------------------------------------------- arrays

def test_min_and_max_items():
    schema = {"minItems": 1, "maxItems": 2}
    assert ok(schema, [1]) == [1]
    assert errors(schema, []) == [err([], "must contain at least 1 item", "minItems")]
    assert errors(schema, [1, 2, 3]) == [err([], "must contain at most 2 items", "maxItems")]


def test_items_reports_every_bad_item_with_its_index():
    schema = {"type": "array", "items": {"type": "integer"}}
    assert ok(schema, [1, 2]) == [1, 2]
    assert errors(schema, [1, "a", 3, None]) == [
        err([1], "must be of type integer", "type"), err([3], "must be of type integer", "type")]


def test_prefix_items_and_items_false():
    schema = {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}
    assert ok(schema, ["a", 1]) == ["a", 1]
    assert ok(schema, ["a"]) == ["a"]
    assert errors(schema, [1, "a"]) == [err([0], "must be of type string", "type"),
                                        err([1], "must be of type integer", "type")]
    assert errors(schema, ["a", 1, 2]) == [err([], "must contain at most 2 items", "items")]


def test_items_after_prefix_items_start_at_the_right_index():
    schema = {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}
    assert errors(schema, ["a", 1, "b"]) == [err([2], "must be of type integer", "type")]


def test_draft7_array_items_form_is_refused():
    with pytest.raises(SchemaError, match="use prefixItems"):
        compile_schema({"items": [{"type": "string"}]})


def test_unique_items_uses_json_equality_and_names_the_duplicates():
    schema = {"uniqueItems": True}
    assert ok(schema, [1, True, "1", [1], {"a": 1}]) == [1, True, "1", [1], {"a": 1}]
    assert errors(schema, [1, 2, 1.0]) == [
        err([], "must not contain duplicates (items 0 and 2 are equal)", "uniqueItems")]
    assert errors(schema, [{"a": 1, "b": 2}, {"b": 2, "a": 1}]) == [
        err([], "must not contain duplicates (items 0 and 1 are equal)", "uniqueItems")]
    assert ok({"uniqueItems": False}, [1, 1]) == [1, 1]


def test_contains_min_and_max():
    schema = {"contains": {"type": "integer"}, "minContains": 2, "maxContains": 3}
    assert ok(schema, [1, "a", 2]) == [1, "a", 2]
    assert errors(schema, ["a", 1]) == [
        err([], "must contain at least 2 items matching the contains schema", "minContains")]
    assert errors(schema, [1, 2, 3, 4]) == [
        err([], "must contain at most 3 items matching the contains schema", "maxContains")]
    assert errors({"contains": {"const": 5}}, [1, 2]) == [
        err([], "must contain at least 1 item matching the contains schema", "contains")]
    assert ok({"contains": {"const": 5}, "minContains": 0}, []) == []


# ---------------------------------------------------------------- objects

def test_properties_and_required_in_declaration_order():
    schema = {"type": "object", "required": ["b", "z", "a"],
              "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    assert ok(schema, {"a": "x", "b": 1, "z": None}) == {"a": "x", "b": 1, "z": None}
    assert errors(schema, {"a": 1}) == [
        err(["a"], "must be of type string", "type"),
        err(["b"], "field required", "required"),
        err(["z"], "field required", "required"),
    ]


def test_nested_locations():
    schema = {"properties": {"order": {"properties": {"lines": {"items": {
        "properties": {"qty": {"minimum": 1}}}}}}}}
    assert errors(schema, {"order": {"lines": [{"qty": 1}, {"qty": 0}]}}) == [
        err(["order", "lines", 1, "qty"], "must be greater than or equal to 1", "minimum")]


def test_additional_properties_false_lists_each_unexpected_key():
    schema = {"properties": {"a": {}}, "additionalProperties": False}
    assert ok(schema, {"a": 1}) == {"a": 1}
    assert errors(schema, {"a": 1, "x": 2, "y": 3}) == [
        err(["x"], "additional property not allowed", "additionalProperties"),
        err(["y"], "additional property not allowed", "additionalProperties")]
    assert errors({"additionalProperties": False}, {"k": 1}) == [
        err(["k"], "additional property not allowed", "additionalProperties")]
    assert errors({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}, max_items=1) == [
        err([], "has more than 1 properties, the limit", "size")]


def test_additional_properties_schema_and_pattern_properties():
    schema = {"properties": {"id": {"type": "integer"}},
              "patternProperties": {"^x-": {"type": "string"}},
              "additionalProperties": {"type": "boolean"}}
    assert ok(schema, {"id": 1, "x-a": "s", "flag": True}) == {"id": 1, "x-a": "s", "flag": True}
    assert errors(schema, {"id": 1, "x-a": 1, "flag": "no"}) == [
        err(["x-a"], "must be of type string", "type"),
        err(["flag"], "must be of type boolean", "type")]


def test_non_string_keys_of_python_dicts_do_not_crash():
    schema = {"patternProperties": {"^a": {"type": "integer"}}, "additionalProperties": {"type": "string"},
              "propertyNames": {"maxLength": 2}}
    assert ok(schema, {1: "x", "a": 2}) == {1: "x", "a": 2}
    assert errors(schema, {1: 2}) == [err([1], "must be of type string", "type")]


def test_property_names():
    schema = {"propertyNames": {"pattern": "^[a-z]+$", "maxLength": 3}}
    assert ok(schema, {"abc": 1}) == {"abc": 1}
    assert errors(schema, {"abc": 1, "ABCD": 2}) == [
        err(["ABCD"], "invalid property name: must be at most 3 characters long", "propertyNames")]
    assert errors({"propertyNames": False}, {"a": 1}) == [
        err(["a"], "property name is not allowed", "propertyNames")]


def test_min_and_max_properties():
    schema = {"minProperties": 1, "maxProperties": 2}
    assert errors(schema, {}) == [err([], "must have at least 1 property", "minProperties")]
    assert errors(schema, {"a": 1, "b": 2, "c": 3}) == [
        err([], "must have at most 2 properties", "maxProperties")]


def test_dependent_required_and_dependent_schemas():
    schema = {"dependentRequired": {"card": ["cvc", "expiry"]},
              "dependentSchemas": {"coupon": {"required": ["code"]}}}
    assert ok(schema, {"name": "x"}) == {"name": "x"}
    assert errors(schema, {"card": "4242", "coupon": True}) == [
        err(["cvc"], "field required when 'card' is present", "dependentRequired"),
        err(["expiry"], "field required when 'card' is present", "dependentRequired"),
        err(["code"], "field required", "required")]


def test_object_keywords_ignore_other_types():
    assert ok({"required": ["a"], "properties": {"a": {"type": "integer"}}}, [1]) == [1]


# ---------------------------------------------------------------- combinators

def test_all_of_reports_every_branch():
    schema = {"allOf": [{"minLength": 3}, {"pattern": "^a"}]}
    assert errors(schema, "b") == [err([], "must be at least 3 characters long", "minLength"),
                                   err([], 'must match pattern "^a"', "pattern")]


def test_any_of_reports_the_branch_that_fits_the_value():
    schema = {"anyOf": [{"type": "object", "required": ["id"]}, {"type": "null"}]}
    assert ok(schema, None) is None
    assert errors(schema, {}) == [err(["id"], "field required", "required")]
    assert errors(schema, 5) == [err([], "must be of type object or null", "type")]


def test_any_of_without_a_fitting_branch():
    schema = {"anyOf": [{"type": "string", "minLength": 5}, {"type": "string", "pattern": "^x"}]}
    assert ok(schema, "xy") == "xy"
    assert errors(schema, "ab") == [err([], "must match at least one of the allowed schemas", "anyOf")]


def test_one_of():
    schema = {"oneOf": [{"type": "integer"}, {"minimum": 2}]}
    assert ok(schema, 1) == 1 and ok(schema, 2.5) == 2.5
    assert errors(schema, 3) == [
        err([], "must match exactly one of the allowed schemas, but matched 2", "oneOf")]
    assert errors({"oneOf": [{"type": "integer"}, {"type": "string"}]}, None) == [
        err([], "must be of type integer or string", "type")]


def test_not():
    assert ok({"not": {"type": "string"}}, 1) == 1
    assert errors({"not": {"type": "string"}}, "a") == [err([], "must not match the excluded schema", "not")]
    assert errors({"not": {"minimum": 3}}, 4) == [err([], "must not match the excluded schema", "not")]


def test_if_then_else():
    schema = {"if": {"properties": {"country": {"const": "US"}}},
              "then": {"properties": {"zip": {"pattern": "^[0-9]{5}$"}}},
              "else": {"properties": {"zip": {"pattern": "^[A-Z0-9 ]+$"}}}}
    assert ok(schema, {"country": "US", "zip": "12345"})
    assert errors(schema, {"country": "US", "zip": "AB1"}) == [
        err(["zip"], 'must match pattern "^[0-9]{5}$"', "pattern")]
    assert errors(schema, {"country": "FR", "zip": "75-001"}) == [
        err(["zip"], 'must match pattern "^[A-Z0-9 ]+$"', "pattern")]
    assert ok({"if": {"type": "string"}}, 1) == 1  # if alone has no effect


def test_boolean_schemas():
    assert ok(True, {"anything": 1}) == {"anything": 1}
    assert errors(False, 1) == [err([], "no value is allowed here", "false")]
    assert errors({"properties": {"gone": False}}, {"gone": 1}) == [
        err(["gone"], "no value is allowed here", "false")]


def test_annotations_and_unknown_keywords_are_ignored():
    schema = {"title": "T", "description": "d", "examples": [1], "$comment": "c", "x-anything": {"type": "string"},
              "deprecated": True, "type": "integer"}
    assert ok(schema, 3) == 3


@pytest.mark.parametrize("keyword", ["$dynamicRef", "unevaluatedProperties", "unevaluatedItems", "$recursiveRef"])
def test_unsupported_core_keywords_are_refused(keyword):
    with pytest.raises(SchemaError, match=re.escape(keyword)):
        compile_schema({"properties": {"a": {keyword: False}}})


# ---------------------------------------------------------------- $ref and $defs

def test_ref_to_defs():
    schema = {"$defs": {"pos": {"type": "integer", "minimum": 1}},
              "properties": {"a": {"$ref": "#/$defs/pos"}, "b": {"$ref": "#/$defs/pos"}}}
    assert errors(schema, {"a": 0, "b": "x"}) == [
        err(["a"], "must be greater than or equal to 1", "minimum"),
        err(["b"], "must be of type integer", "type")]


def test_recursive_ref_to_root_validates_any_depth():
    tree = {"type": "object", "required": ["v"],
            "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"}}}}
    check = compile_schema(tree)
    doc = {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}, {"v": 4}]}
    assert check(doc) is doc
    with pytest.raises(ValidationError) as info:
        check({"v": 1, "kids": [{"v": 2, "kids": [{"v": "x"}, {}]}]})
    assert info.value.errors == [
        err(["kids", 0, "kids", 0, "v"], "must be of type integer", "type"),
        err(["kids", 0, "kids", 1, "v"], "field required", "required")]


def test_mutually_recursive_defs():
    schema = {"$ref": "#/$defs/a", "$defs": {
        "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}}},
        "b": {"type": "array", "items": {"$ref": "#/$defs/a"}}}}
    assert ok(schema, {"b": [{"b": []}, {}]}) == {"b": [{"b": []}, {}]}
    assert errors(schema, {"b": [{"b": [1]}]}) == [err(["b", 0, "b", 0], "must be of type object", "type")]


def test_ref_json_pointer_escapes():
    schema = {"$defs": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}, "e%f": {"type": "null"}},
              "prefixItems": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/c~0d"}, {"$ref": "#/$defs/e%25f"}]}
    assert ok(schema, [1, "x", None]) == [1, "x", None]
    assert len(errors(schema, ["x", 1, 0])) == 3


@pytest.mark.parametrize("ref, message", [
    ("#/$defs/missing", "does not resolve"),
    ("http://example.com/schema.json", "only references inside the schema"),
    ("other.json#/a", "only references inside the schema"),
    ("#anchor", "$anchor references are not implemented"),
    (7, "$ref must be a string"),
])
def test_unresolvable_refs_are_schema_errors(ref, message):
    with pytest.raises(SchemaError, match=re.escape(message)):
        compile_schema({"$defs": {}, "properties": {"a": {"$ref": ref}}})


def test_ref_cycles_that_never_descend_are_refused_at_compile_time():
    for schema in ({"$ref": "#"},
                   {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}},
                   {"$defs": {"a": {"not": {"$ref": "#/$defs/a"}}}, "properties": {"x": {"$ref": "#/$defs/a"}}}):
        with pytest.raises(SchemaError, match="never descends"):
            compile_schema(schema)


def test_a_shared_def_used_many_times_becomes_one_function():
    schema = {"$defs": {"p": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}},
              "properties": {k: {"$ref": "#/$defs/p"} for k in "abcdefgh"}}
    check = compile_schema(schema)
    assert check.source.count("def f") == 1
    with pytest.raises(ValidationError) as info:
        check({k: {} for k in "abcdefgh"})
    assert [e["loc"] for e in info.value.errors] == [[k, "n"] for k in "abcdefgh"]


def test_very_deep_static_schema_is_split_into_functions():
    schema = leaf = {"type": "integer"}
    for level in range(80):
        schema = {"type": "object", "properties": {"k": schema}} if level % 2 else {"type": "array", "items": schema}
    instance = 1
    for level in range(80):
        instance = {"k": instance} if level % 2 else [instance]
    check = compile_schema(schema, max_depth=200)
    assert check(instance) is instance
    bad = json.loads(json.dumps(instance).replace("1", '"x"'))
    with pytest.raises(ValidationError) as info:
        check(bad)
    assert len(info.value.errors) == 1 and len(info.value.errors[0]["loc"]) == 80
    assert leaf == {"type": "integer"}


# ---------------------------------------------------------------- defaults and immutability

def test_defaults_fill_a_copy_and_never_touch_the_input():
    schema = {"properties": {"a": {"default": 1}, "tags": {"default": []},
                             "inner": {"properties": {"flag": {"default": False}}}}}
    check = compile_schema(schema)
    instance = {"inner": {}, "other": {"deep": [1]}}
    before = copy.deepcopy(instance)
    result = check(instance)
    assert result == {"inner": {"flag": False}, "other": {"deep": [1]}, "a": 1, "tags": []}
    assert instance == before
    assert result["other"] is instance["other"]  # untouched members are shared, not copied
    assert check({"a": 2, "tags": ["x"], "inner": {"flag": True}}) == {"a": 2, "tags": ["x"], "inner": {"flag": True}}


def test_unchanged_instances_come_back_as_the_same_object():
    check = compile_schema({"properties": {"a": {"default": 1}}})
    instance = {"a": 5}
    assert check(instance) is instance


def test_mutable_defaults_are_fresh_each_time():
    check = compile_schema({"properties": {"tags": {"default": ["x"]}, "meta": {"default": {"k": [1]}}}})
    first, second = check({}), check({})
    first["tags"].append("y")
    first["meta"]["k"].append(2)
    assert second == {"tags": ["x"], "meta": {"k": [1]}}


def test_default_of_a_required_property_is_not_used():
    assert errors({"required": ["a"], "properties": {"a": {"default": 1}}}, {}) == [
        err(["a"], "field required", "required")]


def test_defaults_through_ref_and_array_items():
    schema = {"$defs": {"item": {"type": "object", "properties": {"qty": {"default": 1}}}},
              "type": "array", "items": {"$ref": "#/$defs/item"}}
    instance = [{"qty": 3}, {}]
    assert compile_schema(schema)(instance) == [{"qty": 3}, {"qty": 1}]
    assert instance == [{"qty": 3}, {}]


def test_defaults_can_be_turned_off():
    assert compile_schema({"properties": {"a": {"default": 1}}}, defaults=False)({}) == {}


def test_non_json_default_is_deep_copied():
    marker = {"s": {1, 2}}
    result = compile_schema({"properties": {"a": {"default": marker}}})({})
    assert result == {"a": {"s": {1, 2}}} and result["a"] is not marker and result["a"]["s"] is not marker["s"]


# ---------------------------------------------------------------- coercion

@pytest.mark.parametrize("type_, text, value", [
    ("integer", "3", 3), ("integer", "-0", 0), ("integer", "007", 7),
    ("number", "2.5", 2.5), ("number", "-1e3", -1000.0), ("number", "42", 42),
    ("boolean", "true", True), ("boolean", "TRUE", True), ("boolean", "1", True), ("boolean", "yes", True),
    ("boolean", "on", True), ("boolean", "false", False), ("boolean", "0", False), ("boolean", "No", False),
    ("boolean", "off", False), ("null", "", None), ("null", "null", None),
])
def test_coercion_converts_strings(type_, text, value):
    result = ok({"type": type_}, text, coerce=True)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("type_, text", [
    ("integer", "3.0"), ("integer", "1_000"), ("integer", " 3"), ("integer", "+3"), ("integer", "\u0663"),
    ("integer", "0x10"), ("integer", ""), ("integer", "9" * 4301), ("number", "nan"), ("number", "inf"),
    ("number", "1e999"), ("number", "1."), ("number", ".5"), ("boolean", "maybe"), ("boolean", ""),
    ("null", "none"),
])
def test_coercion_refuses_other_strings(type_, text):
    assert errors({"type": type_}, text, coerce=True) == [err([], "must be of type " + type_, "type")]


def test_coercion_applies_bounds_to_the_converted_value():
    assert errors({"type": "integer", "minimum": 1}, "0", coerce=True) == [
        err([], "must be greater than or equal to 1", "minimum")]


def test_coercion_inside_objects_and_arrays_copies():
    schema = {"type": "object", "properties": {
        "page": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "integer"}},
        "debug": {"type": "boolean", "default": False}, "q": {"type": "string"}}}
    query = {"page": "2", "ids": ["1", "2"], "q": "7"}
    result = ok(schema, query, coerce=True)
    assert result == {"page": 2, "ids": [1, 2], "q": "7", "debug": False}
    assert query == {"page": "2", "ids": ["1", "2"], "q": "7"}


def test_coercion_wraps_a_single_string_for_an_array():
    schema = {"type": "array", "items": {"type": "integer"}}
    assert ok(schema, "5", coerce=True) == [5]
    assert errors(schema, "x", coerce=True) == [err([0], "must be of type integer", "type")]
    for other in (None, 5, {"a": "1"}):
        assert errors(schema, other, coerce=True) == [err([], "must be of type array", "type")]


def test_coercion_with_optional_prefers_the_declared_order():
    optional_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert ok(optional_int, "4", coerce=True) == 4
    assert ok(optional_int, "", coerce=True) is None
    assert errors(optional_int, "x", coerce=True) == [err([], "must be of type integer or null", "type")]
    optional_str = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert ok(optional_str, "null", coerce=True) == "null"


def test_coercion_keeps_values_that_already_match():
    assert ok({"type": ["string", "integer"]}, "3", coerce=True) == "3"
    assert ok({"type": "integer"}, 3, coerce=True) == 3


def test_json_bodies_are_never_coerced():
    assert errors({"type": "integer"}, "3") == [err([], "must be of type integer", "type")]
    assert errors({"type": "boolean"}, "true") == [err([], "must be of type boolean", "type")]


# ---------------------------------------------------------------- error order and shape

def test_error_order_is_stable_and_complete():
    schema = {"type": "object", "required": ["id", "email"], "additionalProperties": False,
              "properties": {"id": {"type": "integer", "minimum": 1, "multipleOf": 2},
                             "email": {"type": "string", "format": "email", "maxLength": 5},
                             "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}
    doc = {"tags": ["a", 1, "a"], "id": -3, "zz": 1, "email": "not-an-email"}
    expected = [
        err(["id"], "must be greater than or equal to 1", "minimum"),
        err(["id"], "must be a multiple of 2", "multipleOf"),
        err(["email"], "must be at most 5 characters long", "maxLength"),
        err(["email"], "must be an email address", "format"),
        err(["tags"], "must not contain duplicates (items 0 and 2 are equal)", "uniqueItems"),
        err(["tags", 1], "must be of type string", "type"),
        err(["zz"], "additional property not allowed", "additionalProperties"),
    ]
    for _ in range(3):
        assert errors(schema, dict(doc)) == expected
        assert errors(schema, dict(reversed(list(doc.items()))))[:6] == expected[:6]


def test_errors_are_json_and_the_message_lists_them():
    with pytest.raises(ValidationError) as info:
        validate({"a": [1, "x"]}, {"properties": {"a": {"items": {"type": "integer"}}}})
    exc = info.value
    assert json.loads(json.dumps(exc.errors)) == exc.errors
    assert str(exc) == "1 validation error\n  a.1: must be of type integer [type]"
    assert isinstance(exc, ValueError)
    root = ValidationError([err([], "must be of type object", "type"), err(["b"], "x", "y")])
    assert str(root) == "2 validation errors\n  (root): must be of type object [type]\n  b: x [y]"


# ---------------------------------------------------------------- guard rails

def _nested(depth, leaf):
    value = leaf
    for _ in range(depth):
        value = {"kids": [value]}
    return value


def test_depth_limit_is_a_validation_error_not_recursion():
    schema = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    check = compile_schema(schema)
    assert check(_nested(30, {}))
    with pytest.raises(ValidationError) as info:
        check(_nested(400, {}))
    assert info.value.errors == [err(["kids", 0] * 33, "nesting is deeper than the limit of 64 levels", "depth")]
    with pytest.raises(ValidationError) as info:
        compile_schema(schema, max_depth=4)(_nested(3, {}))
    assert info.value.errors[0]["type"] == "depth" and len(info.value.errors[0]["loc"]) == 6


def test_deep_values_in_enum_and_unique_items_do_not_recurse_forever():
    deep = []
    for _ in range(5000):
        deep = [deep]
    assert errors({"uniqueItems": True}, [deep, 1]) == [
        err([], "nesting is deeper than the limit of 64 levels", "depth")]
    assert errors({"enum": [[1]]}, deep)[0]["type"] == "enum"
    assert errors({"const": [[1]]}, deep)[0]["type"] == "const"
    assert ok({"type": "array"}, deep) is deep


def test_size_limits_are_settings():
    check = compile_schema({"items": {"type": "integer"}}, max_items=3)
    assert check([1, 2, 3]) == [1, 2, 3]
    assert errors({"items": {"type": "integer"}}, [1, 2, 3, 4], max_items=3) == [
        err([], "has more than 3 items, the limit", "size")]
    assert errors({"additionalProperties": {"type": "integer"}}, {"a": 1, "b": 2}, max_items=1) == [
        err([], "has more than 1 properties, the limit", "size")]
    assert errors({"pattern": "a"}, "a" * 11, max_string_length=10) == [
        err([], "is longer than 10 characters, the limit for pattern and format checks", "size")]
    assert ok({"maxLength": 20}, "a" * 11, max_string_length=10) == "a" * 11
    assert (validation.DEFAULT_MAX_DEPTH, validation.DEFAULT_MAX_ITEMS,
            validation.DEFAULT_MAX_STRING_LENGTH) == (64, 100_000, 100_000)


@pytest.mark.parametrize("option", [{"max_depth": 0}, {"max_depth": 501}, {"max_items": -1},
                                    {"max_string_length": True}, {"max_items": "10"}])
def test_limit_settings_are_checked(option):
    with pytest.raises(ValueError):
        compile_schema({}, **option)


def test_patterns_are_compiled_once(monkeypatch):
    check = compile_schema({"properties": {"code": {"pattern": "^[A-Z]{3}$"}},
                            "patternProperties": {"^x-": {"type": "string"}}})

    def refuse(*args, **kwargs):
        raise AssertionError("re.compile called while validating")
    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(re, "search", refuse)
    for _ in range(3):
        assert check({"code": "ABC", "x-a": "b"})
        with pytest.raises(ValidationError):
            check({"code": "abc"})


def test_validator_source_is_inspectable_and_schema_is_kept():
    schema = {"type": "integer"}
    check = compile_schema(schema)
    assert "def validate(x):" in check.source and check.schema is schema


def test_absurdly_deep_schema_is_a_schema_error():
    schema = {}
    for _ in range(5000):
        schema = {"not": schema}
    with pytest.raises(SchemaError, match="nested too deeply"):
        compile_schema(schema)


def test_schema_must_be_a_schema():
    for bad in (None, 3, "string", [{}]):
        with pytest.raises(SchemaError):
            compile_schema(bad)
    with pytest.raises(SchemaError):
        compile_schema({"properties": []})
    with pytest.raises(SchemaError):
        compile_schema({"required": "a"})
    with pytest.raises(SchemaError):
        compile_schema({"anyOf": []})


# ---------------------------------------------------------------- validate() and its cache

def test_validate_caches_by_json_identity():
    validation._cache.clear()
    schema = {"type": "object", "properties": {"a": {"type": "integer", "default": 0}}}
    assert validate({}, schema) == {"a": 0}
    assert validate({"a": 1}, json.loads(json.dumps(schema))) == {"a": 1}
    assert len(validation._cache) == 1
    assert validate("5", {"properties": {}, "type": "integer"}, coerce=True) == 5
    assert len(validation._cache) == 2


def test_validate_cache_is_bounded():
    validation._cache.clear()
    for n in range(validation.VALIDATE_CACHE_SIZE + 10):
        validate(n, {"minimum": -n})
    assert len(validation._cache) == validation.VALIDATE_CACHE_SIZE


def test_validate_refuses_non_json_schemas():
    with pytest.raises(SchemaError, match="not JSON"):
        validate(1, {"minimum": float("nan")})
    with pytest.raises(SchemaError, match="not JSON"):
        validate(1, {"enum": [object()]})


# ---------------------------------------------------------------- rules-dict Validator

USERS = {"name": {"required": True, "max_length": 100},
         "email": {"required": True, "email": True},
         "age": {"type": "integer", "min": 0, "max": 150}}


def test_rules_dict_translates_to_a_schema():
    assert Validator(USERS).schema == {
        "type": "object",
        "properties": {"name": {"maxLength": 100, "type": "string"},
                       "email": {"format": "email", "type": "string"},
                       "age": {"type": "integer", "minimum": 0, "maximum": 150}},
        "required": ["name", "email"]}


def test_rules_dict_validates_with_every_error():
    users = Validator(USERS)
    data = {"name": "Ada", "email": "ada@example.com", "age": 36}
    assert users.validate(data) is data
    with pytest.raises(ValidationError) as info:
        users.validate({"name": "x" * 101, "age": 200})
    assert info.value.errors == [
        err(["name"], "must be at most 100 characters long", "maxLength"),
        err(["email"], "field required", "required"),
        err(["age"], "must be less than or equal to 150", "maximum")]
    with pytest.raises(ValidationError):
        users({"name": "Ada", "email": "nope"})


def test_rules_dict_options():
    rules = Validator({
        "role": {"choices": ["admin", "user"], "default": "user"},
        "nick": {"nullable": True, "min_length": 2},
        "tags": {"items": {"type": "str", "regex": "^[a-z]+$"}, "unique": True},
        "address": {"fields": {"zip": {"required": True, "pattern": "^[0-9]{5}$"}}},
        "site": {"url": True}, "id": {"uuid": True}, "born": {"date": True},
        "price": {"type": "float", "gt": 0, "multiple_of": 0.01},
    }, coerce=True)
    assert rules.validate({"nick": None, "price": "9.99"}) == {"nick": None, "price": 9.99, "role": "user"}
    with pytest.raises(ValidationError) as info:
        rules.validate({"role": "root", "nick": "a", "tags": ["a", "B", "a"], "address": {},
                        "site": "nope", "id": "1", "born": "2024-13-01", "price": "0"})
    assert [(e["loc"], e["type"]) for e in info.value.errors] == [
        (["role"], "enum"), (["nick"], "minLength"), (["tags"], "uniqueItems"), (["tags", 1], "pattern"),
        (["address", "zip"], "required"), (["site"], "format"), (["id"], "format"), (["born"], "format"),
        (["price"], "exclusiveMinimum")]


@pytest.mark.parametrize("rules, message", [
    ({"a": {"requird": True}}, "unknown rule 'requird'"),
    ({"a": {"type": "text"}}, "unknown type 'text'"),
    ({"a": {"email": "yes"}}, "email must be True or False"),
    ({"a": {"required": 1}}, "required must be True or False"),
    ({"a": "required"}, "a rule must be a dict"),
    ([("a", {})], "rules must be a dict"),
    ({"a": {"fields": {"b": {"min": "x"}}}}, "minimum must be a number"),
])
def test_bad_rules_are_schema_errors(rules, message):
    with pytest.raises(SchemaError, match=re.escape(message)):
        Validator(rules)


@pytest.mark.slow
def test_a_missing_json_schema_test_suite_is_named_in_the_run_summary(tmp_path):
    # Without -rs pytest only counts skips; the whole official suite must not vanish into "1 skipped".
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parent.parent
    env = dict(os.environ, JSON_SCHEMA_TEST_SUITE=str(tmp_path / "nowhere"))
    result = subprocess.run([sys.executable, "-m", "pytest", "tests/test_validation_suite.py"], cwd=str(root),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert result.returncode == 5, result.stdout  # pytest's "no tests collected": the file is skipped whole
    assert ("SKIPPED tests/test_validation_suite.py: JSON-Schema-Test-Suite not found at %s: set "
            "JSON_SCHEMA_TEST_SUITE to a checkout (docs/validation.md, 'The official test suite')"
            % (tmp_path / "nowhere")) in lines
    assert lines[-1].startswith("1 skipped in ")


def test_network_formats_load_with_the_first_schema_that_names_one():
    # Their grammars (the RFC 3986 URI regex, the IDNA tables) cost about a millisecond to build:
    # an app whose schemas name no network format never builds them.
    import subprocess
    import sys

    code = ("import sys; from covet.validation import compile_schema; "
            "compile_schema({'type': 'string', 'format': 'date'})('2024-01-02'); "
            "assert 'covet.validation._formats_net' not in sys.modules; "
            "compile_schema({'format': 'uri'})('https://a.b/c'); "
            "assert 'covet.validation._formats_net' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
