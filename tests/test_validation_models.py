"""covet.validation Models, Field, schema_for, converter_for and serializer_for: every annotation."""
import copy
import dataclasses
import datetime
import enum
import json
import pickle
import typing
import uuid
from decimal import Decimal
from typing import Any, Dict, FrozenSet, List, Literal, Optional, Set, Tuple, TypedDict, Union

import pytest

from covet.validation import (Field, Model, SchemaError, ValidationError, compile_schema, converter_for,
                              schema_for, serializer_for, validate)

Annotated = typing.Annotated
UTC = datetime.timezone.utc


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Task(Model):
    """Something to do."""

    title: str = Field(min_length=1, max_length=200)
    priority: int = Field(1, ge=1, le=5)
    tags: List[str] = []
    due: Optional[datetime.date] = None


class Point(Model):
    x: float
    y: float = 0.0


class Shape(Model, extra="forbid"):
    name: str = Field(alias="shapeName", description="display name", examples=["square"])
    corners: List[Point] = Field(default_factory=list, max_length=8)
    color: Color = Color.RED


class Node(Model):
    value: int
    children: List["Node"] = []


class Parent(Model):
    child: "LaterChild"  # defined below: prepared on first use
    others: List["LaterChild"] = []


class LaterChild(Model):
    n: int = Field(ge=0)


@dataclasses.dataclass
class Address:
    street: str
    city: str = "Paris"
    zip: Annotated[str, Field(pattern="^[0-9]{5}$")] = "75001"


class Movie(TypedDict, total=False):
    title: str
    year: int


class Rating(TypedDict):
    stars: Annotated[int, Field(ge=1, le=5)]


def error_list(call, *args, **kwargs):
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value.errors


def err(loc, msg, type_):
    return {"loc": loc, "msg": msg, "type": type_}


# ---------------------------------------------------------------- Model basics

def test_model_builds_and_converts():
    task = Task(title="Write docs", due="2026-12-01")
    assert (task.title, task.priority, task.tags, task.due) == ("Write docs", 1, [], datetime.date(2026, 12, 1))
    assert Task.parse({"title": "a", "priority": 5.0}).priority == 5
    assert type(Task.parse({"title": "a", "priority": 5.0}).priority) is int


def test_model_errors_list_everything():
    assert error_list(Task, title="", priority=9, tags=["a", 3], due="2026-02-30") == [
        err(["title"], "must be at least 1 character long", "minLength"),
        err(["priority"], "must be less than or equal to 5", "maximum"),
        err(["tags", 1], "must be of type string", "type"),
        err(["due"], "must be a date (YYYY-MM-DD)", "format"),
    ]
    assert error_list(Task) == [err(["title"], "field required", "required")]
    assert error_list(Task.parse, []) == [err([], "must be of type object", "type")]
    assert error_list(Task, title="x", priority=True) == [err(["priority"], "must be of type integer", "type")]


def test_model_accepts_python_values_in_the_constructor():
    due = datetime.date(2026, 1, 2)
    assert Task(title="x", due=due).due == due
    shape = Shape(name="tri", corners=[Point(x=0), {"x": 1, "y": 2}], color=Color.GREEN)
    assert shape.corners == [Point(x=0.0, y=0.0), Point(x=1.0, y=2.0)]
    assert shape.color is Color.GREEN


def test_defaults_are_never_shared():
    first, second = Task(title="a"), Task(title="b")
    first.tags.append("mine")
    assert second.tags == [] and first.tags is not second.tags
    s1, s2 = Shape(name="a"), Shape(name="b")
    s1.corners.append(Point(x=1))
    assert s2.corners == []
    assert "tags" not in Task.__dict__ and not hasattr(Task, "priority")


def test_mutable_default_values_are_deep_copied():
    class Config(Model):
        options: Dict[str, List[int]] = {"a": [1]}

    first, second = Config(), Config()
    first.options["a"].append(2)
    assert second.options == {"a": [1]}


def test_input_data_is_not_shared_or_mutated():
    data = {"title": "x", "tags": ["a"]}
    task = Task.parse(data)
    task.tags.append("b")
    assert data == {"title": "x", "tags": ["a"]}


