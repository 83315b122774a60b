"""The ORM without a database: class construction, instances and their checks, SQL expressions,
query SQL, relationships worked out from foreign keys, and the DDL for SQLite and PostgreSQL."""
import datetime
import json
import types

import pytest

from covet.core.errors import RequestValidationError
from covet.database.errors import InvalidIdentifier
from covet.database.orm import (JSON, Boolean, Column, DateTime, ForeignKey, Integer, LargeBinary, Model, Numeric,
                                NotLoadedError, ORMError, Registry, String, Text, and_, create_table_sql, drop_table_sql,
                                func, load, models_of, not_, or_, relationship, sort_models)
from covet.database.orm.expressions import Compiler

UTC = datetime.timezone.utc


class Base(Model):
    __abstract__ = True
    registry = Registry()  # its models stay out of Model.registry


class Stamped:
    """A plain mixin: its columns are copied into each model."""
    created_at = Column(DateTime, default=func.now(), nullable=False)


class User(Base, Stamped):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    email = Column(String(255), unique=True)
    active = Column(Boolean, default=True, nullable=False)
    posts = relationship("Post", order_by="-id")


class Post(Base, Stamped):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    author_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    title = Column(String(200), nullable=False)
    tags = Column(JSON, default=list)
    author = relationship("User")


def fake_db(dialect="sqlite"):
    async def never(*args):
        raise AssertionError("no query may run")
    return types.SimpleNamespace(dialect=types.SimpleNamespace(name=dialect, supports_returning=True),
                                 fetch_all=never, fetch_val=never, execute=never)


def sql(element, dialect="sqlite"):
    compiler = Compiler(dialect)
    return compiler.render(element), compiler.params


def errors_of(fn):
    with pytest.raises(RequestValidationError) as info:
        fn()
    assert info.value.status_code == 422
    return info.value.errors


# -- class construction ----------------------------------------------------------------------

def test_a_model_class_gets_its_table_columns_and_registry_entry():
    table = User.__table__
    assert table.name == "users" and table.quoted == '"users"'
    assert [c.key for c in table.columns] == ["created_at", "id", "name", "email", "active"]
    assert [c.key for c in table.primary_key] == ["id"] and table.autoincrement is User.id
    assert list(table.relationships) == ["posts"]
    assert Base.registry.models == [User, Post] and Base.registry.parent is None
    assert User not in Model.registry.models  # Base has a registry of its own
    assert User.__covet_model__ is True and Base.__covet_model__ is False and Model.__covet_model__ is False


def test_registries_chain_up_to_the_root_and_resolve_names_nearest_first():
    class Root(Model):
        __abstract__ = True
        registry = Registry()

    class Left(Root):
        __abstract__ = True

    class Right(Root):
        __abstract__ = True

    class Thing(Left):
        __tablename__ = "left_things"
        id = Column(Integer, primary_key=True)

    class Thing2(Right):
        __tablename__ = "right_things"
        id = Column(Integer, primary_key=True)

    Thing2.__name__ = "Thing"  # two models called Thing under Root, one on each side
    assert Left.registry.parent is Root.registry and Right.registry.parent is Root.registry
    assert (Left.registry.models, Right.registry.models, Root.registry.models) == ([Thing], [Thing2], [Thing, Thing2])
    assert Left.registry.resolve("Thing") is Thing and Right.registry.resolve("Thing") is Thing2
    assert Left.registry.resolve("right_things") is Thing2  # found in the parent
    with pytest.raises(ORMError, match="2 models are called 'Thing'"):
        Root.registry.resolve("Thing")
    assert models_of(Left) == [Thing] and models_of(Root.registry) == [Thing, Thing2]
    # A base without a registry of its own is recorded in Model's (every model of the program).
    assert Model.registry.parent is None and Left.registry.name == "Left"


