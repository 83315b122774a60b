"""Placeholders: covet accepts every common style and hands each driver its own.

SQL given to covet may mark its parameters as ``?`` (qmark), ``%s`` (format), ``$1`` (numbered,
PostgreSQL's), ``:name`` (named) or ``%(name)s`` (pyformat): one style per statement. Positional
values are passed as ``*params``; named ones as a single mapping. The statement is scanned once
(then cached) by one tokenizer that steps over string literals, quoted identifiers, comments,
PostgreSQL dollar-quoted bodies and ``::`` casts, so a ``?`` or ``:x`` inside them is left alone.
The result is a :class:`Translation`: the SQL in the driver's style (PEP 249 ``paramstyle``) and
how to order the values.

For SQLite the same scan makes four portability rewrites, so that the PostgreSQL-flavoured SQL of
the API reference runs unchanged: ``ILIKE`` becomes ``LIKE`` (SQLite's LIKE already ignores ASCII
case), ``SERIAL``/``BIGSERIAL``/``SMALLSERIAL`` become ``INTEGER`` (so ``id SERIAL PRIMARY KEY`` is
SQLite's auto-numbered rowid alias), ``DEFAULT NOW()`` becomes ``DEFAULT CURRENT_TIMESTAMP``
(SQLite allows no function call as a bare default) and a row-locking clause (``FOR UPDATE``,
``FOR SHARE``..., with ``OF``, ``NOWAIT``, ``SKIP LOCKED``) is dropped: SQLite has none, and needs
none, since covet runs its write transactions one at a time. Nothing else is rewritten.

Example::

    t = translate("SELECT * FROM users WHERE id = $1 OR boss = $1", "qmark")
    t.sql                      # 'SELECT * FROM users WHERE id = ? OR boss = ?'
    t.bind((7,))               # (7, 7)
"""
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import ProgrammingError

__all__ = ["Translation", "translate", "to_qmark", "split_statements", "PARAMSTYLES", "MAX_CACHED_LENGTH"]

#: PEP 249's five styles, plus "dollar" ($1), PostgreSQL's own.
PARAMSTYLES = ("qmark", "format", "numeric", "named", "pyformat", "dollar")

# An unterminated literal, identifier, comment or dollar quote runs to the end of the statement
# (as a block comment does in SQLite's own tokenizer; the driver then rejects an unterminated
# literal). Were it allowed to fail, the scan would retry at every later opener and cost
# quadratic time: 100k characters of "/* " took half a minute. Literals are written as unrolled
# loops ([^']* runs) rather than (?:[^']|'')*, which steps through a group once per character.
_TOKEN = re.compile(r"""
    (?P<skip>
        '[^']*(?:''[^']*)*(?:'|\Z)                   # string literal, '' escapes a quote
      | "[^"]*(?:""[^"]*)*(?:"|\Z)                   # quoted identifier
      | `[^`]*(?:`|\Z)                              # SQLite/MySQL quoted identifier
      | --[^\n]*                                    # line comment
      | /\*.*?(?:\*/|\Z)                            # block comment
      | \$(?P<tag>(?:[A-Za-z_][A-Za-z0-9_]*)?)\$.*?(?:\$(?P=tag)\$|\Z)   # PostgreSQL dollar-quoted body
      | ::                                          # PostgreSQL cast, not a :name
    )
  | \$(?P<num>[0-9]+)
  | %\((?P<pyname>[A-Za-z_][A-Za-z0-9_]*)\)s
  | (?P<format>%s)
  | (?P<percent>%%?)
  | (?P<qmark>\?)
  | (?<![:\w]):(?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<semicolon>;)
  | (?P<word>\b(?:ILIKE|SERIAL|BIGSERIAL|SMALLSERIAL)\b)
  | (?P<default_now>\bDEFAULT\s+NOW\s*\(\s*\))
  | (?P<row_lock>\s+FOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b
       (?:\s+OF\s+[\w.]+(?:\s*,\s*[\w.]+)*)?(?:\s+(?:NOWAIT|SKIP\s+LOCKED)\b)?)
""", re.X | re.S | re.I)

