"""The query builder: the exact SQL and parameters it builds (no database needed), its refusals of
names that are not names and of counts that are not counts, and the same statements run against
real SQLite files.

The injection strings are the classic ones (OWASP SQL Injection Prevention Cheat Sheet, "Defense
Option 3: Allow-list Input Validation" for names such as a sort column): every one must be refused
before any SQL is built, never escaped into it.
"""
import asyncio
from types import SimpleNamespace

import pytest
from db_backends import on_postgres

from covet import Covet, Depends, TestClient
from covet.database import DatabaseManager
from covet.database.errors import (
    IntegrityError, InterfaceError, InvalidIdentifier, NotSupportedError, ProgrammingError,
)
from covet.database.query_builder import (
    MAX_ROW_COUNT, DeleteQuery, Fragment, InsertQuery, QueryBuilder, SelectQuery, UpdateQuery, and_, in_, not_, or_,
    raw,
)

qb = QueryBuilder()


def postgres_builder():
    return QueryBuilder(SimpleNamespace(dialect=SimpleNamespace(name="postgresql", supports_returning=True)))


# -- select ---------------------------------------------------------------------------------------

def test_the_seed_example_builds_one_qmark_statement():
    q = qb.select("users").where("name ILIKE %s", "%ada%")
    assert isinstance(q, SelectQuery)
    assert q.sql == 'SELECT * FROM "users" WHERE name ILIKE ?'
    assert q.params == ("%ada%",)


def test_columns_names_star_table_star_aliases_and_raw_expressions():
    q = qb.select("users", ["id", "users.name", "orders.*", ("email", "contact"), raw("count(*)"),
                            (raw("coalesce(nick, ?)", "anon"), "shown")])
    assert q.sql == ('SELECT "id", "users"."name", "orders".*, "email" AS "contact", count(*), '
                     'coalesce(nick, ?) AS "shown" FROM "users"')
    assert q.params == ("anon",)


def test_one_column_may_be_given_as_a_string():
    assert qb.select("users", "name").sql == 'SELECT "name" FROM "users"'
    assert qb.select("main.users").sql == 'SELECT * FROM "main"."users"'
    assert qb.select(("users", "u"), "u.id").sql == 'SELECT "u"."id" FROM "users" AS "u"'


@pytest.mark.parametrize("column", ["count(*)", "name AS n", "id, password", "*, 1", "users.*.x", "lower(name)"])
def test_an_expression_not_wrapped_in_raw_is_refused(column):
    with pytest.raises(InvalidIdentifier):
        qb.select("users", [column])


def test_no_columns_is_refused():
    with pytest.raises(ValueError, match=r"^select at least one column \(the default is \*\)$"):
        qb.select("users", [])


def test_one_where_is_bare_and_several_are_anded_each_in_parentheses():
    one = qb.select("users").where("age >= ?", 18)
    assert one.sql == 'SELECT * FROM "users" WHERE age >= ?'
    two = one.where("role = ? OR role = ?", "a", "b")
    assert two.sql == 'SELECT * FROM "users" WHERE (age >= ?) AND (role = ? OR role = ?)'
    assert two.params == (18, "a", "b")


def test_the_parameters_follow_the_order_of_their_placeholders_in_the_statement():
    q = (qb.select("users", [raw("? AS tag", "t")])
         .where("active = ?", 1)
         .join("orders", '"orders"."user_id" = "users"."id" AND "orders"."total" > ?', 10)
         .group_by("users.id")
         .having("count(*) > ?", 2)
         .order_by(raw("abs(score - ?)", 5))
         .limit(10).offset(20))
    assert q.sql == ('SELECT ? AS tag FROM "users" JOIN "orders" ON "orders"."user_id" = "users"."id" AND '
                     '"orders"."total" > ? WHERE active = ? GROUP BY "users"."id" HAVING count(*) > ? '
                     'ORDER BY abs(score - ?) LIMIT ? OFFSET ?')
    assert q.params == ("t", 10, 1, 2, 5, 10, 20)


def test_left_join_with_alias_and_distinct():
    q = qb.select(("users", "u"), ["u.name"]).distinct().left_join(("orders", "o"), '"o"."user_id" = "u"."id"')
    joined = ' FROM "users" AS "u" LEFT JOIN "orders" AS "o" ON "o"."user_id" = "u"."id"'
    assert q.sql == 'SELECT DISTINCT "u"."name"' + joined
    assert q.distinct(False).sql == 'SELECT "u"."name"' + joined


