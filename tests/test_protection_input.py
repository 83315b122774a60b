"""InputValidator (the rules-dict Validator behind a 422) and SQLInjectionProtector (a logged 400
for SQL-shaped names and words, text untouched), alone and through the seed's handler."""
import logging

import pytest

from covet import Covet, RequestValidationError, TestClient
from covet.security import InputValidator, SQLInjectionProtector, XSSProtector
from covet.security.protection import IDENTIFIER_FIELD_NAMES, RULES_CACHE_SIZE
from covet.validation import SchemaError

SEED_RULES = {
    "name": {"required": True, "max_length": 100, "pattern": r"^[a-zA-Z\s]+$"},
    "email": {"required": True, "email": True},
    "description": {"max_length": 1000},
}


# ---------------------------------------------------------------- InputValidator

def test_valid_data_passes_and_unknown_fields_are_dropped_by_default():
    data = {"name": "Ada Lovelace", "email": "ada@example.com", "is_admin": True}
    assert InputValidator().validate(data, SEED_RULES) == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert data["is_admin"] is True  # the caller's dict is not mutated


def test_every_error_at_once_with_body_locations():
    with pytest.raises(RequestValidationError) as info:
        InputValidator().validate({"name": "R2D2", "description": "x" * 1001}, SEED_RULES)
    exc = info.value
    assert exc.status_code == 422
    assert exc.errors == [
        {"loc": ["body", "name"], "msg": 'must match pattern "^[a-zA-Z\\\\s]+$"', "type": "pattern"},
        {"loc": ["body", "email"], "msg": "field required", "type": "required"},
        {"loc": ["body", "description"], "msg": "must be at most 1000 characters long", "type": "maxLength"},
    ]


def test_unknown_keep_and_reject_and_nested_drop():
    rules = {"user": {"fields": {"name": {"required": True}}}, "tags": {"items": {"fields": {"t": {}}}}}
    data = {"user": {"name": "a", "role": "admin"}, "tags": [{"t": "x", "y": 1}], "extra": 1}
    assert InputValidator().validate(data, rules) == {"user": {"name": "a"}, "tags": [{"t": "x"}]}
    assert InputValidator(unknown="keep").validate(data, rules) == data
    with pytest.raises(RequestValidationError) as info:
        InputValidator(unknown="reject").validate(data, rules)
    assert sorted(tuple(e["loc"]) for e in info.value.errors) == [
        ("body", "extra"), ("body", "tags", 0, "y"), ("body", "user", "role")]
    assert {e["type"] for e in info.value.errors} == {"additionalProperties"}
    with pytest.raises(ValueError, match="unknown must be one of drop, keep, reject"):
        InputValidator(unknown="ignore")


def test_rules_in_the_constructor_defaults_coerce_and_location():
    validator = InputValidator({"age": {"type": "integer", "min": 0}, "lang": {"default": "en"}}, coerce=True,
                               location="query")
    assert validator.validate({"age": "42"}) == {"age": 42, "lang": "en"}
    with pytest.raises(RequestValidationError) as info:
        validator({"age": "-1"})
    assert info.value.errors[0]["loc"] == ["query", "age"]
    with pytest.raises(TypeError, match="needs rules"):
        InputValidator().validate({})
    with pytest.raises(RequestValidationError) as info:
        InputValidator(location=None).validate([1], SEED_RULES)
    assert info.value.errors == [{"loc": [], "msg": "must be of type object", "type": "type"}]


def test_malformed_rules_raise_schema_error():
    with pytest.raises(SchemaError, match="unknown rule 'max_lenght'"):
        InputValidator().validate({}, {"name": {"max_lenght": 3}})


def test_rules_are_compiled_once_per_distinct_dict_and_the_cache_is_bounded():
    validator = InputValidator()
    for _ in range(3):
        validator.validate({"name": "A", "email": "a@b.example"}, dict(SEED_RULES))  # a new dict per request
    assert len(validator._cache) == 1
    for i in range(RULES_CACHE_SIZE + 10):
        validator.validate({}, {"f%d" % i: {}})
    assert len(validator._cache) == RULES_CACHE_SIZE


# ---------------------------------------------------------------- SQLInjectionProtector

def test_default_checks_only_identifier_named_keys_and_leaves_text_alone():
    sql = SQLInjectionProtector()
    text = {"description": "O'Brien -- the best; DROP me a line", "name": "x' OR '1'='1",
            "comment": "1; DROP TABLE users; --", "sort": "-created_at", "order_by": "users.name",
            "column": ["id", "name"], "table": {"nested": "ok"}}
    assert sql.sanitize(text) is text
    assert text["description"] == "O'Brien -- the best; DROP me a line"
    assert IDENTIFIER_FIELD_NAMES >= {"sort", "order_by", "column", "table", "field"}