def test_inherited_columns_are_copied_per_model():
    assert User.created_at is not Post.created_at
    assert (User.created_at.model, Post.created_at.model) == (User, Post)
    assert Stamped.created_at.model is None  # the mixin's own stays unbound
    assert sql(User.created_at == "2024-01-01T00:00:00Z")[0] == '"users"."created_at" = ?'
    assert sql(Post.created_at == "2024-01-01T00:00:00Z")[0] == '"posts"."created_at" = ?'


def test_class_definition_errors():
    with pytest.raises(TypeError, match='Nameless needs __tablename__ = "..."'):
        class Nameless(Base):
            id = Column(Integer, primary_key=True)
    with pytest.raises(TypeError, match="Keyless has no primary key"):
        class Keyless(Base):
            __tablename__ = "keyless"
            name = Column(String(10))
    with pytest.raises(TypeError, match="'query' is not a column name a model can use"):
        class Clash(Base):
            __tablename__ = "clash"
            id = Column(Integer, primary_key=True)
            query = Column(String(10))
    with pytest.raises(TypeError, match="Child subclasses the model User"):
        class Child(User):
            __tablename__ = "children"
    with pytest.raises(TypeError, match="Half is abstract: it has no table"):
        class Half(Base):
            __abstract__ = True
            __tablename__ = "half"
    with pytest.raises(TypeError, match="a primary key column cannot be nullable"):
        Column(Integer, primary_key=True, nullable=True)
    with pytest.raises(TypeError, match="Column\\(\\) needs a type"):
        Column()
    with pytest.raises(TypeError, match="is not a column type"):
        Column(int)
    with pytest.raises(TypeError, match="at most one ForeignKey"):
        Column(Integer, ForeignKey("a.id"), ForeignKey("b.id"))
    with pytest.raises(TypeError, match="autoincrement=True is for an Integer primary key"):
        Column(String(5), primary_key=True, autoincrement=True)
    with pytest.raises(TypeError, match="abstract: only models with a __tablename__ have instances"):
        Base()


def test_names_that_are_not_identifiers_are_refused_at_definition():
    with pytest.raises(InvalidIdentifier, match="is not a valid SQL name"):
        class Evil(Base):
            __tablename__ = 'users"; DROP TABLE users; --'
            id = Column(Integer, primary_key=True)
    with pytest.raises(InvalidIdentifier):
        Column("na me", String(10))
    with pytest.raises(InvalidIdentifier):
        ForeignKey("users.id) ON DELETE CASCADE; --")
    assert [m.__tablename__ for m in Base.registry.models] == ["users", "posts"]


def test_foreign_key_and_default_arguments_are_checked():
    with pytest.raises(ValueError, match="name the column too"):
        ForeignKey("users")
    with pytest.raises(ValueError, match="ondelete='CASCADE; DROP TABLE x': use one of CASCADE, NO ACTION"):
        ForeignKey("users.id", ondelete="CASCADE; DROP TABLE x")
    assert ForeignKey("users.id", ondelete="set  null").ondelete == "SET NULL"
    with pytest.raises(TypeError, match="default='x' must be of type integer"):
        Column(Integer, default="x")
    with pytest.raises(TypeError, match="default='xxx' must be at most 2 characters long"):
        Column(String(2), default="xxx")
    with pytest.raises(TypeError, match="only func.now\\(\\) is a default"):
        Column(String(10), default=func.lower("A"))


def test_composite_primary_key_has_no_autoincrement():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Membership(Own):
        __tablename__ = "memberships"
        user_id = Column(Integer, ForeignKey("users.id"), primary_key=True)
        group = Column(String(20), primary_key=True)

    assert Membership.__table__.autoincrement is None
    assert create_table_sql([Membership], "sqlite") == [
        'CREATE TABLE IF NOT EXISTS "memberships" (\n'
        '    "user_id" INTEGER NOT NULL REFERENCES "users" ("id"),\n'
        '    "group" VARCHAR(20) NOT NULL,\n'
        '    PRIMARY KEY ("user_id", "group")\n)']
    with pytest.raises(RequestValidationError):
        Membership(user_id=1)