def test_group_by_and_having_replace_and_accumulate():
    q = qb.select("orders", ["user_id", raw("sum(total) AS spent")]).group_by("user_id").having("sum(total) > ?", 100)
    assert q.sql == 'SELECT "user_id", sum(total) AS spent FROM "orders" GROUP BY "user_id" HAVING sum(total) > ?'
    q = q.group_by("user_id", raw("date(created)")).having("count(*) > ?", 1)
    assert q.sql == ('SELECT "user_id", sum(total) AS spent FROM "orders" GROUP BY "user_id", date(created) '
                     'HAVING (sum(total) > ?) AND (count(*) > ?)')
    assert q.params == (100, 1)
    assert q.group_by().sql == ('SELECT "user_id", sum(total) AS spent FROM "orders" '
                                'HAVING (sum(total) > ?) AND (count(*) > ?)')


# -- order_by, limit, offset ------------------------------------------------------------------------

def test_order_by_accepts_name_minus_name_a_direction_pair_and_raw():
    q = qb.select("users").order_by("name", "-id", ("email", "DESC"), ("age", "asc"), raw("random()"))
    assert q.sql == 'SELECT * FROM "users" ORDER BY "name", "id" DESC, "email" DESC, "age", random()'


def test_order_by_replaces_the_earlier_order_and_no_terms_remove_it():
    base = qb.select("users").order_by("-created")
    assert base.order_by("name").sql == 'SELECT * FROM "users" ORDER BY "name"'
    assert base.order_by().sql == 'SELECT * FROM "users"'


@pytest.mark.parametrize("term", [
    "name; DROP TABLE users", 'name" --', "1=1", "name DESC", "", "-", "--name", "name -- x", "users.name.x",
    "(select 1)", "name\x00", "a" * 64, 5, None, ("name",), ("name", "sideways"), ("name", "desc; DROP TABLE users"),
    ("name; --", "asc"), ("name", None),
])
def test_order_by_refuses_anything_but_a_name_or_a_direction_pair(term):
    with pytest.raises(InvalidIdentifier):
        qb.select("users").order_by(term)


def test_the_refusal_names_the_rule():
    with pytest.raises(InvalidIdentifier) as info:
        qb.select("users").order_by("name; DROP TABLE users")
    assert str(info.value) == ("'name; DROP TABLE users' is not a valid SQL name: use letters, digits, _ and $ "
                               "(not first), at most 63 characters")
    with pytest.raises(InvalidIdentifier) as info:
        qb.select("users").order_by(("name", "sideways"))
    assert str(info.value) == "an order is (column, 'asc' or 'desc'), not ('name', 'sideways')"
    assert isinstance(info.value, ValueError)  # a request handler may catch ValueError for a 400


def test_limit_and_offset_are_parameters():
    q = qb.select("users").limit(10).offset(30)
    assert q.sql == 'SELECT * FROM "users" LIMIT ? OFFSET ?'
    assert q.params == (10, 30)
    assert q.limit(None).offset(None).sql == 'SELECT * FROM "users"'
    assert qb.select("users").limit(0).params == (0,)
    assert qb.select("users").limit(MAX_ROW_COUNT).params == (2 ** 63 - 1,)


def test_offset_alone_on_sqlite_takes_a_negative_limit_and_on_postgresql_stands_alone():
    assert qb.select("users").offset(5).sql == 'SELECT * FROM "users" LIMIT -1 OFFSET ?'
    assert postgres_builder().select("users").offset(5).sql == 'SELECT * FROM "users" OFFSET ?'


@pytest.mark.parametrize("value", [-1, "10", "1; DROP TABLE users", 1.5, 10.0, True, False, 2 ** 63, [1], b"1"])
@pytest.mark.parametrize("method", ["limit", "offset"])
def test_limit_and_offset_refuse_anything_but_a_non_negative_int(method, value):
    with pytest.raises(ValueError) as info:
        getattr(qb.select("users"), method)(value)
    assert str(info.value) == "%s must be an int from 0 to %d, not %r" % (method, 2 ** 63 - 1, value)


# -- names -------------------------------------------------------------------------------------------

def test_group_by_takes_names_and_expressions_only():
    for term in ["*", "users.*", ("id", "x")]:
        with pytest.raises(InvalidIdentifier):
            qb.select("users").group_by(term)


INJECTIONS = ["users; DROP TABLE users", 'users" --', "1=1", "users u", "users--", "", 'x"."y', "a.b.c", 7]