_REWRITES = {"ilike": "LIKE", "serial": "INTEGER", "bigserial": "INTEGER", "smallserial": "INTEGER"}

# Statements that only read: they run without the write lock (docs/database.md, "SQLite under
# concurrency"). Anything else, and any WITH whose text outside literals and comments holds a
# write verb, is treated as a write: a write taken for a read costs a wait at the gate, a read
# taken for a write costs "database is locked".
# What precedes the first keyword: whitespace, comments and empty statements (sqlite3 runs
# "; INSERT ..." as an INSERT). Matched as a loop that cannot fail, so never backtracks (a
# pattern that made the keyword part of it took exponential time on "/**/" * 3000 + "(").
_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z)|;)*", re.S)
_KEYWORD = re.compile(r"[A-Za-z]+")
_READS = frozenset(("select", "values", "explain"))
_WRITE_IN_WITH = re.compile(r"""
    '[^']*(?:''[^']*)*(?:'|\Z) | "[^"]*(?:""[^"]*)*(?:"|\Z) | `[^`]*(?:`|\Z) | \[[^\]]*(?:\]|\Z)
  | --[^\n]* | /\*.*?(?:\*/|\Z)
  | (?P<write>\b(?:insert|update|delete)\b | \breplace\b(?!\s*\())   # replace( is the string function
""", re.X | re.S | re.I)

_MAX_CACHED = 4096
#: Statements longer than this are translated on every call, not cached: a statement built per call
#: (a 10 MB literal, a bulk VALUES list) would otherwise be kept until 4096 others pushed it out,
#: twice over (here and per backend). Scanning is linear, so translating one again costs about
#: what the database spends parsing it.
MAX_CACHED_LENGTH = 8192


class Translation:
    """One statement in one driver's placeholder style.

    ``sql`` is what the driver runs; :meth:`bind` turns the caller's values (``*params``, or one
    mapping for named styles) into what the driver takes. ``is_write`` says whether the statement
    may change the database (it decides whether SQLite's write lock is taken). ``control`` is,
    for a transaction-control statement (BEGIN, COMMIT, SAVEPOINT, ...), why the statement methods
    refuse it, else None.
    """

    __slots__ = ("sql", "style", "order", "count", "is_write", "control", "passthrough", "_named_out")

    def __init__(self, sql: str, style: str, order: Optional[Tuple[Any, ...]], count: int, is_write: bool,
                 named_out: bool, control: Optional[str] = None) -> None:
        self.sql = sql
        self.style = style          # the style the caller used: "none", "qmark", "format", "numeric", "named"
        self.order = order          # per output placeholder: a 0-based index (numeric) or a name (named)
        self.count = count          # placeholders in the statement
        self.is_write = is_write
        self.control = control
        self._named_out = named_out
        #: the caller's params go to the driver as they are (positional, in order): bind() is identity
        self.passthrough = order is None and not named_out

    def bind(self, params: Sequence[Any]) -> Union[Sequence[Any], Dict[str, Any]]:
        """The driver's parameters for the caller's ``params`` (the ``*params`` tuple)."""
        if self.passthrough:
            return params
        if self.style in ("named",):
            if len(params) != 1 or not isinstance(params[0], Mapping):
                raise ProgrammingError("this statement has named placeholders (:%s): pass one mapping of values"
                                       % self.order[0])
            values = params[0]
            try:
                out = [values[name] for name in self.order]
            except KeyError as exc:
                raise ProgrammingError("no value given for the placeholder :%s" % exc.args[0]) from None
        elif self.order is not None:
            try:
                out = [params[i] for i in self.order]
            except IndexError:
                raise ProgrammingError("the statement uses $%d but %d values were given"
                                       % (max(self.order) + 1, len(params))) from None
            if params and len(params) > max(self.order) + 1:
                raise ProgrammingError("%d values given for placeholders up to $%d" % (len(params), max(self.order) + 1))
        else:
            if len(params) != self.count:
                raise ProgrammingError("the statement has %d placeholders but %d values were given"
                                       % (self.count, len(params)))
            out = list(params)
        if self._named_out:
            return {"p%d" % (i + 1): v for i, v in enumerate(out)}
        return out


