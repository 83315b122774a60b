"""ORM models in an app, over HTTP with covet's TestClient: bad input is a 422, models are JSON
responses, response_model checks and filters them, a model is a body parameter, OpenAPI shows it."""
from typing import List, Optional

import pytest

from covet import Covet, Depends, HTTPException
from covet.database import DatabaseManager, IntegrityError
from covet.database.orm import (Boolean, Column, DateTime, ForeignKey, Integer, Model, Numeric, Registry, String,
                                create_all, func, load, relationship)
from covet.validation import Model as Schema


class Base(Model):
    __abstract__ = True
    registry = Registry()  # its models stay out of Model.registry


class Member(Base):
    """A member of the club."""
    __tablename__ = "members"
    id = Column(Integer, primary_key=True)
    name = Column(String(20), nullable=False)
    email = Column(String(50), unique=True, nullable=False)
    password_hash = Column(String(100))
    admin = Column(Boolean, default=False, nullable=False)
    fee = Column(Numeric(6, 2))
    joined = Column(DateTime, default=func.now(), nullable=False)
    notes = relationship("Note")


class Note(Base):
    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("members.id"), nullable=False)
    text = Column(String(200), nullable=False)


class MemberOut(Schema):
    id: int
    name: str
    notes: Optional[List[dict]] = None


@pytest.fixture
def app(tmp_path):
    app = Covet()
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "club.db"))
    app.add_database(db)

    @app.on_startup
    async def tables():
        await create_all(db, Base)

    @app.post("/members", status_code=201)
    async def create(request, session=Depends(db.session)):
        member = Member(**await request.json())
        session.add(member)
        try:
            await session.commit()
        except IntegrityError:
            raise HTTPException(409, "that email is taken")
        return member

    @app.post("/members/typed", status_code=201, response_model=Member)
    async def create_typed(member: Member, session=Depends(db.session)):
        session.add(member)
        await session.commit()
        return member

    @app.patch("/members/{member_id}")
    async def rename(member_id: int, request, session=Depends(db.session)):
        member = await Member.query(session).get(member_id)
        if member is None:
            raise HTTPException(404, "no such member")
        member.name = (await request.json()).get("name")
        session.add(member)
        await session.commit()
        return member

    @app.post("/members/{member_id}/notes", status_code=201)
    async def add_note(member_id: int, request, session=Depends(db.session)):
        note = Note(member_id=member_id, text=(await request.json())["text"])
        session.add(note)
        await session.commit()
        return note

    @app.get("/members")
    async def listing():
        return await Member.query(db).order_by("id").options(load("notes")).all()

    @app.get("/members/filtered", response_model=List[Member])
    async def filtered():
        return await Member.query(db).order_by("id").options(load("notes")).all()

    @app.get("/members/public", response_model=List[MemberOut])
    async def public():
        return await Member.query(db).order_by("id").options(load("notes")).all()

    return app


def test_user_input_that_does_not_fit_the_columns_is_a_422(app, client):
    c = client(app)
    r = c.post("/members", json={"name": "x" * 21, "email": None, "fee": "12.345", "admin": "yes", "role": "root"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "Request validation failed", "instance": "/members",
        "errors": [
            {"loc": ["body", "name"], "msg": "must be at most 20 characters long", "type": "maxLength"},
            {"loc": ["body", "email"], "msg": "must be of type string", "type": "type"},
            {"loc": ["body", "admin"], "msg": "must be of type boolean", "type": "type"},
            {"loc": ["body", "fee"], "msg": "must be a multiple of 0.01", "type": "multipleOf"},
            {"loc": ["body", "role"], "msg": "additional property not allowed", "type": "additionalProperties"},
        ]}
    r = c.post("/members", json={"name": "ann"})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"loc": ["body", "email"], "msg": "field required", "type": "required"}]
    r = c.post("/members", json={"name": "ann", "email": "a@x", "fee": 1e9})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"loc": ["body", "fee"], "msg": "must be less than 10000", "type": "exclusiveMaximum"}]


def test_a_saved_model_is_the_json_response(app, client):
    with client(app) as c:
        r = c.post("/members", json={"name": "ann", "email": "ann@x", "fee": "12.5"})
        assert r.status_code == 201
        body = r.json()
        joined = body.pop("joined")
        assert body == {"id": 1, "name": "ann", "email": "ann@x", "password_hash": None, "admin": False,
                        "fee": "12.50"}
        assert joined.endswith("+00:00")
        assert c.post("/members", json={"name": "dup", "email": "ann@x"}).json()["detail"] == "that email is taken"
        r = c.patch("/members/1", json={"name": "x" * 21})
        assert r.status_code == 422 and r.json()["errors"] == [
            {"loc": ["body", "name"], "msg": "must be at most 20 characters long", "type": "maxLength"}]
        r = c.patch("/members/1", json={"name": "anne"})
        assert r.status_code == 200 and r.json()["name"] == "anne"
        assert c.patch("/members/7", json={"name": "x"}).status_code == 404


def test_lists_of_models_and_their_loaded_relationships_are_json(app, client):
    with client(app) as c:
        c.post("/members", json={"name": "ann", "email": "ann@x", "password_hash": "secret"})
        c.post("/members", json={"name": "bob", "email": "bob@x"})
        assert c.post("/members/1/notes", json={"text": "hello"}).json() == {"id": 1, "member_id": 1, "text": "hello"}
        listing = c.get("/members").json()
        assert [(m["name"], m["password_hash"], m["notes"]) for m in listing] == [
            ("ann", "secret", [{"id": 1, "member_id": 1, "text": "hello"}]), ("bob", None, [])]
        # response_model=List[Member]: checked against the columns and filtered to them.
        filtered = c.get("/members/filtered").json()
        assert [sorted(m) for m in filtered] == [["admin", "email", "fee", "id", "joined", "name", "password_hash"]] * 2
        # response_model=List[MemberOut] (a covet.validation Model): only what it declares.
        assert c.get("/members/public").json() == [
            {"id": 1, "name": "ann", "notes": [{"id": 1, "member_id": 1, "text": "hello"}]},
            {"id": 2, "name": "bob", "notes": []}]


def test_a_model_as_a_body_parameter_is_validated_by_covet(app, client):
    with client(app) as c:
        r = c.post("/members/typed", json={"name": "x" * 21, "email": 5})
        assert r.status_code == 422 and r.json()["errors"] == [
            {"loc": ["body", "name"], "msg": "must be at most 20 characters long", "type": "maxLength"},
            {"loc": ["body", "email"], "msg": "must be of type string", "type": "type"}]
        r = c.post("/members/typed", json={"name": "ann", "email": "ann@x", "fee": "3", "unknown": 1,
                                           "joined": "2024-05-01T09:30:00+02:00"})
        assert r.status_code == 201
        assert r.json() == {"id": 1, "name": "ann", "email": "ann@x", "password_hash": None, "admin": False,
                            "fee": "3.00", "joined": "2024-05-01T07:30:00+00:00"}


def test_openapi_describes_a_model_from_its_columns(app, client):
    with client(app) as c:
        doc = c.get("/openapi.json").json()
    schema = doc["components"]["schemas"]["Member"]
    assert schema["description"] == "A member of the club."
    assert schema["required"] == ["name", "email"]
    assert schema["properties"]["name"] == {"type": "string", "maxLength": 20}
    assert schema["properties"]["admin"] == {"type": "boolean", "default": False}
    assert schema["properties"]["joined"] == {"type": "string", "format": "date-time"}