# -- instances ----------------------------------------------------------------------------------

def test_an_instance_takes_checked_values_and_defaults():
    before = datetime.datetime.now(UTC)
    user = User(name="Ada", email="ada@example.com")
    assert (user.id, user.name, user.email, user.active) == (None, "Ada", "ada@example.com", True)
    assert user.created_at.tzinfo is UTC and before <= user.created_at <= datetime.datetime.now(UTC)
    post = Post(title="t", author_id=1)
    assert post.tags == [] and Post(title="u", author_id=1).tags is not post.tags  # never shared
    assert repr(User(name="B", created_at="2024-01-01T00:00:00Z")) == (
        "User(created_at=datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), id=None, name='B', "
        "email=None, active=True)")


def test_every_problem_of_an_instance_is_reported_at_once():
    assert errors_of(lambda: User(name="x" * 101, email=5, active="yes", admin=True, created_at=None)) == [
        {"loc": ["body", "created_at"], "msg": "must be of type string", "type": "type"},
        {"loc": ["body", "name"], "msg": "must be at most 100 characters long", "type": "maxLength"},
        {"loc": ["body", "email"], "msg": "must be of type string", "type": "type"},
        {"loc": ["body", "active"], "msg": "must be of type boolean", "type": "type"},
        {"loc": ["body", "admin"], "msg": "additional property not allowed", "type": "additionalProperties"},
    ]
    assert errors_of(lambda: User()) == [{"loc": ["body", "name"], "msg": "field required", "type": "required"}]
    assert errors_of(lambda: Post(title="t")) == [
        {"loc": ["body", "author_id"], "msg": "field required", "type": "required"}]


def test_assignments_are_checked_too():
    user = User(name="Ada")
    user.name = "Grace"
    assert user.name == "Grace"
    assert errors_of(lambda: setattr(user, "name", None)) == [
        {"loc": ["body", "name"], "msg": "must be of type string", "type": "type"}]
    assert errors_of(lambda: setattr(user, "active", 1)) == [
        {"loc": ["body", "active"], "msg": "must be of type boolean", "type": "type"}]
    assert user.name == "Grace" and user.active is True
    user.created_at = "2024-01-01T02:00:00+02:00"
    assert user.created_at == datetime.datetime(2024, 1, 1, tzinfo=UTC)


def test_to_dict_is_json_and_includes_loaded_relationships_only():
    user = User(name="Ada", created_at="2024-01-01T00:00:00Z")
    assert user.to_dict() == {"created_at": "2024-01-01T00:00:00+00:00", "id": None, "name": "Ada",
                              "email": None, "active": True}
    post = Post(title="t", author=user, created_at="2024-01-02T00:00:00Z", tags=["a"])
    out = post.to_dict()
    assert out["author"] == user.to_dict() and out["tags"] == ["a"]
    json.dumps(out)


def test_an_unloaded_relationship_names_the_load_option():
    user = User(name="Ada")
    with pytest.raises(NotLoadedError) as info:
        user.posts
    assert str(info.value) == ('User.posts was not loaded: add .options(load("posts")) to the query that fetched '
                               'this User (covet never loads a relationship behind your back)')


def test_many_to_one_assignment_sets_the_key_and_a_key_change_forgets_the_object():
    user = User(name="Ada", id=7)
    post = Post(title="t", author=user)
    assert post.author_id == 7 and post.author is user
    post.author_id = 8
    with pytest.raises(NotLoadedError):
        post.author
    with pytest.raises(TypeError, match="Post.author takes a User or None"):
        post.author = post
    with pytest.raises(TypeError, match="User.posts is the list of Post pointing here"):
        user.posts = [post]