@pytest.mark.parametrize("field, value", [
    ("sort", "name; DROP TABLE users"), ("sort", "name--"), ("order_by", "name desc"), ("column", 'x"'),
    ("table", "users/*"), ("field", "1=1"), ("column", ["id", "name) OR (1=1"]), ("sort", "a" * 64),
    ("sort", "a.b.c"), ("sort", ""),
])
def test_default_refuses_sql_in_identifier_named_keys(field, value, caplog):
    with caplog.at_level(logging.WARNING, logger="covet.security"):
        with pytest.raises(RequestValidationError) as info:
            SQLInjectionProtector().sanitize({"filter": {field: value}})
    exc = info.value
    assert exc.status_code == 400
    assert exc.detail == "request values are not valid SQL names or plain words"
    assert exc.errors == [{"loc": ["body", "filter", field], "msg": exc.errors[0]["msg"], "type": "sql_injection"}]
    [record] = [r for r in caplog.records if r.name == "covet.security"]
    assert record.levelno == logging.WARNING and "filter.%s" % field in record.getMessage()


def test_the_log_line_is_bounded_and_cannot_forge_lines(caplog):
    value = "x\r\nFAKE LOG LINE;" + "A" * 10000
    with caplog.at_level(logging.WARNING, logger="covet.security"):
        with pytest.raises(RequestValidationError):
            SQLInjectionProtector(identifier_fields=["sort"]).sanitize({"sort": value})
    message = caplog.records[0].getMessage()
    assert len(message) < 250 and "\n" not in message and "\r" not in message
    assert "(10017 chars)" in message


@pytest.mark.parametrize("value", ["O'Brien", "Jean-Luc Picard", "rock'n'roll", "St. John, Jr.", "Zo\u00eb", 42,
                                   None, ["Ann", "Bob"], "d\u2019Artagnan"])
def test_word_fields_accept_words(value):
    data = {"name": value}
    assert SQLInjectionProtector(word_fields=["name"]).sanitize(data) is data


@pytest.mark.parametrize("value", ["x' OR '1'='1", "admin'--", "1; DROP TABLE users", "a/*b*/", "' or 1 #",
                                   'say "x"', "a\\b", "x = y", "name'", "'name", ["ok", "bad;"], {"a": 1}])
def test_word_fields_refuse_sql_meta_syntax(value):
    with pytest.raises(RequestValidationError) as info:
        SQLInjectionProtector(word_fields=["name"]).sanitize({"name": value})
    assert info.value.status_code == 400


def test_declared_fields_replace_the_default_names():
    sql = SQLInjectionProtector(identifier_fields=["sort", "column"], word_fields=["name"])
    assert sql.sanitize({"table": "x; DROP", "sort": "name"}) == {"table": "x; DROP", "sort": "name"}
    with pytest.raises(RequestValidationError) as info:
        sql.sanitize({"sort": 3, "column": "ok", "name": "bad;", "items": [{"column": "a b"}]})
    assert [e["loc"] for e in info.value.errors] == [["body", "sort"], ["body", "name"], ["body", "items", 0, "column"]]
    assert sql.check("sort", "users.name") is None
    assert sql.check("other", "anything; at all") is None
    with pytest.raises(TypeError):
        SQLInjectionProtector(identifier_fields="sort")


# ---------------------------------------------------------------- the seed's handler, end to end

def seed_app():
    app = Covet()
    validator = InputValidator()
    sql_protector = SQLInjectionProtector()
    xss_protector = XSSProtector()
    stored = []

    async def process_data(data):
        stored.append(data)
        return len(stored)

    @app.route("/api/data", methods=["POST"])
    async def secure_endpoint(request):
        data = await request.json()
        rules = {
            "name": {"required": True, "max_length": 100, "pattern": r"^[a-zA-Z\s]+$"},
            "email": {"required": True, "email": True},
            "description": {"max_length": 1000}
        }
        validated_data = validator.validate(data, rules)
        validated_data = sql_protector.sanitize(validated_data)
        validated_data = xss_protector.sanitize(validated_data)
        result = await process_data(validated_data)
        return {"result": result}

    return app, stored


def test_seed_handler_stores_sanitised_data():
    app, stored = seed_app()
    with TestClient(app) as client:
        description = "O'Brien -- the best; <b>DROP</b> me a line<script>x</script>"
        r = client.post("/api/data", json={"name": "Ada", "email": "ada@example.com", "role": "admin",
                                           "description": description})
    assert r.status_code == 200 and r.json() == {"result": 1}
    assert stored == [{"name": "Ada", "email": "ada@example.com",
                       "description": "O'Brien -- the best; <b>DROP</b> me a line"}]


def test_seed_handler_answers_422_problem_json_with_every_error():
    app, stored = seed_app()
    with TestClient(app) as client:
        r = client.post("/api/data", json={"name": "<script>", "email": "nope"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["detail"] == "Request validation failed"
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(["body", "name"], "pattern"),
                                                              (["body", "email"], "format")]
    assert stored == []


def test_sql_refusal_is_a_400_problem_json():
    app = Covet()
    sql = SQLInjectionProtector()

    @app.get("/users")
    async def users(request):
        params = sql.sanitize(dict(request.query_params))
        return {"sort": params.get("sort")}

    with TestClient(app) as client:
        assert client.get("/users?sort=-name").json() == {"sort": "-name"}
        r = client.get("/users", params={"sort": "name;DROP TABLE users"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"loc": ["body", "sort"], "type": "sql_injection",
                                   "msg": "must be an SQL name: letters, digits, _ and $, optionally schema.name"}]