def test_to_dict_to_json_and_round_trip():
    task = Task(title="Write", tags=["a"], due="2026-12-01")
    assert task.to_dict() == {"title": "Write", "priority": 1, "tags": ["a"], "due": "2026-12-01"}
    assert task.to_json() == '{"title":"Write","priority":1,"tags":["a"],"due":"2026-12-01"}'
    assert json.loads(task.to_json(indent=2)) == task.to_dict()
    assert Task.parse(task.to_dict()) == task
    assert task.to_dict()["tags"] is not task.tags


def test_eq_and_repr():
    assert Task(title="a") == Task(title="a")
    assert Task(title="a") != Task(title="b")
    assert Task(title="a") != {"title": "a"}
    assert repr(Task(title="a")) == "Task(title='a', priority=1, tags=[], due=None)"
    with pytest.raises(TypeError):
        hash(Task(title="a"))


def test_parse_returns_an_instance_unchanged():
    task = Task(title="a")
    assert Task.parse(task) is task


def test_json_schema_is_built_once_and_returned_as_a_copy():
    assert Task.json_schema() == {
        "type": "object", "title": "Task", "description": "Something to do.",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "due": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None},
        },
        "required": ["title"],
    }
    schema = Task.json_schema()
    schema["properties"].clear()
    assert Task.json_schema()["properties"]


def test_construction_does_no_inspection(monkeypatch):
    Task(title="warm")

    def refuse(*args, **kwargs):
        raise AssertionError("inspected at call time")
    monkeypatch.setattr(typing, "get_type_hints", refuse)
    monkeypatch.setattr("covet.validation._model.compile_schema", refuse)
    monkeypatch.setattr("covet.validation._model.schema_for", refuse)
    monkeypatch.setattr("covet.validation._convert.compile_schema", refuse)
    assert Task(title="x").title == "x"
    assert Task.parse({"title": "y"}).to_dict()["title"] == "y"


def test_alias_extra_forbid_and_field_metadata():
    shape = Shape.parse({"shapeName": "sq", "corners": [{"x": 1}]})
    assert shape.name == "sq"
    assert Shape(name="sq").name == "sq" and Shape(shapeName="sq").name == "sq"
    assert shape.to_dict() == {"shapeName": "sq", "corners": [{"x": 1.0, "y": 0.0}], "color": "red"}
    with pytest.raises(TypeError, match="both 'name' and its alias 'shapeName'"):
        Shape(name="a", shapeName="b")
    assert error_list(Shape.parse, {"shapeName": "a", "extra": 1}) == [
        err(["extra"], "additional property not allowed", "additionalProperties")]
    assert error_list(Shape.parse, {"shapeName": "a", "corners": [{"x": 0}] * 9}) == [
        err(["corners"], "must contain at most 8 items", "maxItems")]
    schema = Shape.json_schema()
    assert schema["properties"]["shapeName"] == {"type": "string", "description": "display name",
                                                 "examples": ["square"]}
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Point"]["required"] == ["x"]


def test_a_field_may_be_called_self_and_instances_copy_and_pickle():
    class Weird(Model):
        self: int
        cls: str = "c"

    weird = Weird(self=1)
    assert (weird.self, weird.cls) == (1, "c")
    task = Task(title="a", tags=["x"])
    assert copy.deepcopy(task) == task and copy.deepcopy(task).tags is not task.tags
    assert pickle.loads(pickle.dumps(task)) == task


def test_unknown_keys_are_ignored_by_default():
    assert Task.parse({"title": "a", "unknown": 1}).to_dict() == {"title": "a", "priority": 1, "tags": [], "due": None}


def test_recursive_model():
    tree = Node.parse({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})
    assert tree.children[0].children[0] == Node(value=3)
    assert Node.json_schema() == {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "title": "Node", "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "default": []}},
            "required": ["value"]}}}
    assert error_list(Node.parse, {"value": 1, "children": [{"children": []}]}) == [
        err(["children", 0, "value"], "field required", "required")]


def test_forward_reference_to_a_later_class_resolves_on_first_use():
    parent = Parent.parse({"child": {"n": 1}, "others": [{"n": 2}]})
    assert parent.child == LaterChild(n=1) and parent.others == [LaterChild(n=2)]
    assert error_list(Parent, child={"n": -1}) == [
        err(["child", "n"], "must be greater than or equal to 0", "minimum")]