def test_models_are_record_types_for_covet_validation():
    from covet.validation import schema_for
    schema = schema_for(Post)
    assert schema["title"] == "Post" and schema["required"] == ["author_id", "title"]
    assert schema["properties"]["title"] == {"type": "string", "maxLength": 200}
    assert schema["properties"]["id"] == {"anyOf": [{"type": "integer", "minimum": -2147483648,
                                                     "maximum": 2147483647}, {"type": "null"}], "default": None}
    assert schema["properties"]["created_at"] == {"type": "string", "format": "date-time"}
    assert schema["properties"]["tags"] == {}  # any JSON value


# -- expressions ----------------------------------------------------------------------------------

def test_comparisons_become_sql_with_parameters():
    t = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    assert sql(User.email == "a@b") == ('"users"."email" = ?', ["a@b"])
    assert sql(User.id != 3) == ('"users"."id" <> ?', [3])
    assert sql(User.id < 3) == ('"users"."id" < ?', [3])
    assert sql(User.id <= 3) == ('"users"."id" <= ?', [3])
    assert sql(User.id > 3) == ('"users"."id" > ?', [3])
    assert sql(User.id >= 3) == ('"users"."id" >= ?', [3])
    assert sql(User.created_at >= t) == ('"users"."created_at" >= ?', ["2024-01-01T00:00:00.000000+00:00"])
    assert sql(User.created_at >= t, "postgresql") == ('"users"."created_at" >= ?', [t])
    assert sql(User.active == True) == ('"users"."active" = ?', [1])  # noqa: E712
    assert sql(User.email == None) == ('"users"."email" IS NULL', [])  # noqa: E711
    assert sql(User.email != None) == ('"users"."email" IS NOT NULL', [])  # noqa: E711
    assert sql(User.email.is_(None)) == ('"users"."email" IS NULL', [])
    assert sql(User.email.is_not(None)) == ('"users"."email" IS NOT NULL', [])
    assert sql(User.id.in_([1, 2, 3])) == ('"users"."id" IN (?, ?, ?)', [1, 2, 3])
    assert sql(User.id.not_in((1,))) == ('"users"."id" NOT IN (?)', [1])
    assert sql(User.id.in_([])) == ("1 = 0", []) and sql(User.id.not_in([])) == ("1 = 1", [])
    assert sql(User.name.like("A%")) == ('"users"."name" LIKE ?', ["A%"])
    assert sql(User.name.like("100!%", escape="!")) == ('"users"."name" LIKE ? ESCAPE ?', ["100!%", "!"])
    assert sql(User.name.not_like("A%")) == ('"users"."name" NOT LIKE ?', ["A%"])
    assert sql(User.name.ilike("a%")) == ('"users"."name" LIKE ?', ["a%"])
    assert sql(User.name.ilike("a%"), "postgresql") == ('"users"."name" ILIKE ?', ["a%"])
    assert sql(User.id.between(1, 5)) == ('"users"."id" BETWEEN ? AND ?', [1, 5])
    assert sql(User.id.desc()) == ('"users"."id" DESC', []) and sql(User.id.asc()) == ('"users"."id" ASC', [])
    assert sql(Post.author_id == User.id) == ('"posts"."author_id" = "users"."id"', [])


def test_conditions_combine_with_operators_and_functions():
    cond = (User.email == "a") | (User.name.like("A%") & (User.id > 1))
    assert sql(cond) == ('("users"."email" = ? OR ("users"."name" LIKE ? AND "users"."id" > ?))', ["a", "A%", 1])
    assert sql(and_(User.id > 1, User.id < 5, and_(User.active == True))) == (  # noqa: E712
        '("users"."id" > ? AND "users"."id" < ? AND "users"."active" = ?)', [1, 5, 1])
    assert sql(or_(User.id == 1)) == ('"users"."id" = ?', [1])
    assert sql(~(User.id == 1)) == ('NOT ("users"."id" = ?)', [1])
    assert sql(not_(User.id == 1)) == ('NOT ("users"."id" = ?)', [1])
    assert sql(func.lower(User.name) == "ada") == ('lower("users"."name") = ?', ["ada"])
    assert sql(func.coalesce(User.email, "none") == "none") == ('coalesce("users"."email", ?) = ?', ["none", "none"])