_cache: Dict[Tuple[str, str, bool], Translation] = {}


def translate(sql: str, paramstyle: str = "qmark", sqlite: bool = False) -> Translation:
    """``sql`` (any accepted placeholder style) for a driver whose ``paramstyle`` is given.

    ``sqlite`` turns on the SQLite portability rewrites. Cached per ``(sql, paramstyle, sqlite)``.
    Raises :class:`ProgrammingError` for a statement that mixes styles.
    """
    key = (sql, paramstyle, sqlite)
    try:
        found = _cache.get(key)
    except TypeError:  # unhashable: a list, a dict
        found = None
    if found is not None:
        return found
    if not isinstance(sql, str):
        raise ProgrammingError("SQL must be a string, not %s" % type(sql).__name__)
    if paramstyle not in PARAMSTYLES:
        raise ProgrammingError("unknown paramstyle %r (one of %s)" % (paramstyle, ", ".join(PARAMSTYLES)))
    found = _translate(sql, paramstyle, sqlite)
    if len(sql) <= MAX_CACHED_LENGTH:
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()  # statements come from code, so few; this only bounds a program that builds SQL per call
        _cache[key] = found
    return found


def to_qmark(sql: str) -> Translation:
    """``sql`` with ``?`` placeholders (no SQLite rewrites): for code that composes fragments,
    such as the query builder, which emits ``?`` itself. ``bind`` orders the values."""
    return translate(sql, "qmark", False)


def _placeholder(paramstyle: str, n: int) -> str:
    if paramstyle == "qmark":
        return "?"
    if paramstyle == "format":
        return "%s"
    if paramstyle == "numeric":
        return ":%d" % n
    if paramstyle == "dollar":
        return "$%d" % n
    if paramstyle == "named":
        return ":p%d" % n
    return "%%(p%d)s" % n