def test_inheritance_keeps_base_fields_first():
    class Base(Model):
        id: int
        name: str = "x"

    class Child(Base):
        extra: bool = False
        name: str = "child"

    child = Child(id=1)
    assert (child.id, child.name, child.extra) == (1, "child", False)
    assert list(Child.json_schema()["properties"]) == ["id", "name", "extra"]
    assert Base(id=2).name == "x"


def test_class_level_things_are_not_fields():
    class Account(Model):
        kind: typing.ClassVar[str] = "account"
        _cache: dict = {}
        owner: str

        def describe(self):
            return "%s of %s" % (self.kind, self.owner)

    account = Account(owner="ada")
    assert account.describe() == "account of ada"
    assert list(Account.json_schema()["properties"]) == ["owner"]


def test_model_definition_errors():
    with pytest.raises(SchemaError, match="unsupported annotation"):
        class Bad(Model):
            value: complex

    with pytest.raises(TypeError, match="cannot be named 'to_dict'"):
        class Clash(Model):
            to_dict: str

    with pytest.raises(TypeError, match="extra must be"):
        class Loose(Model, extra="allow"):
            a: int

    with pytest.raises(SchemaError, match="both use the JSON key 'a'"):
        class Twice(Model):
            a: int
            b: int = Field(alias="a")

    with pytest.raises(TypeError, match="no fields"):
        Model()


def test_sets_of_unhashable_items_are_refused_at_definition():
    for annotation in (Set[Point], Set[Dict[str, int]], FrozenSet[List[int]], Set[Movie]):
        with pytest.raises(SchemaError, match="set items must be hashable"):
            class Bag(Model):
                items: annotation
    assert converter_for(Set[Tuple[int, str]])([[1, "a"], [1, "a"]]) == {(1, "a")}


def test_unresolvable_forward_reference_is_reported_on_use():
    class Orphan(Model):
        thing: "NoSuchClass"  # noqa: F821

    with pytest.raises(SchemaError, match="NoSuchClass"):
        Orphan(thing=1)


# ---------------------------------------------------------------- every annotation

class Everything(Model):
    s: str = "s"
    i: int = 0
    f: float = 0.0
    b: bool = False
    raw: bytes = b""
    money: Decimal = Decimal("0")
    ident: Optional[uuid.UUID] = None
    day: Optional[datetime.date] = None
    moment: Optional[datetime.datetime] = None
    clock: Optional[datetime.time] = None
    color: Color = Color.RED
    level: Level = Level.LOW
    mode: Literal["a", "b"] = "a"
    code: Literal[1, 2] = 1
    either: Union[int, str] = 0
    when: Union[datetime.date, str] = ""
    items: List[int] = []
    builtin_items: list[int] = []  # noqa: UP006 - builtin generics (PEP 585) must work too
    unique: Set[str] = set()
    frozen: FrozenSet[int] = frozenset()
    pair: Tuple[int, str] = (0, "")
    many: Tuple[float, ...] = ()
    builtin_pair: tuple[int, int] = (0, 0)
    mapping: Dict[str, int] = {}
    by_id: Dict[int, str] = {}
    by_color: Dict[Color, int] = {}
    address: Optional[Address] = None
    movie: Optional[Movie] = None
    rating: Optional[Rating] = None
    count: Annotated[int, Field(ge=0)] = 0
    anything: Any = None


FULL = {
    "s": "text", "i": 3, "f": 2, "b": True, "raw": "aGVsbG8=", "money": "12.50",
    "ident": "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "day": "2024-02-29",
    "moment": "2024-01-15T08:30:00.250+01:00", "clock": "23:59:60Z", "color": "green", "level": 2,
    "mode": "b", "code": 2.0, "either": "x", "when": "2024-05-01", "items": [1, 2.0], "builtin_items": [3],
    "unique": ["b", "a"], "frozen": [1], "pair": [1, "a"], "many": [1, 2.5], "builtin_pair": [1, 2],
    "mapping": {"a": 1}, "by_id": {"7": "x"}, "by_color": {"red": 1},
    "address": {"street": "Rue"}, "movie": {"title": "Alien"}, "rating": {"stars": 5}, "count": 4,
    "anything": {"free": ["form"]},
}