def test_func_now_is_a_parameter_in_the_columns_stored_form():
    before = DateTimeText.now()
    text, params = sql(User.created_at < func.now())
    assert text == '"users"."created_at" < ?'
    assert before <= params[0] <= DateTimeText.now() and len(params[0]) == 32
    assert sql(func.now() > User.created_at)[0] == '? > "users"."created_at"'
    assert isinstance(sql(func.now(), "postgresql")[1][0], datetime.datetime)


class DateTimeText:
    @staticmethod
    def now():
        return DateTime().to_db(datetime.datetime.now(UTC), "sqlite")


def test_expressions_refuse_python_truth_and_wrong_values():
    with pytest.raises(TypeError, match="has no truth value: combine conditions with & and |"):
        bool(User.id == 1)
    with pytest.raises(TypeError, match="has no truth value"):
        (User.id == 1) and (User.id == 2)
    with pytest.raises(TypeError, match="User.id is compared with 'abc', which must be of type integer"):
        sql(User.id == "abc")
    with pytest.raises(TypeError, match="in_\\(\\) takes a list of values"):
        User.id.in_("123")
    with pytest.raises(TypeError, match="a LIKE pattern must be a string"):
        User.name.like(5)
    with pytest.raises(TypeError, match=".is_\\(\\) takes None only"):
        User.name.is_("x")
    with pytest.raises(TypeError, match="expected an SQL condition"):
        and_(User.id == 1, "1=1")
    with pytest.raises(TypeError, match="needs at least one condition"):
        or_()
    with pytest.raises(AttributeError, match="is not an SQL function name"):
        getattr(func, "lower(x); DROP")
    assert {User.id: 1}[User.id] == 1  # columns stay hashable


# -- queries -------------------------------------------------------------------------------------

def test_query_sql():
    db = fake_db()
    q = User.query(db).filter(User.active == True, User.name.like("A%")).order_by(User.id.desc()).limit(10)  # noqa
    assert q.to_sql() == (
        'SELECT "created_at", "id", "name", "email", "active" FROM "users" WHERE ("users"."active" = ? AND '
        '"users"."name" LIKE ?) ORDER BY "users"."id" DESC LIMIT ?', [1, "A%", 10])
    assert User.query(db).offset(5).to_sql()[0].endswith(' FROM "users" LIMIT -1 OFFSET ?')
    assert User.query(fake_db("postgresql")).offset(5).to_sql()[0].endswith(' FROM "users" OFFSET ?')
    assert User.query(db).limit(2).offset(4).to_sql()[1] == [2, 4]
    assert User.query(db).order_by("-name", "id", User.email).to_sql()[0].endswith(
        'ORDER BY "users"."name" DESC, "users"."id" ASC, "users"."email" ASC')
    assert User.query(db).order_by("name").order_by().to_sql()[0].endswith('FROM "users"')
    assert User.query(db).filter_by(name="a", active=False).to_sql()[1] == ["a", 0]
    base = User.query(db).filter(User.id > 1)
    base.filter(User.id < 5)
    assert base.to_sql()[1] == [1]  # queries are immutable