def _translate(sql: str, paramstyle: str, sqlite: bool) -> Translation:
    style = "none"
    order: List[Any] = []
    out: List[str] = []
    pos = 0
    percent_out = paramstyle in ("format", "pyformat")  # such drivers read % as formatting, so a literal % doubles
    deferred: List[Tuple[int, str]] = []  # pieces holding %, resolved once the statement's style is known
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind == "skip":
            if "%" in m.group():
                out.append(sql[pos:m.start()])
                deferred.append((len(out), m.group()))
                out.append(m.group())
                pos = m.end()
            continue
        if kind == "tag":  # the tag group belongs to a dollar-quoted skip
            continue
        if kind == "semicolon":
            continue
        if kind == "word" or kind == "default_now" or kind == "row_lock":
            if not sqlite:
                continue
            out.append(sql[pos:m.start()])
            if kind != "row_lock":
                out.append(_REWRITES[m.group().lower()] if kind == "word" else "DEFAULT CURRENT_TIMESTAMP")
            pos = m.end()
            continue
        if kind == "percent":
            if m.group() == "%%":
                out.append(sql[pos:m.start()])
                deferred.append((len(out), "%%"))
                out.append("%%")
                pos = m.end()
            elif percent_out:
                out.append(sql[pos:m.start()])
                out.append("%%")
                pos = m.end()
            continue
        if kind == "num":
            if m.group("num")[0] == "0":
                # $0 and $01 are no PostgreSQL placeholder, and SQLite would bind them as names
                # by position (deprecated since Python 3.12): say so instead.
                raise ProgrammingError("$%s: numbered placeholders start at $1, without leading zeros"
                                       % m.group("num"))
            this, key = "numeric", int(m.group("num")) - 1
        elif kind == "pyname":
            this, key = "named", m.group("pyname")
        elif kind == "name":
            this, key = "named", m.group("name")
        elif kind == "format":
            this, key = "format", None
        else:
            this, key = "qmark", None
        if style == "none":
            style = this
        elif style != this:
            raise ProgrammingError("the statement mixes placeholder styles (%s and %s): use one of ?, %%s, $1, :name"
                                   % (style, this))
        order.append(key)
        out.append(sql[pos:m.start()])
        out.append(_placeholder(paramstyle, len(order)))
        pos = m.end()
    out.append(sql[pos:])
    for i, piece in deferred:
        # "%%" means one literal % only in a %s statement, literals included (as with every
        # format-style driver); elsewhere it is as written. A format-style driver then needs every
        # % doubled again.
        if style == "format":
            piece = piece.replace("%%", "%")
        out[i] = piece.replace("%", "%%") if percent_out else piece
    text = "".join(out)
    positional_in_order = style in ("none", "qmark", "format")
    named_out = paramstyle in ("named", "pyformat")
    final_order: Optional[Tuple[Any, ...]] = None if positional_in_order else tuple(order)
    t = Translation(text, style, final_order, len(order), _is_write(sql), named_out, _control(sql))
    if paramstyle == "dollar":
        # sqlite3 counts the values itself; PostgreSQL takes more values than placeholders (a
        # Parse may declare parameter types the statement never uses), so covet counts them.
        t.passthrough = False
    return t


# Transaction control belongs to db.transaction(): run through execute(), BEGIN left a pooled
# connection inside a transaction for whichever request got it next (SQLite then refused that
# request's own BEGIN, and a write in it held SQLite's lock outside the write gate); COMMIT or
# ROLLBACK inside a block ended covet's transaction behind its back.
_CONTROL = frozenset(("begin", "commit", "end", "rollback", "savepoint", "release"))


def _control(sql: str) -> Optional[str]:
    m = _first_keyword(sql)
    if m is None or m.group().lower() not in _CONTROL:
        return None
    return ("%s is not run through the statement methods: a transaction is `async with db.transaction()` "
            "(`with db.sync.transaction()` in sync code), a nested block is a savepoint, and tx.commit() or "
            "tx.rollback() ends one early" % m.group().upper())


def _first_keyword(sql: str) -> Optional["re.Match[str]"]:
    return _KEYWORD.match(sql, _LEADING.match(sql).end())


def _is_write(sql: str) -> bool:
    m = _first_keyword(sql)
    if m is None:
        return True  # nothing SQLite runs as a read starts so: let the gate decide nothing away
    word = m.group().lower()
    if word in _READS:
        return False
    if word == "with":
        return any(w.lastgroup == "write" for w in _WRITE_IN_WITH.finditer(sql, m.end()))
    return True


def split_statements(sql: str, complete: Optional[Any] = None) -> List[str]:
    """The statements of a script, split at ``;`` outside literals, comments and dollar quotes.

    ``complete`` (``sqlite3.complete_statement`` for SQLite) is asked whether a piece ends a
    statement, so that a trigger body's inner ``;`` does not split it. Empty statements and
    comment-only pieces are dropped.
    """
    pieces: List[str] = []
    start = 0
    for m in _TOKEN.finditer(sql):
        if m.lastgroup != "semicolon":
            continue
        piece = sql[start:m.end()]
        if complete is not None and not complete(piece):
            continue
        pieces.append(piece)
        start = m.end()
    pieces.append(sql[start:])
    statements = []
    for piece in pieces:
        stripped = piece.strip().rstrip(";").strip()
        if stripped and _first_keyword(stripped):
            statements.append(stripped)
    return statements