def test_every_annotation_converts():
    e = Everything.parse(FULL)
    assert (e.s, e.i, e.f, e.b, e.raw) == ("text", 3, 2.0, True, b"hello")
    assert type(e.f) is float
    assert e.money == Decimal("12.50")
    assert e.ident == uuid.UUID("2eb8aa08-aa98-11ea-b4aa-73b441d16380")
    assert e.day == datetime.date(2024, 2, 29)
    assert e.moment == datetime.datetime(2024, 1, 15, 8, 30, 0, 250000,
                                         tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert e.clock == datetime.time(23, 59, 59, 999999, tzinfo=UTC)  # leap second clamped
    assert (e.color, e.level, e.mode, e.code) == (Color.GREEN, Level.HIGH, "b", 2)
    assert type(e.code) is int
    assert (e.either, e.when) == ("x", datetime.date(2024, 5, 1))
    assert (e.items, e.builtin_items, e.unique, e.frozen) == ([1, 2], [3], {"a", "b"}, frozenset({1}))
    assert (e.pair, e.many, e.builtin_pair) == ((1, "a"), (1.0, 2.5), (1, 2))
    assert (e.mapping, e.by_id, e.by_color) == ({"a": 1}, {7: "x"}, {Color.RED: 1})
    assert e.address == Address(street="Rue")
    assert (e.movie, e.rating, e.count, e.anything) == ({"title": "Alien"}, {"stars": 5}, 4, {"free": ["form"]})


def test_every_annotation_serializes_back():
    e = Everything.parse(FULL)
    out = e.to_dict()
    assert out["raw"] == "aGVsbG8=" and out["money"] == "12.50" and out["unique"] == ["a", "b"]
    assert out["moment"] == "2024-01-15T08:30:00.250000+01:00" and out["clock"] == "23:59:59.999999+00:00"
    assert out["by_id"] == {"7": "x"} and out["by_color"] == {"red": 1}
    assert out["address"] == {"street": "Rue", "city": "Paris", "zip": "75001"}
    assert out["pair"] == [1, "a"] and out["level"] == 2 and out["color"] == "green"
    assert json.loads(json.dumps(out)) == out
    assert Everything.parse(out) == e
    compile_schema(Everything.json_schema())(out)


def test_every_annotation_rejects_bad_values():
    bad = dict(FULL, i="3", raw="not base64!", money="12,5", ident="nope", day="2024-02-30",
               moment="2024-01-15T08:30:00", clock="12:00", color="blue", level=3, mode="c", code=3,
               either=1.5, items=[1.5], unique=["a", "a"], pair=[1], by_id={"x": "y"}, by_color={"blue": 1},
               address={"street": "Rue", "zip": "1"}, rating={"stars": 0}, count=-1)
    assert [(e["loc"], e["type"]) for e in error_list(Everything.parse, bad)] == [
        (["i"], "type"), (["raw"], "pattern"), (["money"], "format"), (["ident"], "format"), (["day"], "format"),
        (["moment"], "format"), (["clock"], "format"), (["color"], "enum"), (["level"], "enum"),
        (["mode"], "enum"), (["code"], "enum"), (["either"], "type"), (["items", 0], "type"),
        (["unique"], "uniqueItems"), (["pair"], "minItems"), (["by_id", "x"], "propertyNames"),
        (["by_color", "blue"], "propertyNames"), (["address", "zip"], "pattern"),
        (["rating", "stars"], "minimum"), (["count"], "minimum")]


def test_decimal_bounds_apply_to_strings_and_numbers():
    class Price(Model):
        amount: Decimal = Field(ge=0, multiple_of=Decimal("0.01"))

    assert Price(amount="19.99").amount == Decimal("19.99")
    assert Price(amount=19.99).amount == Decimal("19.99")
    assert Price(amount=Decimal("0.10")).amount == Decimal("0.10")
    for bad in ("-1", -1, "0.001", 0.001):
        assert error_list(Price, amount=bad)[0]["loc"] == ["amount"]
    assert error_list(Price, amount="NaN") == [err(["amount"], "must be a decimal number", "format")]
    assert error_list(Price, amount="-0.5") == [err(["amount"], "must be greater than or equal to 0", "minimum")]


def test_datetime_needs_an_offset():
    class Event(Model):
        at: datetime.datetime

    assert Event(at=datetime.datetime(2024, 1, 1, tzinfo=UTC)).at.tzinfo is UTC
    assert Event.parse({"at": "2024-01-01t10:00:00z"}).at == datetime.datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert error_list(Event, at=datetime.datetime(2024, 1, 1)) == [
        err(["at"], "must be an RFC 3339 date-time with offset", "format")]


def test_float_field_takes_ints_and_int_field_rejects_fractions():
    assert Point(x=1).x == 1.0 and type(Point(x=1).x) is float
    assert error_list(Task, title="a", priority=1.5) == [err(["priority"], "must be of type integer", "type")]


def test_union_picks_the_first_matching_member():
    class Pick(Model):
        value: Union[Point, Address, int]

    assert Pick(value={"x": 1}).value == Point(x=1.0)
    assert Pick(value={"street": "a"}).value == Address(street="a")  # Point needs x: not its branch
    assert Pick.parse({"value": {"x": 2, "street": "a"}}).value == Point(x=2.0)
    assert Pick(value=4).value == 4


def test_annotated_field_and_nested_constraints():
    class Limits(Model):
        ids: List[Annotated[int, Field(ge=1)]] = []
        name: Optional[str] = Field(None, max_length=3)
        code: Annotated[str, Field(pattern="^[A-Z]+$")] = Field("AB", min_length=2)

    assert Limits.json_schema()["properties"]["name"] == {
        "anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "default": None}
    assert Limits.json_schema()["properties"]["code"] == {
        "type": "string", "pattern": "^[A-Z]+$", "minLength": 2, "default": "AB"}
    assert Limits(name=None).name is None
    assert [(e["loc"], e["type"]) for e in error_list(Limits, ids=[1, 0], name="long", code="A")] == [
        (["ids", 1], "minimum"), (["name"], "maxLength"), (["code"], "minLength")]


# ---------------------------------------------------------------- Field

@pytest.mark.parametrize("kwargs, error", [
    ({"default": 1, "default_factory": list}, TypeError),
    ({"default_factory": 3}, TypeError),
    ({"ge": "1"}, TypeError),
    ({"gt": True}, TypeError),
    ({"le": float("inf")}, TypeError),
    ({"multiple_of": 0}, ValueError),
    ({"min_length": -1}, TypeError),
    ({"max_items": 1.5}, TypeError),
    ({"pattern": "("}, SchemaError),
    ({"alias": 3}, TypeError),
    ({"examples": "x"}, TypeError),
])
def test_field_arguments_are_checked(kwargs, error):
    with pytest.raises(error):
        Field(**kwargs)


def test_field_repr_shows_what_is_set():
    assert repr(Field(1, ge=0)) == "Field(default=1, ge=0)"


# ---------------------------------------------------------------- schema_for

def test_schema_for_scalars_and_containers():
    assert schema_for(int) == {"type": "integer"}
    assert schema_for(Optional[List[int]]) == {
        "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}
    assert schema_for(Dict[str, Any]) == {"type": "object"}
    assert schema_for(Tuple[int, str]) == {
        "type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False,
        "minItems": 2, "maxItems": 2}
    assert schema_for(Tuple[()]) == {"type": "array", "maxItems": 0}
    assert schema_for(Tuple) == schema_for(tuple) == {"type": "array"}
    assert schema_for(Tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}
    assert converter_for(Tuple[()])([]) == () and converter_for(Tuple[int, ...])([1.0]) == (1,)
    assert schema_for(Literal["a"]) == {"type": "string", "const": "a"}
    assert schema_for(Literal[1, "a"]) == {"type": ["integer", "string"], "enum": [1, "a"]}
    assert schema_for(Level) == {"type": "integer", "enum": [1, 2]}
    assert schema_for(Annotated[int, Field(ge=0, title="Count")]) == {"type": "integer", "minimum": 0,
                                                                      "title": "Count"}
    assert schema_for(Any) == {} and schema_for(type(None)) == {"type": "null"}


def test_schema_for_dataclass_and_typeddict():
    assert schema_for(Address) == {
        "type": "object", "title": "Address", "properties": {
            "street": {"type": "string"}, "city": {"type": "string", "default": "Paris"},
            "zip": {"type": "string", "pattern": "^[0-9]{5}$", "default": "75001"}},
        "required": ["street"]}
    assert schema_for(Movie) == {"type": "object", "title": "Movie",
                                 "properties": {"title": {"type": "string"}, "year": {"type": "integer"}}}
    assert schema_for(Rating)["required"] == ["stars"]


def test_schema_for_with_shared_defs_and_a_ref_template():
    components = {}
    ref = schema_for(List[Shape], defs=components, ref_template="#/components/schemas/{name}")
    assert ref == {"type": "array", "items": {"$ref": "#/components/schemas/Shape"}}
    assert sorted(components) == ["Point", "Shape"]
    assert components["Shape"]["properties"]["corners"]["items"] == {"$ref": "#/components/schemas/Point"}
    assert schema_for(Point, defs=components, ref_template="#/components/schemas/{name}") == {
        "$ref": "#/components/schemas/Point"}
    assert sorted(components) == ["Point", "Shape"]


def test_schema_for_names_two_classes_with_the_same_name_apart():
    def make():
        class Point(Model):  # same __name__ as the module-level Point, different fields
            lat: float
        return Point

    other = make()
    defs = {}
    schema_for(Point, defs=defs)
    schema_for(other, defs=defs)
    assert len(defs) == 2 and "Point" in defs
    assert [n for n in defs if n != "Point"][0].endswith("make._locals_.Point")


@pytest.mark.parametrize("annotation", [complex, Dict[float, int], "Task", typing.Callable[[], int]])
def test_schema_for_unsupported(annotation):
    with pytest.raises(SchemaError):
        schema_for(annotation)


# ---------------------------------------------------------------- converter_for / serializer_for

def test_converter_for_is_built_once_and_converts_validated_json():
    to_python = converter_for(Dict[str, List[datetime.date]])
    assert to_python({"due": ["2024-02-29"]}) == {"due": [datetime.date(2024, 2, 29)]}
    assert converter_for(str)("x") == "x"
    assert converter_for(Optional[uuid.UUID])(None) is None
    assert converter_for(Set[int])([1, 2.0]) == {1, 2}
    assert converter_for(Movie)({"title": "x"}) == {"title": "x"}
    assert converter_for(List[Task])([{"title": "a"}]) == [Task(title="a")]
    assert converter_for(bytearray)("aGk=") == bytearray(b"hi")
    assert converter_for(Decimal)(0.1) == Decimal("0.1")


def test_validate_then_convert_matches_model_parse():
    schema = schema_for(Task)
    data = validate({"title": "a", "due": "2024-01-01"}, schema)
    assert data == {"title": "a", "due": "2024-01-01", "priority": 1, "tags": []}
    assert converter_for(Task)(data) == Task.parse({"title": "a", "due": "2024-01-01"})


def test_coerced_query_values_then_converted():
    schema = schema_for(Dict[str, Optional[int]])
    check = compile_schema(schema, coerce=True)
    assert converter_for(Dict[str, Optional[int]])(check({"a": "1", "b": ""})) == {"a": 1, "b": None}
    level = compile_schema(schema_for(Level), coerce=True)("2")
    assert converter_for(Level)(level) is Level.HIGH


def test_serializer_for_passes_json_through_and_copies_containers():
    to_json = serializer_for(Dict[str, datetime.date])
    assert to_json({"due": datetime.date(2024, 2, 29)}) == {"due": "2024-02-29"}
    assert to_json({"due": "2024-02-29"}) == {"due": "2024-02-29"}
    tags = ["a"]
    assert serializer_for(List[str])(tags) == ["a"] and serializer_for(List[str])(tags) is not tags
    assert serializer_for(Address)(Address(street="x")) == {"street": "x", "city": "Paris", "zip": "75001"}
    assert serializer_for(Optional[Point])(Point(x=1)) == {"x": 1.0, "y": 0.0}
    assert serializer_for(Union[datetime.date, uuid.UUID])(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert serializer_for(int)(5) == 5