def test_query_refuses_names_and_values_that_are_not_its_own():
    db = fake_db()
    with pytest.raises(InvalidIdentifier):
        User.query(db).order_by('name" --')
    with pytest.raises(InvalidIdentifier):
        User.query(db).order_by("name; DROP TABLE users")
    with pytest.raises(ValueError, match="order_by\\(\\): User has no column 'password'"):
        User.query(db).order_by("password")
    with pytest.raises(InvalidIdentifier):
        User.query(db).filter_by(**{"id = 1 OR 1": 1})
    with pytest.raises(TypeError, match="filter\\(\\) takes conditions"):
        User.query(db).filter("id = 1")
    with pytest.raises(TypeError, match="filter\\(\\) takes conditions"):
        User.query(db).filter(User.active)
    for bad in (-1, True, "10", 1.5):
        with pytest.raises(TypeError, match="limit\\(\\) takes a non-negative integer"):
            User.query(db).limit(bad)
    with pytest.raises(TypeError, match="query\\(\\) takes a DatabaseManager, a Session or a Connection"):
        User.query("sqlite:///x.db")
    with pytest.raises(ValueError, match="User has no relationship 'comments' \\(it has: posts\\)"):
        User.query(db).options(load("comments"))
    with pytest.raises(ValueError, match="Post has no relationship 'x'"):
        User.query(db).options(load("posts.x"))
    with pytest.raises(TypeError, match="load\\(\\) takes a relationship name"):
        load("posts..x")
    with pytest.raises(ValueError, match="the ORM writes SQL for sqlite and postgresql, not for 'mysql'"):
        User.query(fake_db("mysql")).to_sql()
    assert repr(load(User.posts)) == "load('posts')"


# -- relationships worked out from foreign keys ----------------------------------------------------------

def test_relationship_directions():
    many = User.__table__.relationships["posts"].resolve()
    assert (many.target, many.many, many.local, many.remote) == (Post, True, Post.author_id, User.id)
    one = Post.__table__.relationships["author"].resolve()
    assert (one.target, one.many, one.local, one.remote) == (User, False, Post.author_id, User.id)


def test_relationships_that_cannot_be_worked_out():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Person(Own):
        __tablename__ = "people"
        id = Column(Integer, primary_key=True)
        boss_id = Column(Integer, ForeignKey("people.id"))
        boss = relationship("Person", foreign_key="boss_id", many=False)
        reports = relationship("Person", foreign_key="boss_id", many=True)
        oops = relationship("Person")
        nothing = relationship("Letter")

    class Letter(Own):
        __tablename__ = "letters"
        id = Column(Integer, primary_key=True)
        sender_id = Column(Integer, ForeignKey("people.id"))
        receiver_id = Column(Integer, ForeignKey("people.id"))
        sender = relationship("Person")
        receiver = relationship("Person", foreign_key="receiver_id")
        ghost = relationship("Ghost")

    rels = Person.__table__.relationships
    assert (rels["boss"].resolve().many, rels["reports"].resolve().many) == (False, True)
    with pytest.raises(ORMError, match="Person.oops: Person refers to itself; say many=False"):
        rels["oops"].resolve()
    with pytest.raises(ORMError, match="Person.nothing: several foreign keys join people and letters"):
        rels["nothing"].resolve()
    with pytest.raises(ORMError, match="Letter.sender: several foreign keys join letters and people .*foreign_key="):
        Letter.__table__.relationships["sender"].resolve()
    assert Letter.__table__.relationships["receiver"].resolve().local is Letter.receiver_id
    with pytest.raises(ORMError, match="no model is called 'Ghost'"):
        Letter.__table__.relationships["ghost"].resolve()


# -- DDL ----------------------------------------------------------------------------------------------

def test_create_table_sql_for_sqlite():
    assert create_table_sql(Base, "sqlite") == [
        'CREATE TABLE IF NOT EXISTS "users" (\n'
        '    "created_at" TEXT NOT NULL,\n'
        '    "id" INTEGER PRIMARY KEY,\n'
        '    "name" VARCHAR(100) NOT NULL,\n'
        '    "email" VARCHAR(255) UNIQUE,\n'
        '    "active" BOOLEAN NOT NULL\n)',
        'CREATE TABLE IF NOT EXISTS "posts" (\n'
        '    "created_at" TEXT NOT NULL,\n'
        '    "id" INTEGER PRIMARY KEY,\n'
        '    "author_id" INTEGER NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,\n'
        '    "title" VARCHAR(200) NOT NULL,\n'
        '    "tags" TEXT\n)',
        'CREATE INDEX IF NOT EXISTS "ix_posts_author_id" ON "posts" ("author_id")',
    ]
    assert drop_table_sql(Base, "sqlite") == ['DROP TABLE IF EXISTS "posts"', 'DROP TABLE IF EXISTS "users"']
    assert create_table_sql(User, "sqlite", if_not_exists=False)[0].startswith('CREATE TABLE "users" (')