@pytest.mark.parametrize("name", INJECTIONS)
def test_every_name_position_refuses_an_injection(name):
    attempts = [
        lambda: qb.select(name),
        lambda: qb.select("users", [name]),
        lambda: qb.select("users", [("id", name)]),
        lambda: qb.select(("users", name)),
        lambda: qb.select("users").join(name, "1 = 1"),
        lambda: qb.select("users").group_by(name),
        lambda: qb.select("users").group_by("id", name),
        lambda: in_(name, [1]),
        lambda: qb.insert(name, {"a": 1}),
        lambda: qb.insert("users", {name: 1}),
        lambda: qb.insert("users", [{name: 1}]),
        lambda: qb.update(name, {"a": 1}),
        lambda: qb.update("users", {name: 1}),
        lambda: qb.delete(name),
        lambda: qb.insert("users", {"a": 1}).returning(name),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidIdentifier):
            attempt()


def test_an_alias_is_one_name_and_an_alias_pair_has_two_parts():
    with pytest.raises(InvalidIdentifier, match=r"^'a\.b' is not a valid alias"):
        qb.select(("users", "a.b"))
    with pytest.raises(InvalidIdentifier, match=r"^a column with an alias is \(column, alias\), not \('a', 'b', 'c'\)"):
        qb.select("users", [("a", "b", "c")])
    with pytest.raises(InvalidIdentifier, match=r"^a table with an alias is \(table, alias\), not \('users',\)$"):
        qb.select(("users",))


# -- conditions ----------------------------------------------------------------------------------------

def test_and_or_not_compose_with_parentheses_and_values_in_order():
    cond = and_(("age >= ?", 18), or_(("role = ?", "admin"), "is_owner"), not_(in_("status", ["banned", "gone"])))
    assert cond == Fragment('(age >= ?) AND ((role = ?) OR (is_owner)) AND (NOT ("status" IN (?, ?)))',
                            (18, "admin", "banned", "gone"))
    q = qb.select("users").where(cond)
    assert q.sql == ('SELECT * FROM "users" WHERE (age >= ?) AND ((role = ?) OR (is_owner)) AND '
                     '(NOT ("status" IN (?, ?)))')


def test_one_condition_is_itself_and_none_is_the_empty_conjunction_or_disjunction():
    assert and_(("a = ?", 1)) == Fragment("a = ?", (1,))
    assert or_("a") == Fragment("a")
    assert and_() == Fragment("1 = 1")
    assert or_() == Fragment("1 = 0")


def test_in_with_values_with_a_generator_and_with_a_subquery():
    assert in_("id", [3, 5]) == Fragment('"id" IN (?, ?)', (3, 5))
    assert in_("users.id", (i for i in range(3))) == Fragment('"users"."id" IN (?, ?, ?)', (0, 1, 2))
    assert in_(raw("lower(?)", "X"), {"x"}) == Fragment("lower(?) IN (?)", ("X", "x"))
    sub = qb.select("orders", ["user_id"]).where("total > ?", 100)
    assert in_("id", sub) == Fragment('"id" IN (SELECT "user_id" FROM "orders" WHERE total > ?)', (100,))


def test_in_with_an_empty_list_is_always_false():
    assert in_("id", []) == Fragment("1 = 0")
    assert qb.select("users").where(in_("id", ())).sql == 'SELECT * FROM "users" WHERE 1 = 0'


@pytest.mark.parametrize("values", ["abc", b"abc", {"a": 1}, 5, None])
def test_in_refuses_what_is_not_a_list_of_values(values):
    with pytest.raises(TypeError, match=r"^in_\(\) takes a list of values or a select, not "):
        in_("id", values)


def test_condition_arguments_are_checked():
    with pytest.raises(TypeError, match=r"^a Fragment holds its own values"):
        qb.select("users").where(raw("a = ?", 1), 2)
    with pytest.raises(TypeError, match=r"^a condition tuple is \(sql, \*values\)"):
        qb.select("users").where(("a = ?", 1), 2)
    with pytest.raises(TypeError, match=r"^a condition tuple is"):
        and_(())
    with pytest.raises(TypeError, match=r"^SQL text must be a str, not int$"):
        qb.select("users").where(5)


# -- placeholder styles -------------------------------------------------------------------------------

def test_every_placeholder_style_becomes_qmark_with_values_in_placeholder_order():
    q = (qb.select("users")
         .where("a = %s", 1)
         .where("b = $2 OR c = $1 OR d = $2", "one", "two")
         .where("e = :e AND f = :f", {"f": 6, "e": 5})
         .where("g = %(g)s", {"g": 7})
         .where("h LIKE 'x%%' AND i = %s", 8)
         .where("j = ? AND k::text = '?:x'", 9))
    assert q.sql == ('SELECT * FROM "users" WHERE (a = ?) AND (b = ? OR c = ? OR d = ?) AND (e = ? AND f = ?) AND '
                     "(g = ?) AND (h LIKE 'x%' AND i = ?) AND (j = ? AND k::text = '?:x')")
    assert q.params == (1, "two", "one", "two", 5, 6, 7, 8, 9)


