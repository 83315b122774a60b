"""Validation of a realistic order document: covet.validation against jsonschema and fastjsonschema.

Run with plain python3 (peers reported as not installed) or with benchmarks/.venv/bin/python.
The order has nested objects, an array of 50 line items, formats (uuid, date-time, email) and
patterns. Each figure is the median of several runs; targets on the valid document: covet at
least 20x faster than jsonschema's pre-built Draft202012Validator (formats asserted) and at
least as fast as fastjsonschema. Before timing, every validator must agree on which documents
are valid. Model.parse (validation plus conversion into objects) is shown too, with pydantic
as a reference when it is installed.
"""
import copy
import os
import statistics
import sys
import time
from typing import Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet.validation import Field, Model, ValidationError, compile_schema  # noqa: E402

try:
    import jsonschema
except ImportError:
    jsonschema = None
try:
    import fastjsonschema
except ImportError:
    fastjsonschema = None
try:
    import pydantic
except ImportError:
    pydantic = None

RUNS = 7
ITEMS = 50
JSONSCHEMA_TARGET = 20.0
FASTJSONSCHEMA_TARGET = 1.0

ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "created_at", "status", "customer", "items", "total"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "created_at": {"type": "string", "format": "date-time"},
        "status": {"enum": ["pending", "paid", "shipped", "cancelled"]},
        "customer": {"$ref": "#/$defs/customer"},
        "shipping": {"$ref": "#/$defs/address"},
        "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"$ref": "#/$defs/item"}},
        "total": {"type": "number", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "coupon": {"anyOf": [{"type": "string", "pattern": "^[A-Z0-9]{4,12}$"}, {"type": "null"}]},
        "notes": {"type": "string", "maxLength": 2000},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
    },
    "$defs": {
        "customer": {
            "type": "object", "required": ["id", "email", "name"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "phone": {"type": "string", "pattern": "^\\+?[0-9 ()-]{7,20}$"},
            },
        },
        "address": {
            "type": "object", "required": ["line1", "city", "postcode", "country"], "additionalProperties": False,
            "properties": {
                "line1": {"type": "string", "minLength": 1},
                "line2": {"type": "string"},
                "city": {"type": "string", "minLength": 1},
                "postcode": {"type": "string", "pattern": "^[A-Z0-9 -]{3,10}$"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            },
        },
        "item": {
            "type": "object", "required": ["sku", "name", "quantity", "unit_price"], "additionalProperties": False,
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                "unit_price": {"type": "number", "exclusiveMinimum": 0},
                "discount": {"type": "number", "minimum": 0, "maximum": 1},
                "options": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def make_order(items=ITEMS):
    return {
        "id": "6f1c2a7e-3b9d-4f0a-8c55-2d7e9b1a4c30",
        "created_at": "2026-11-23T18:34:00.123+01:00",
        "status": "paid",
        "customer": {"id": 42, "email": "ada.lovelace@example.com", "name": "Ada Lovelace",
                     "phone": "+44 20 7946 0958"},
        "shipping": {"line1": "12 Analytical Row", "city": "London", "postcode": "NW1 6XE", "country": "GB"},
        "items": [{"sku": "ABC-%04d" % i, "name": "Widget number %d" % i, "quantity": 1 + i % 5,
                   "unit_price": 9.5 + i, "discount": 0.25, "options": {"color": "red", "size": "M"}}
                  for i in range(items)],
        "total": 1234.5,
        "currency": "EUR",
        "coupon": None,
        "notes": "Leave the parcel at the door",
        "tags": ["gift", "express"],
    }


def make_invalid_order():
    order = make_order()
    order["customer"]["email"] = "not-an-email"
    order["items"][7]["quantity"] = 0
    order["items"][31]["sku"] = "abc-1"
    return order


class Customer(Model):
    id: int = Field(ge=1)
    email: str = Field(format="email")
    name: str = Field(min_length=1, max_length=200)
    phone: Optional[str] = Field(None, pattern="^\\+?[0-9 ()-]{7,20}$")


class Item(Model):
    sku: str = Field(pattern="^[A-Z]{3}-[0-9]{4}$")
    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1000)
    unit_price: float = Field(gt=0)
    discount: float = Field(0.0, ge=0, le=1)
    options: Dict[str, str] = {}


class Order(Model):
    id: str = Field(format="uuid")
    created_at: str = Field(format="date-time")
    status: str
    customer: Customer
    items: List[Item] = Field(min_items=1, max_items=500)
    total: float = Field(ge=0)
    currency: str = Field("EUR", pattern="^[A-Z]{3}$")
    coupon: Optional[str] = None
    notes: str = ""
    tags: List[str] = []


def median_us(function, argument, number, runs=RUNS):
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(number):
            function(argument)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) / number * 1e6


def accepts(function, document, error_types):
    try:
        function(document)
    except error_types:
        return False
    return True


def collect_all(validator):
    """jsonschema's way to get every error, as covet reports them."""
    return lambda document: list(validator.iter_errors(document))


def main():
    order = make_order()
    invalid = make_invalid_order()
    covet = compile_schema(ORDER_SCHEMA)
    print("Python %s, order with %d items, %d runs, medians" % (sys.version.split()[0], ITEMS, RUNS))

    valid_rows = [("covet.validation", covet, 20000)]
    invalid_rows = [("covet.validation (all errors)", covet, 5000)]
    errors = (ValidationError,)
    if fastjsonschema is not None:
        fast = fastjsonschema.compile(ORDER_SCHEMA)
        valid_rows.append(("fastjsonschema %s" % fastjsonschema.VERSION, fast, 20000))
        invalid_rows.append(("fastjsonschema (first error)", fast, 5000))
        errors += (fastjsonschema.JsonSchemaException,)
    if jsonschema is not None:
        cls = jsonschema.Draft202012Validator
        slow = cls(ORDER_SCHEMA, format_checker=cls.FORMAT_CHECKER)
        valid_rows.append(("jsonschema Draft202012Validator", slow.validate, 500))
        invalid_rows.append(("jsonschema iter_errors (all)", collect_all(slow), 200))
        errors += (jsonschema.ValidationError,)

    for name, function, _ in valid_rows:
        assert accepts(function, copy.deepcopy(order), errors), "%s rejects the valid order" % name
    for name, function, _ in invalid_rows:
        if "iter_errors" in name:
            assert len(function(invalid)) == 3, name
        else:
            assert not accepts(function, invalid, errors), "%s accepts the invalid order" % name
    try:
        covet(invalid)
    except ValidationError as exc:
        assert [e["type"] for e in exc.errors] == ["format", "minimum", "pattern"], exc.errors

    print("valid order:")
    results = {}
    for name, function, number in valid_rows:
        results[name] = median_us(function, order, number)
        print("  %-34s %9.1f us" % (name, results[name]))
    print("invalid order (3 errors):")
    for name, function, number in invalid_rows:
        quiet = _swallow(function, errors)
        print("  %-34s %9.1f us" % (name, median_us(quiet, invalid, number)))

    ours = results["covet.validation"]
    for peer, target in (("fastjsonschema", FASTJSONSCHEMA_TARGET), ("jsonschema", JSONSCHEMA_TARGET)):
        found = [name for name in results if name.startswith(peer + " ")]
        if not found:
            print("%s: peer not installed (use benchmarks/.venv/bin/python)" % peer)
            continue
        ratio = results[found[0]] / ours
        print("ratio %s/covet on the valid order: %.1fx (target >= %.0fx: %s)"
              % (peer, ratio, target, "met" if ratio >= target else "MISSED"))

    print("Model.parse (validate + build objects):")
    model_us = median_us(Order.parse, order, 5000)
    print("  %-34s %9.1f us" % ("covet Model.parse", model_us))
    if pydantic is not None and pydantic.VERSION.startswith("2"):
        peer = _pydantic_order()
        peer.model_validate(order)
        print("  %-34s %9.1f us  (reference: compiled Rust core)" % (
            "pydantic %s model_validate" % pydantic.VERSION, median_us(peer.model_validate, order, 5000)))
    else:
        print("  pydantic 2: not installed (reference only)")

    print("compile once:")
    print("  %-34s %9.1f us" % ("covet compile_schema", median_us(compile_schema, ORDER_SCHEMA, 20, 3)))
    if fastjsonschema is not None:
        print("  %-34s %9.1f us" % ("fastjsonschema.compile", median_us(fastjsonschema.compile, ORDER_SCHEMA, 20, 3)))

    # multipleOf on money: covet compares decimals exactly, the peers divide floats.
    cents = {"type": "number", "multipleOf": 0.01}
    print("19.99 multipleOf 0.01 accepted: covet %s" % accepts(compile_schema(cents), 19.99, errors), end="")
    if fastjsonschema is not None:
        print(", fastjsonschema %s" % accepts(fastjsonschema.compile(cents), 19.99, errors), end="")
    if jsonschema is not None:
        print(", jsonschema %s" % jsonschema.Draft202012Validator(cents).is_valid(19.99), end="")
    print()


def _swallow(function, errors):
    def run(document):
        try:
            function(document)
        except errors:
            pass
    return run


def _pydantic_order():
    from pydantic import BaseModel, Field as PField  # noqa: N813 - the peer's own name

    class PCustomer(BaseModel):
        id: int = PField(ge=1)
        email: str
        name: str = PField(min_length=1, max_length=200)
        phone: Optional[str] = PField(None, pattern="^\\+?[0-9 ()-]{7,20}$")

    class PItem(BaseModel):
        sku: str = PField(pattern="^[A-Z]{3}-[0-9]{4}$")
        name: str = PField(min_length=1, max_length=200)
        quantity: int = PField(ge=1, le=1000)
        unit_price: float = PField(gt=0)
        discount: float = PField(0.0, ge=0, le=1)
        options: Dict[str, str] = {}

    class POrder(BaseModel):
        id: str
        created_at: str
        status: str
        customer: PCustomer
        items: List[PItem] = PField(min_length=1, max_length=500)
        total: float = PField(ge=0)
        currency: str = PField("EUR", pattern="^[A-Z]{3}$")
        coupon: Optional[str] = None
        notes: str = ""
        tags: List[str] = []

    return POrder


if __name__ == "__main__":
    main()