def test_create_table_sql_for_postgresql():
    ddl = create_table_sql([Post, User], types.SimpleNamespace(dialect=types.SimpleNamespace(name="postgresql")))
    assert ddl[0] == (
        'CREATE TABLE IF NOT EXISTS "users" (\n'
        '    "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,\n'
        '    "id" INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n'
        '    "name" VARCHAR(100) NOT NULL,\n'
        '    "email" VARCHAR(255) UNIQUE,\n'
        '    "active" BOOLEAN NOT NULL\n)')
    assert '"tags" JSONB' in ddl[1]


def test_tables_come_after_the_tables_they_refer_to():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Comment(Own):
        __tablename__ = "comments"
        id = Column(Integer, primary_key=True)
        article_id = Column(Integer, ForeignKey("articles.id"))
        parent_id = Column(Integer, ForeignKey("comments.id"))  # itself: no ordering constraint

    class Article(Own):
        __tablename__ = "articles"
        id = Column(Integer, primary_key=True)
        owner_id = Column(Integer, ForeignKey("owners.id"))

    class Owner(Own):
        __tablename__ = "owners"
        id = Column(Integer, primary_key=True)
        external_id = Column(Integer, ForeignKey("elsewhere.id"))  # a table outside the set

    assert sort_models(Own) == [Owner, Article, Comment]
    assert [s.split('"')[1] for s in drop_table_sql(Own, "sqlite")] == ["comments", "articles", "owners"]


def test_foreign_key_cycles_and_duplicate_tables_are_refused():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class A(Own):
        __tablename__ = "a"
        id = Column(Integer, primary_key=True)
        b_id = Column(Integer, ForeignKey("b.id"))

    class B(Own):
        __tablename__ = "b"
        id = Column(Integer, primary_key=True)
        a_id = Column(Integer, ForeignKey("a.id"))

    with pytest.raises(ORMError, match="the foreign keys of a, b form a cycle"):
        create_table_sql(Own, "sqlite")

    class Other(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class A2(Other):
        __tablename__ = "a"
        id = Column(Integer, primary_key=True)

    with pytest.raises(ORMError, match="both map to the table 'a'"):
        models_of([A, A2])
    with pytest.raises(TypeError, match="expected models"):
        models_of("users")
    with pytest.raises(TypeError, match="expected models"):
        models_of(int)


def test_long_index_names_are_cut_to_63_characters_and_stay_distinct():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Long(Own):
        __tablename__ = "t" * 40
        id = Column(Integer, primary_key=True)
        first_column_with_a_long_name = Column(Integer, index=True)
        first_column_with_a_long_name_2 = Column(Integer, index=True)

    ddl = create_table_sql(Long, "sqlite")
    names = [s.split('"')[1] for s in ddl[1:]]
    assert [len(n) for n in names] == [63, 63] and names[0] != names[1]
    assert names[0].startswith("ix_" + "t" * 40 + "_first_col")


def test_schema_qualified_tables_and_their_indexes():
    class Own(Model):
        __abstract__ = True
        registry = Registry()  # its models stay out of Model.registry

    class Audit(Own):
        __tablename__ = "main.audit"
        id = Column(Integer, primary_key=True)
        at = Column(DateTime, index=True)
        blob = Column(LargeBinary)
        amount = Column(Numeric(12, 4))
        note = Column(Text)

    assert create_table_sql(Audit, "sqlite")[1] == \
        'CREATE INDEX IF NOT EXISTS "main"."ix_audit_at" ON "audit" ("at")'
    assert create_table_sql(Audit, "postgresql")[1] == \
        'CREATE INDEX IF NOT EXISTS "ix_audit_at" ON "main"."audit" ("at")'
    assert '"amount" NUMERIC(12, 4)' in create_table_sql(Audit, "postgresql")[0]