def test_a_fragment_whose_values_do_not_fit_its_placeholders_is_refused_when_added():
    cases = [
        (("a = ?",), "'a = ?' has 1 placeholder(s) but 0 value(s) were given"),
        (("a = ?", 1, 2), "'a = ?' has 1 placeholder(s) but 2 value(s) were given"),
        (("a = 1", 1), "'a = 1' has 0 placeholder(s) but 1 value(s) were given"),
        (("a = :x", {"y": 1}), "no value given for the placeholder :x"),
        (("a = :x", 1), "this statement has named placeholders (:x): pass one mapping of values"),
        (("a = ? AND b = %s", 1, 2),
         "the statement mixes placeholder styles (qmark and format): use one of ?, %s, $1, :name"),
        (("a = $3", 1), "the statement uses $3 but 1 values were given"),
    ]
    for args, message in cases:
        with pytest.raises(ProgrammingError) as info:
            qb.select("users").where(*args)
        assert str(info.value) == message


# -- insert, update, delete -------------------------------------------------------------------------

def test_insert_one_row():
    q = qb.insert("users", {"name": "Ada", "email": "ada@example.com"})
    assert isinstance(q, InsertQuery)
    assert q.sql == 'INSERT INTO "users" ("name", "email") VALUES (?, ?)'
    assert q.params == ("Ada", "ada@example.com")


def test_insert_an_sql_expression_and_a_row_of_defaults():
    q = qb.insert("users", {"name": "Ada", "created": raw("datetime(?, 'unixepoch')", 0)})
    assert q.sql == 'INSERT INTO "users" ("name", "created") VALUES (?, datetime(?, \'unixepoch\'))'
    assert q.params == ("Ada", 0)
    assert qb.insert("users", {}).sql == 'INSERT INTO "users" DEFAULT VALUES'


def test_insert_a_batch_gives_one_statement_and_the_list_of_row_tuples():
    q = qb.insert("tags", [{"name": "a", "n": 1}, {"n": 2, "name": "b"}])
    assert q.sql == 'INSERT INTO "tags" ("name", "n") VALUES (?, ?)'
    assert q.params == [("a", 1), ("b", 2)]


def test_a_batch_needs_rows_with_the_same_columns():
    with pytest.raises(ValueError) as info:
        qb.insert("tags", [{"name": "a"}, {"name": "b", "extra": 1}])
    assert str(info.value) == ("row 1 of the batch has columns ['name', 'extra'], row 0 has ['name']: "
                               "every row needs the same columns")
    with pytest.raises(ValueError, match=r"^insert\(\) of an empty list: there is no row"):
        qb.insert("tags", [])
    with pytest.raises(TypeError, match=r"^each row of a batch insert must be a non-empty mapping, not \{\}$"):
        qb.insert("tags", [{}])
    with pytest.raises(TypeError, match=r"^insert\(\) takes a mapping or a list of mappings, not str$"):
        qb.insert("tags", "name")
    with pytest.raises(ValueError, match=r"^row 1 of the batch has columns 'x'"):
        qb.insert("tags", [{"name": "a"}, "x"])
    with pytest.raises(TypeError, match=r"^a batch insert takes values only"):
        qb.insert("tags", [{"name": raw("lower(?)", "A")}])


def test_update_sets_values_and_expressions_then_where():
    q = qb.update("posts", {"title": "T", "views": raw('"views" + ?', 1)}).where("id = ?", 7)
    assert isinstance(q, UpdateQuery)
    assert q.sql == 'UPDATE "posts" SET "title" = ?, "views" = "views" + ? WHERE id = ?'
    assert q.params == ("T", 1, 7)


def test_delete_with_where():
    q = qb.delete("sessions").where("expires < ?", 100).where(in_("user_id", [1, 2]))
    assert isinstance(q, DeleteQuery)
    assert q.sql == 'DELETE FROM "sessions" WHERE (expires < ?) AND ("user_id" IN (?, ?))'
    assert q.params == (100, 1, 2)


def test_update_and_delete_without_where_are_refused_unless_all_rows():
    for q, verb in [(qb.update("users", {"active": 0}), 'UPDATE "users"'), (qb.delete("users"), 'DELETE FROM "users"')]:
        with pytest.raises(ProgrammingError) as info:
            q.sql
        assert str(info.value) == "%s has no where(): add one, or call .all_rows() to change every row" % verb
        assert repr(q) == "<%s refused: %s>" % (type(q).__name__, info.value)
    assert qb.update("users", {"active": 0}).all_rows().sql == 'UPDATE "users" SET "active" = ?'
    assert qb.delete("users").all_rows().sql == 'DELETE FROM "users"'


