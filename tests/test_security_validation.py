"""covet.security.validation: the API reference's input-validation example, run as written, on
the one rules-dict Validator of covet.validation."""
import pytest

from covet import Covet
from covet.security.validation import SchemaError, ValidationError, Validator


def reference_app():
    app = Covet()

    @app.route("/users", methods=["POST"])
    async def create_user(request):
        data = await request.json()

        validator = Validator({
            "name": {"required": True, "max_length": 100},
            "email": {"required": True, "email": True},
            "age": {"type": "integer", "min": 0, "max": 150}
        })

        try:
            validated_data = validator.validate(data)
            # Process validated data
            return {"created": validated_data}
        except ValidationError as e:
            return {"errors": e.errors}, 400

    return app


def test_the_same_classes_as_covet_validation():
    import covet
    import covet.validation

    assert Validator is covet.validation.Validator is covet.Validator
    assert ValidationError is covet.validation.ValidationError is covet.ValidationError
    assert SchemaError is covet.validation.SchemaError


@pytest.mark.parametrize("data", [
    {"name": "Ada", "email": "ada@example.com", "age": 36},
    {"name": "Ada", "email": "ada@example.com"},                      # age is optional
    {"name": "A" * 100, "email": "a@b.co", "age": 0},
    {"name": "Ada", "email": "ada@example.com", "age": 150},
])
def test_valid_data_is_created(client, data):
    r = client(reference_app()).post("/users", json=data)
    assert (r.status_code, r.json()) == (200, {"created": data})


def error(field, msg, kind):
    return {"loc": [field], "msg": msg, "type": kind}


@pytest.mark.parametrize("data, errors", [
    ({}, [error("name", "field required", "required"), error("email", "field required", "required")]),
    ({"name": "A" * 101, "email": "not-an-email", "age": 151},
     [error("name", "must be at most 100 characters long", "maxLength"),
      error("email", "must be an email address", "format"),
      error("age", "must be less than or equal to 150", "maximum")]),
    ({"name": "Ada", "email": "ada@example.com", "age": -1},
     [error("age", "must be greater than or equal to 0", "minimum")]),
    ({"name": "Ada", "email": "ada@example.com", "age": "12"}, [error("age", "must be of type integer", "type")]),
    ({"name": "Ada", "email": "ada@example.com", "age": True}, [error("age", "must be of type integer", "type")]),
    ({"name": "Ada", "email": "ada@example.com", "age": 1.5}, [error("age", "must be of type integer", "type")]),
    ({"name": 7, "email": "ada@example.com"}, [error("name", "must be of type string", "type")]),
    ([], [{"loc": [], "msg": "must be of type object", "type": "type"}]),
])
def test_invalid_data_gets_every_error_in_a_400(client, data, errors):
    r = client(reference_app()).post("/users", json=data)
    assert (r.status_code, r.json()) == (400, {"errors": errors})


def test_a_body_that_is_not_json_is_a_400_problem_not_a_crash(client):
    r = client(reference_app()).post("/users", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"


def test_an_unknown_rule_is_refused_when_the_validator_is_built():
    with pytest.raises(SchemaError) as info:
        Validator({"name": {"requried": True}})
    assert str(info.value).startswith("name: unknown rule 'requried' (known rules: ")