def test_update_needs_a_mapping_with_a_column():
    with pytest.raises(ValueError, match=r"^update\(\) needs at least one column to set$"):
        qb.update("users", {})
    with pytest.raises(TypeError, match=r"^update\(\) takes a mapping of column to value, not list$"):
        qb.update("users", [("a", 1)])


def test_returning_on_each_changing_statement():
    assert (qb.insert("users", {"name": "a"}).returning("id", "name").sql
            == 'INSERT INTO "users" ("name") VALUES (?) RETURNING "id", "name"')
    assert (qb.update("users", {"name": "a"}).where("id = ?", 1).returning("*").sql
            == 'UPDATE "users" SET "name" = ? WHERE id = ? RETURNING *')
    assert (qb.delete("users").where("id = ?", 1).returning("id").sql
            == 'DELETE FROM "users" WHERE id = ? RETURNING "id"')


def test_returning_refusals():
    with pytest.raises(ValueError, match=r"^returning\(\) needs at least one column$"):
        qb.insert("users", {"name": "a"}).returning()
    with pytest.raises(ProgrammingError, match=r"^returning\(\) needs a single-row insert"):
        qb.insert("users", [{"name": "a"}]).returning("id")
    old = QueryBuilder(SimpleNamespace(dialect=SimpleNamespace(name="sqlite", supports_returning=False)))
    with pytest.raises(NotSupportedError, match=r"^RETURNING is not supported by this database \(SQLite before 3\.35\)"):
        old.delete("users").where("id = 1").returning("id")


# -- immutability and caching --------------------------------------------------------------------------

def test_a_shared_query_never_carries_one_use_into_another():
    base = qb.select("users").where("active = ?", 1).order_by("name")
    first = base.where("name = ?", "a").order_by("-id").limit(1)
    second = base.where("name = ?", "b")
    assert base.sql == 'SELECT * FROM "users" WHERE active = ? ORDER BY "name"'
    assert base.params == (1,)
    assert first.sql == 'SELECT * FROM "users" WHERE (active = ?) AND (name = ?) ORDER BY "id" DESC LIMIT ?'
    assert first.params == (1, "a", 1)
    assert second.sql == 'SELECT * FROM "users" WHERE (active = ?) AND (name = ?) ORDER BY "name"'
    assert second.params == (1, "b")
    update = qb.update("users", {"a": 1})
    update.where("id = ?", 1)
    with pytest.raises(ProgrammingError):
        update.sql  # where() returned a new statement; this one still has none


def test_the_sql_is_built_once_per_statement():
    q = qb.select("users").where("a = %s", 1)
    assert q.sql is q.sql
    assert q.params is q.params


def test_repr_shows_the_statement():
    assert repr(qb.select("users").where("id = ?", 1)) == """<SelectQuery 'SELECT * FROM "users" WHERE id = ?' (1,)>"""


# -- terminal methods, against a recording stand-in ---------------------------------------------------

class RecordingDatabase:
    """Records each call the builder makes, answering with canned values."""

    dialect = SimpleNamespace(name="sqlite", supports_returning=True)

    def __init__(self, value=None):
        self.calls = []
        self.value = value

    async def fetch_all(self, sql, *params):
        self.calls.append(("fetch_all", sql, params))
        return [{"id": 1}]

    async def fetch_one(self, sql, *params):
        self.calls.append(("fetch_one", sql, params))
        return {"id": 1}

    async def fetch_val(self, sql, *params):
        self.calls.append(("fetch_val", sql, params))
        return self.value

    async def execute(self, sql, *params):
        self.calls.append(("execute", sql, params))
        return "result"

    async def execute_many(self, sql, rows):
        self.calls.append(("execute_many", sql, rows))
        return len(rows)

    def iterate(self, sql, *params):
        self.calls.append(("iterate", sql, params))

        async def rows():
            yield {"id": 1}
            yield {"id": 2}
        return rows()


def test_terminal_methods_hand_sql_and_params_to_the_database():
    db = RecordingDatabase(value=3)
    q = QueryBuilder(db).select("users").where("id > ?", 0)

    async def go():
        collected = [row async for row in q.iterate()]
        return (await q.fetch_all(), await q.fetch_one(), await q.fetch_val(), await q.execute(), collected)

    assert asyncio.run(go()) == ([{"id": 1}], {"id": 1}, 3, "result", [{"id": 1}, {"id": 2}])
    statement = ('SELECT * FROM "users" WHERE id > ?', (0,))
    assert db.calls == [("iterate",) + statement, ("fetch_all",) + statement, ("fetch_one",) + statement,
                        ("fetch_val",) + statement, ("execute",) + statement]


def test_count_counts_the_from_and_where_rows_directly():
    db = RecordingDatabase(value=42)
    q = QueryBuilder(db).select("users", ["name", ("id", "x"), "users.*"]).join(
        "orders", '"orders"."uid" = "users"."id"').where("active = ?", 1).order_by("name")
    assert asyncio.run(q.count()) == 42
    assert db.calls == [("fetch_val", 'SELECT COUNT(*) FROM "users" JOIN "orders" ON "orders"."uid" = "users"."id" '
                                      'WHERE active = ?', (1,))]


@pytest.mark.parametrize("refine", [
    lambda b: b.select("users", ["role"]).group_by("role"), lambda b: b.select("users", ["role"]).distinct(),
    lambda b: b.select("users", ["role"]).limit(5), lambda b: b.select("users", ["role"]).offset(5),
    lambda b: b.select("users", ["role"]).having("count(*) > ?", 1), lambda b: b.select("users", raw("count(*)")),
    lambda b: b.select("users", ["role", (raw("max(?, age)", 1), "a")]),
])
def test_count_of_expressions_groups_distinct_rows_or_a_window_counts_the_query_itself(refine):
    db = RecordingDatabase(value="7")
    q = refine(QueryBuilder(db)).where("active = ?", 1)
    assert asyncio.run(q.count()) == 7
    assert db.calls == [("fetch_val", 'SELECT COUNT(*) FROM (%s) AS "counted"' % q.sql, q.params)]


def test_exists_wraps_the_query():
    db = RecordingDatabase(value=0)
    q = QueryBuilder(db).select("users").where("email = ?", "a@b")
    assert asyncio.run(q.exists()) is False
    db.value = 1
    assert asyncio.run(q.exists()) is True
    assert db.calls[-1] == ("fetch_val", 'SELECT EXISTS (SELECT * FROM "users" WHERE email = ?)', ("a@b",))


def test_insert_execute_runs_one_row_with_execute_and_a_batch_with_execute_many():
    db = RecordingDatabase()
    b = QueryBuilder(db)
    assert asyncio.run(b.insert("t", {"a": 1}).execute()) == "result"
    assert asyncio.run(b.insert("t", [{"a": 1}, {"a": 2}]).execute()) == 2
    assert db.calls == [("execute", 'INSERT INTO "t" ("a") VALUES (?)', (1,)),
                        ("execute_many", 'INSERT INTO "t" ("a") VALUES (?)', [(1,), (2,)])]


def test_fetching_from_a_change_without_returning_is_refused():
    db = RecordingDatabase()
    q = QueryBuilder(db).update("t", {"a": 1}).where("id = ?", 1)
    with pytest.raises(ProgrammingError) as info:
        asyncio.run(q.fetch_all())
    assert str(info.value) == "fetch_all() needs returning(...): without it UPDATE returns no rows; use execute()"
    with pytest.raises(ProgrammingError, match=r"^iterate\(\) needs returning"):
        q.iterate()
    assert asyncio.run(q.returning("id").fetch_one()) == {"id": 1}
    assert db.calls == [("fetch_one", 'UPDATE "t" SET "a" = ? WHERE id = ? RETURNING "id"', (1, 1))]


def test_a_builder_without_a_database_only_builds():
    q = qb.select("users")
    assert q.sql == 'SELECT * FROM "users"'
    with pytest.raises(InterfaceError) as info:
        asyncio.run(q.fetch_all())
    assert str(info.value) == ("this QueryBuilder has no database: QueryBuilder(db) runs statements, "
                               "QueryBuilder() only builds them")


def test_a_guarded_statement_is_refused_before_the_database_sees_it():
    db = RecordingDatabase()
    with pytest.raises(ProgrammingError):
        asyncio.run(QueryBuilder(db).delete("users").execute())
    assert db.calls == []


# -- against real SQLite files -------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE orders (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), total INTEGER NOT NULL);
"""
USERS = [{"name": "Ada", "role": "admin"}, {"name": "bob", "role": "staff"}, {"name": "Cyd", "role": "staff"},
         {"name": "dana", "role": "guest"}]
ORDERS = [{"user_id": 1, "total": 50}, {"user_id": 1, "total": 80}, {"user_id": 2, "total": 10},
          {"user_id": 3, "total": 200}]


def with_database(url, body):
    """Run ``body(db, qb)`` against a fresh database (SQLite, then PostgreSQL: tests/db_backends.py)
    holding USERS and ORDERS."""
    async def go():
        async with DatabaseManager(url) as db:
            await db.execute_script(SCHEMA)
            qb = QueryBuilder(db)
            assert await qb.insert("users", USERS).execute() == 4
            assert await qb.insert("orders", ORDERS).execute() == 4
            return await body(db, qb)
    return asyncio.run(go())


def test_database_select_where_order_limit_offset(database_url):
    async def body(db, qb):
        q = qb.select("users", ["id", "name"]).where("role = ?", "staff").order_by("-id")
        return (await q.fetch_all(), await q.fetch_one(), await q.fetch_val(), await q.limit(1).offset(1).fetch_all(),
                await qb.select("users", "name").order_by("id").offset(3).fetch_all(),
                [row.name async for row in qb.select("users").order_by("name").iterate()])

    rows, one, val, window, tail, names = with_database(database_url, body)
    assert rows == [{"id": 3, "name": "Cyd"}, {"id": 2, "name": "bob"}]
    assert one == {"id": 3, "name": "Cyd"}
    assert val == 3
    assert window == [{"id": 2, "name": "bob"}]
    assert tail == [{"name": "dana"}]
    assert names == ["Ada", "Cyd", "bob", "dana"]


def test_database_the_seed_search_is_case_insensitive_and_takes_percent_s(database_url):
    async def body(db, qb):
        def search(query):
            return qb.select("users").where("name ILIKE %s", f"%{query}%").order_by("id")
        return ([r.name for r in await search("D").fetch_all()], [r.name for r in await search("").fetch_all()],
                await search("%' OR 1=1 --").fetch_all())

    d, everyone, injected = with_database(database_url, body)
    assert d == ["Ada", "Cyd", "dana"]
    assert everyone == ["Ada", "bob", "Cyd", "dana"]
    assert injected == []  # the value is a parameter: it is searched for, not run


def test_database_count_and_exists(database_url):
    async def body(db, qb):
        staff = qb.select("users").where("role = ?", "staff")
        return (await qb.select("users").count(), await staff.count(), await staff.limit(1).count(),
                await qb.select("users", "role").distinct().count(), await staff.exists(),
                await qb.select("orders", raw("sum(total)")).count(),
                await qb.select("users").where("role = ?", "nobody").exists(),
                await qb.select("users").where("role = ?", "nobody").count())

    assert with_database(database_url, body) == (4, 2, 1, 3, True, 1, False, 0)


def test_database_join_group_by_having(database_url):
    async def body(db, qb):
        spent = (qb.select(("users", "u"), ["u.name", raw("sum(o.total) AS spent"), (raw("count(*)"), "n")])
                 .join(("orders", "o"), '"o"."user_id" = "u"."id"')
                 .group_by("u.name").having("sum(o.total) > ?", 20).order_by("-spent"))
        everyone = (qb.select(("users", "u"), ["u.name", ("o.total", "total")])
                    .left_join(("orders", "o"), '"o"."user_id" = "u"."id" AND "o"."total" > ?', 60).order_by("u.id"))
        return await spent.fetch_all(), await spent.count(), await everyone.fetch_all()

    spent, groups, everyone = with_database(database_url, body)
    assert spent == [{"name": "Cyd", "spent": 200, "n": 1}, {"name": "Ada", "spent": 130, "n": 2}]
    assert groups == 2
    assert everyone == [{"name": "Ada", "total": 80}, {"name": "bob", "total": None}, {"name": "Cyd", "total": 200},
                        {"name": "dana", "total": None}]


def test_database_in_lists_empty_lists_and_subqueries(database_url):
    async def body(db, qb):
        async def run(q):
            return [r.id for r in await q.order_by("id").fetch_all()]
        big_spenders = qb.select("orders", ["user_id"]).where("total > ?", 60)
        return (await run(qb.select("users").where(in_("id", [2, 4, 99]))),
                await run(qb.select("users").where(in_("id", []))),
                await run(qb.select("users").where(not_(in_("id", [])))),
                await run(qb.select("users").where(in_("id", big_spenders))),
                await run(qb.select("users").where(or_(("role = ?", "guest"), in_("name", ["Ada"])))),
                await qb.update("users", {"active": 0}).where(in_("id", [])).execute())

    listed, empty, not_empty, subquery, either, updated = with_database(database_url, body)
    assert listed == [2, 4]
    assert empty == []
    assert not_empty == [1, 2, 3, 4]
    assert subquery == [1, 3]
    assert either == [1, 4]
    assert updated.rowcount == 0


def test_database_insert_one_batch_defaults_and_returning(database_url):
    async def body(db, qb):
        result = await qb.insert("users", {"name": "eve", "role": "staff"}).execute()
        new_id = await qb.insert("users", {"name": "fay", "role": "staff"}).returning("id").fetch_val()
        with pytest.raises(IntegrityError):
            await qb.insert("users", {"name": "no role"}).execute()
        added = qb.select("users", ["name", "active"]).where("id >= ?", 5).order_by("id")
        return result.lastrowid, new_id, await added.fetch_all()

    lastrowid, new_id, rows = with_database(database_url, body)
    assert (lastrowid, new_id) == (None if on_postgres(database_url) else 5, 6)  # PostgreSQL: RETURNING only
    assert rows == [{"name": "eve", "active": 1}, {"name": "fay", "active": 1}]


def test_database_update_and_delete(database_url):
    async def body(db, qb):
        changed = await (qb.update("users", {"role": "former", "name": raw("upper(name)")})
                         .where("role = ?", "staff").execute())
        renamed = await qb.update("users", {"name": "Ada L."}).where("id = ?", 1).returning("id", "name").fetch_all()
        deleted = await qb.delete("orders").where("total < ?", 60).execute()
        gone = await qb.delete("orders").where("id = ?", 4).returning("total").fetch_val()
        with pytest.raises(ProgrammingError):
            await qb.delete("orders").execute()
        left = await qb.select("orders").count()
        everything = await qb.delete("orders").all_rows().execute()
        return (changed.rowcount, renamed, deleted.rowcount, gone, left, everything.rowcount,
                await qb.select("users", "name").order_by("id").fetch_all())

    changed, renamed, deleted, gone, left, everything, names = with_database(database_url, body)
    assert (changed, deleted, gone, left, everything) == (2, 2, 200, 1, 1)
    assert renamed == [{"id": 1, "name": "Ada L."}]
    assert names == [{"name": "Ada L."}, {"name": "BOB"}, {"name": "CYD"}, {"name": "dana"}]


def test_database_injection_attempts_are_refused_and_the_tables_stay(database_url):
    async def body(db, qb):
        for sort in ["name; DROP TABLE users", 'name" --', "1=1", "name DESC; DELETE FROM users"]:
            with pytest.raises(InvalidIdentifier):
                await qb.select("users").order_by(sort).fetch_all()
        with pytest.raises(InvalidIdentifier):
            await qb.insert("users", {"name": "x", "role) VALUES ('a', 'b'); DROP TABLE users; --": "y"}).execute()
        with pytest.raises(ValueError):
            await qb.select("users").limit("1; DELETE FROM users").fetch_all()
        rows = await qb.select("users").where("name = ?", "x' OR '1'='1").fetch_all()
        return rows, await qb.select("users").count(), await qb.select("orders").count()

    assert with_database(database_url, body) == ([], 4, 4)


def test_database_one_shared_query_serves_concurrent_requests_without_leaking(database_url):
    async def body(db, qb):
        active = qb.select("users", "name").where("active = ?", 1).order_by("id")

        async def request(role):
            return [r.name for r in await active.where("role = ?", role).fetch_all()]
        results = await asyncio.gather(*(request(role) for role in ["staff", "admin", "guest", "staff"]))
        return results, [r.name for r in await active.fetch_all()]

    results, everyone = with_database(database_url, body)
    assert results == [["bob", "Cyd"], ["Ada"], ["dana"], ["bob", "Cyd"]]
    assert everyone == ["Ada", "bob", "Cyd", "dana"]


def test_database_a_session_and_a_transaction_run_the_builder(database_url):
    async def body(db, qb):
        async with db.session_scope() as session:
            await session.begin()  # the session's statements run in its transaction from here on
            await QueryBuilder(session).insert("users", {"name": "gus", "role": "staff"}).execute()
            await session.rollback()
        try:
            async with db.transaction():
                await qb.update("users", {"role": "x"}).all_rows().execute()
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        return (await qb.select("users").where("name = ?", "gus").exists(),
                await qb.select("users").where("role = ?", "x").count())

    assert with_database(database_url, body) == (False, 0)


def test_the_seed_query_builder_route_answers_over_http(tmp_path):
    db = DatabaseManager("sqlite:///%s" % (tmp_path / "seed.db"))
    db.sync.connect()
    db.sync.execute_script(SCHEMA)
    q = QueryBuilder().insert("users", USERS)
    db.sync.execute_many(q.sql, q.params)
    db.sync.disconnect()

    app = Covet()
    app.add_database(db)

    def get_db():
        return db

    @app.route("/users/search")
    async def search_users(request, db=Depends(get_db)):
        query = request.query_params.get("q", "")

        qb = QueryBuilder(db)
        users = await qb.select("users").where("name ILIKE %s", f"%{query}%").fetch_all()

        return {"users": users}

    with TestClient(app) as client:
        response = client.get("/users/search", params={"q": "A"})
    assert response.status_code == 200
    assert response.json() == {"users": [{"id": 1, "name": "Ada", "role": "admin", "active": 1},
                                         {"id": 4, "name": "dana", "role": "guest", "active": 1}]}
