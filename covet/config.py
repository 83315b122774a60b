"""Settings from the environment and a ``.env`` file: typed, checked all at once at start-up.

A subclass of :class:`Config` names its settings as UPPER_CASE class attributes, annotated with a
type, given a default, or both. Making an instance reads each one from (first match wins) the
keyword arguments, the process environment, the ``.env`` file, the class default. Every missing or
malformed setting is collected and reported in one :class:`ConfigError`, so a deployment learns
everything it got wrong from one failed start, not one variable per restart. Values of settings
that hold secrets never appear in reprs or error messages. docs/config.md is the reference.

Example::

    class ProductionConfig(Config):
        DATABASE_URL: str
        DEBUG: bool = False
        CACHE_TTL: int = 3600
        SECRET_KEY: Secret

    app = CovetApp(config=ProductionConfig())   # app.debug follows DEBUG; app.config is the object
"""
import hmac
import math
import os
import re
import threading
import typing
import weakref
from pathlib import Path, PurePath
from typing import Any, Callable, ClassVar, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

__all__ = ["Config", "ConfigError", "ConfigProblem", "Secret", "MASK", "parse_dotenv", "DotenvValue",
           "DotenvProblem", "is_secret_name", "mask_url", "reveal"]

#: What a secret's value is replaced with wherever covet shows it.
MASK = "**********"

# Longest value quoted back in an error message: enough to recognise it, not a page of it.
MAX_SHOWN_VALUE = 60


class Secret:
    """A string that is not shown: ``repr``, ``str``, f-strings and ``%s`` all give ``'**********'``.

    The value is read with :meth:`get_secret_value`, so each place that uses it says so.
    ``json.dumps`` refuses a Secret (TypeError) rather than writing it out.

    Example::

        key = Secret("s3cr3t")
        f"{key}"                   # '**********'
        key.get_secret_value()     # 's3cr3t'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.get_secret_value()
        if not isinstance(value, str):
            # The type only: the value may be the secret itself.
            raise TypeError("Secret wraps a str, got %s" % type(value).__name__)
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(%r)" % MASK

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, as for any comparison of secrets (timing attacks on ==).
        return hmac.compare_digest(self._value.encode("utf-8", "surrogatepass"),
                                   other._value.encode("utf-8", "surrogatepass"))

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


# Names whose values are masked even when typed str: what the seed writes as
# ``SECRET_KEY = os.getenv("SECRET_KEY")`` must not show in a repr or a log line.
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|DSN|(?:^|_)KEY$",
                          re.IGNORECASE)
# scheme://user:password@host -> the password (RFC 3986 §3.2.1 userinfo; "Use of the format
# user:password in the userinfo field is deprecated" because it ends up in logs like this one).
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*:)([^@/?#]*)(@)")


def is_secret_name(name: str) -> bool:
    """Whether a setting named ``name`` is masked whatever its type (SECRET_KEY, DB_PASSWORD, ...)."""
    return bool(_SECRET_NAME.search(name))


def mask_url(value: str) -> str:
    """``value`` with the password of a ``scheme://user:password@host`` URL masked.

    Example::

        mask_url("postgresql://app:hunter2@db/prod")   # 'postgresql://app:**********@db/prod'
    """
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), value)


# -- the .env file ---------------------------------------------------------------------------

class DotenvValue(NamedTuple):
    """One assignment of a ``.env`` file: the value and the line it starts on."""
    value: str
    line: int


class DotenvProblem(NamedTuple):
    """A line of a ``.env`` file that could not be read, and why (the line itself is never quoted:
    a misplaced secret would be)."""
    line: int
    problem: str
    expected: str


# NAME=, optionally after "export " (so the file can also be sourced by a POSIX shell).
_ASSIGN = re.compile(r"[ \t]*(?:export[ \t]+)?([^=\s]*)[ \t]*=")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_AFTER_QUOTE = re.compile(r"[ \t]*(?:#.*)?\Z")
_COMMENT = re.compile(r"[ \t]#")
# In double quotes, as in the shells and docker compose: \n \t \r \" \\ (\$ too, for files
# written for a shell). Any other backslash stays as written (Windows paths keep working).
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str) -> Tuple[Dict[str, DotenvValue], List[DotenvProblem]]:
    """Read the text of a ``.env`` file: ``({name: DotenvValue}, [DotenvProblem])``.

    The rules (docs/config.md): ``NAME=value`` per line, ``export NAME=value`` too; blank lines
    and lines starting with ``#`` are skipped; an unquoted value ends at a ``#`` that follows a
    space or tab (a comment) and loses surrounding blanks; ``'single quotes'`` keep everything as
    written; ``"double quotes"`` understand ``\\n \\t \\r \\" \\\\ \\$``; quoted values may span
    lines; ``NAME=`` is the empty string; a later line for the same name wins; ``$VAR`` is not
    expanded. A BOM and CRLF or CR line ends are accepted. Every bad line is reported, by number.

    Example::

        values, problems = parse_dotenv('export DEBUG=true  # on\\nGREETING="hi\\\\nthere"\\n')
        values["GREETING"].value    # 'hi\\nthere'
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    values: Dict[str, DotenvValue] = {}
    problems: List[DotenvProblem] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGN.match(line)
        if match is None:
            problems.append(DotenvProblem(number, "has no '='", "NAME=value"))
            continue
        name = match.group(1)
        if not _VAR_NAME.match(name):
            problems.append(DotenvProblem(number, "the name before '=' is not a variable name",
                                          "letters, digits and _, not starting with a digit"))
            continue
        rest = line[match.end():]
        opening = rest.lstrip(" \t")[:1]
        if opening in ("'", '"'):
            start = len(rest) - len(rest.lstrip(" \t")) + 1
            found = _read_quoted(lines, index - 1, rest, start, opening)
            if found is None:
                kind = "double" if opening == '"' else "single"
                problems.append(DotenvProblem(number, "the %s-quoted value has no closing quote" % kind,
                                              "a closing %s" % opening))
                continue
            value, index, tail = found
            if not _AFTER_QUOTE.match(tail):
                problems.append(DotenvProblem(number, "has text after the closing quote",
                                              "a comment (# ...) or the end of the line"))
                continue
        else:
            comment = _COMMENT.search(rest)
            value = (rest[:comment.start()] if comment else rest).strip(" \t")
        values[name] = DotenvValue(value, number)
    return values, problems


def _read_quoted(lines: List[str], index: int, rest: str, pos: int,
                 quote: str) -> Optional[Tuple[str, int, str]]:
    # (value, index of the line after the closing quote's line, what follows the quote), or None.
    out: List[str] = []
    text = rest
    while True:
        i = pos
        while i < len(text):
            ch = text[i]
            if ch == quote:
                return "".join(out), index + 1, text[i + 1:]
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    i += 2
                    continue
            out.append(ch)
            i += 1
        index += 1
        if index >= len(lines):
            return None
        out.append("\n")
        text, pos = lines[index], 0


# -- typed settings --------------------------------------------------------------------------

class ConfigProblem(NamedTuple):
    """One thing wrong with the configuration: which setting, what was wrong, what was expected."""
    name: str
    problem: str
    expected: str

    def __str__(self) -> str:
        return "%s: %s; expected %s" % self


class ConfigError(Exception):
    """Every problem found while reading a configuration, in one exception.

    :attr problems: the :class:`ConfigProblem` list, in the order of the settings.

    Example::

        try:
            config = ProductionConfig()
        except ConfigError as exc:
            sys.exit(str(exc))      # names each variable, never a secret's value
    """

    def __init__(self, owner: str, problems: List[ConfigProblem]) -> None:
        self.owner = owner
        self.problems = list(problems)
        count = len(self.problems)
        head = "%s: %d problem%s in the configuration" % (owner, count, "" if count == 1 else "s")
        super().__init__("\n  ".join([head] + [str(p) for p in self.problems]))


class _Bad(Exception):
    """A value that does not parse; its message is the ``problem`` part of a ConfigProblem."""


_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}


def _as_str(raw: str) -> str:
    return raw


def _as_int(raw: str) -> int:
    if not _INT.match(raw.strip()):
        raise _Bad("is not an integer")
    return int(raw)


def _as_float(raw: str) -> float:
    if not _FLOAT.match(raw.strip()):
        raise _Bad("is not a number")
    value = float(raw)
    if not math.isfinite(value):  # 1e999
        raise _Bad("is not a finite number")
    return value


def _as_bool(raw: str) -> bool:
    try:
        return _BOOLS[raw.strip().lower()]
    except KeyError:
        raise _Bad("is not a boolean") from None


def _as_secret(raw: str) -> Secret:
    if not raw:
        raise _Bad("is empty")
    return Secret(raw)


def _as_path(raw: str) -> Path:
    if not raw.strip():
        raise _Bad("is empty")
    return Path(raw)


class _Kind(NamedTuple):
    # How one type is read from a string: the parser and what the error message says is expected.
    parse: Callable[[str], Any]
    expected: str


_KINDS: Dict[Any, _Kind] = {
    str: _Kind(_as_str, "a string"),
    int: _Kind(_as_int, "an integer such as 3600"),
    float: _Kind(_as_float, "a number such as 0.5"),
    bool: _Kind(_as_bool, "true/false, yes/no, on/off or 1/0"),
    Secret: _Kind(_as_secret, "a non-empty secret"),
    Path: _Kind(_as_path, "a file system path"),
}


def _list_of(item: _Kind) -> _Kind:
    def parse(raw: str) -> List[Any]:
        out = []
        for position, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), 1):
            try:
                out.append(item.parse(part))
            except _Bad as bad:
                raise _Bad("item %d %s" % (position, bad)) from None
        return out
    return _Kind(parse, "a comma-separated list, each item %s" % item.expected)


class _Setting(NamedTuple):
    name: str
    env: str                 # the variable read: env_prefix + name
    kind: Optional[_Kind]    # None: a constant, never read from the environment
    default: Any             # _MISSING when the setting must be given
    optional: bool           # Optional[...]: missing and empty values are None
    secret: bool             # masked in repr and errors


_MISSING = object()


def _kind_of_type(owner: str, name: str, tp: Any) -> Tuple[_Kind, bool]:
    """(kind, optional) for an annotation; TypeError for a type covet cannot read from a string."""
    optional = False
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            tp, optional = args[0], True
    if typing.get_origin(tp) in (list, List):
        args = typing.get_args(tp)
        item = _KINDS.get(args[0] if args else str)
        if item is not None and (args[0] if args else str) is not Secret:
            return _list_of(item), optional
    elif tp in _KINDS:
        return _KINDS[tp], optional
    raise TypeError("%s.%s: %r cannot be read from the environment; use str, int, float, bool, Secret, Path, "
                    "List[...] of those or Optional[...]" % (owner, name, tp))


def _kind_of_value(value: Any) -> Tuple[Optional[_Kind], bool]:
    # A plain class attribute (``CACHE_TTL = 3600``, ``DATABASE_URL = os.getenv(...)``): its type
    # is its value's. None (an unset os.getenv) reads as Optional[str].
    if value is None:
        return _KINDS[str], True
    if isinstance(value, bool):
        return _KINDS[bool], False
    for tp in (int, float, str, Secret):
        if isinstance(value, tp):
            return _KINDS[tp], False
    if isinstance(value, PurePath):
        return _KINDS[Path], False
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _list_of(_KINDS[str]), False
    return None, False


_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_schemas: "weakref.WeakKeyDictionary[type, Tuple[_Setting, ...]]" = weakref.WeakKeyDictionary()
_schemas_lock = threading.Lock()


def _settings_of(cls: type) -> Tuple[_Setting, ...]:
    # Built once per class (the type hints are evaluated here, not at each instance).
    found = _schemas.get(cls)
    if found is not None:
        return found
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:
        raise TypeError("%s: its annotations could not be evaluated (%s: %s); on Python 3.9 write "
                        "Optional[int], not int | None" % (cls.__name__, type(exc).__name__, exc)) from exc
    names: Dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass is Config:
            continue
        for name in list(vars(klass).get("__annotations__", {})) + list(vars(klass)):
            if _SETTING_NAME.match(name):
                names[name] = None
    prefix = cls.env_prefix  # type: ignore[attr-defined]
    settings = []
    for name in names:
        default = getattr(cls, name, _MISSING)
        hint = hints.get(name)
        if hint is not None and typing.get_origin(hint) is ClassVar:
            continue
        if default is not _MISSING and (callable(default) or isinstance(default, (property, classmethod,
                                                                                  staticmethod))):
            continue
        if hint is not None:
            kind, optional = _kind_of_type(cls.__name__, name, hint)
            if kind is _KINDS[Secret] and isinstance(default, str):
                default = Secret(default)
        else:
            kind, optional = _kind_of_value(default)
        secret = kind is _KINDS[Secret] or is_secret_name(name)
        settings.append(_Setting(name, prefix + name, kind, default, optional, secret))
    result = tuple(settings)
    with _schemas_lock:
        _schemas[cls] = result
    return result


def _shown(setting: _Setting, raw: str) -> str:
    if setting.secret:
        return repr(MASK)
    text = mask_url(raw)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[:MAX_SHOWN_VALUE] + "..."
    return repr(text)


def _read_env_file(path: str) -> Tuple[Dict[str, DotenvValue], List[ConfigProblem]]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}, []  # optional: production sets real variables, .env is for development
    except OSError as exc:
        return {}, [ConfigProblem(path, "could not be read (%s)" % (exc.strerror or type(exc).__name__),
                                  "a readable file or none")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return {}, [ConfigProblem("%s line %d" % (path, line), "is not UTF-8", "a UTF-8 text file")]
    values, problems = parse_dotenv(text)
    return values, [ConfigProblem("%s line %d" % (path, p.line), p.problem, p.expected) for p in problems]


class Config:
    """Base class of a configuration: UPPER_CASE class attributes are its settings.

    An annotated setting (``CACHE_TTL: int = 3600``) has that type; a plain one
    (``CACHE_TTL = 3600``, ``DATABASE_URL = os.getenv("DATABASE_URL")``) has its value's type,
    None reading as ``Optional[str]``. Each is read, first match wins, from the keyword arguments,
    ``environ`` (``os.environ``), the ``.env`` file, the class default. Types: str, int, float,
    bool, :class:`Secret`, ``pathlib.Path``, ``List[...]`` of those (comma-separated),
    ``Optional[...]``. Missing and malformed settings raise one :class:`ConfigError` listing them all.

    :param env_file: the ``.env`` file (default ``env_file`` of the class, ``".env"``); None for none.
        A missing file is not an error.
    :param environ: the variables to read instead of ``os.environ`` (tests).
    :param overrides: values for settings by name, as strings to parse or as typed values.

    Example::

        class ProductionConfig(Config):
            DATABASE_URL: str
            DEBUG: bool = False
            SECRET_KEY: Secret

        config = ProductionConfig()
        config.SECRET_KEY.get_secret_value()
    """

    #: The ``.env`` file read when none is passed (relative to the working directory).
    env_file: ClassVar[Optional[str]] = ".env"
    #: Prepended to each setting's name to make the variable's name (``"MYAPP_"``).
    env_prefix: ClassVar[str] = ""

    def __init__(self, env_file: Union[str, "os.PathLike[str]", None, object] = _MISSING,
                 environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> None:
        cls = type(self)
        settings = _settings_of(cls)
        known = {s.name for s in settings}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError("%s has no setting named %s" % (cls.__name__, ", ".join(unknown)))
        if env_file is _MISSING:
            env_file = cls.env_file
        environ = os.environ if environ is None else environ
        problems: List[ConfigProblem] = []
        dotenv: Dict[str, DotenvValue] = {}
        file_label = "the environment"
        if env_file is not None:
            path = os.fspath(env_file)  # type: ignore[arg-type]
            dotenv, problems = _read_env_file(path)
            file_label = "the environment or %s" % path
        values: Dict[str, Any] = {}
        sources: Dict[str, str] = {}
        for s in settings:
            if s.kind is None:
                values[s.name], sources[s.name] = s.default, "default"
                continue
            if s.name in overrides and not isinstance(overrides[s.name], str):
                values[s.name], sources[s.name] = overrides[s.name], "argument"
                continue
            if s.name in overrides:
                raw, source = overrides[s.name], "argument"
            elif s.env in environ:
                raw, source = environ[s.env], "environment"
            elif s.env in dotenv:
                raw, source = dotenv[s.env].value, "%s line %d" % (path, dotenv[s.env].line)
            elif s.default is not _MISSING:
                values[s.name], sources[s.name] = s.default, "default"
                continue
            elif s.optional:
                values[s.name], sources[s.name] = None, "default"
                continue
            else:
                problems.append(ConfigProblem(s.env, "missing from %s" % file_label, s.kind.expected))
                continue
            if s.optional and not raw.strip() and s.kind is not _KINDS[str]:
                values[s.name], sources[s.name] = None, source
                continue
            try:
                values[s.name] = s.kind.parse(raw)
            except _Bad as bad:
                where = "" if source in ("environment", "argument") else " (%s)" % source
                problems.append(ConfigProblem(s.env, "%s%s %s" % (_shown(s, raw), where, bad), s.kind.expected))
                continue
            sources[s.name] = source
        if problems:
            raise ConfigError(cls.__name__, problems)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_sources", sources)

    def __setattr__(self, name: str, value: Any) -> None:
        # Read once at start-up and shared by everything that holds it: a change made here would
        # reach some readers and not others.
        raise AttributeError("%s is read-only; pass %s=... when making it" % (type(self).__name__, name))

    def as_dict(self) -> Dict[str, Any]:
        """``{name: value}`` of every setting (Secret values stay wrapped)."""
        return {s.name: getattr(self, s.name) for s in _settings_of(type(self))}

    def source_of(self, name: str) -> str:
        """Where a setting's value came from: ``"argument"``, ``"environment"``, ``".env line 3"``
        or ``"default"``."""
        return self._sources[name]  # type: ignore[attr-defined,no-any-return]

    def configure_app(self, app: Any) -> None:
        """Apply the settings covet knows to ``app`` (``Covet(config=...)`` calls this).

        ``DEBUG`` sets ``app.debug``; ``REDIS_URL`` sets ``app.state.redis_url`` (``app.redis_cache``
        connects there); ``CACHE_TTL`` sets ``app.state.cache_ttl`` (the default TTL of
        ``app.memory_cache`` and ``app.redis_cache``); ``SECRET_KEY`` sets ``app.secret_key`` (a
        :class:`Secret`, which covet's session, CSRF and JWT classes take as ``secret_key=``);
        ``SENTRY_DSN`` adds a ``SentryIntegration`` (with ``ENVIRONMENT`` and ``RELEASE`` when
        set); ``HOST``, ``PORT`` and ``WORKERS`` are what ``python -m covet run`` uses when its
        command line does not say. ``app.config`` is this object. docs/config.md has the table.
        """
        app.config = self
        values = self.as_dict()
        debug = values.get("DEBUG")
        if debug is not None:
            app.debug = bool(debug)
        secret_key = values.get("SECRET_KEY")
        if secret_key:
            app.secret_key = secret_key if isinstance(secret_key, Secret) else Secret(str(secret_key))
        dsn = reveal(values.get("SENTRY_DSN"))
        if dsn:
            from .monitoring.sentry import SentryIntegration

            options = {"environment": values.get("ENVIRONMENT"), "release": values.get("RELEASE")}
            app.add_integration(SentryIntegration(dsn=str(dsn), **{k: str(v) for k, v in options.items() if v}))
        redis_url = values.get("REDIS_URL")
        if redis_url:
            app.state.redis_url = reveal(redis_url)
        ttl = values.get("CACHE_TTL")
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
                raise ConfigError(type(self).__name__, [
                    ConfigProblem("CACHE_TTL", "%r is not a positive number of seconds" % (ttl,),
                                  "an integer such as 3600")])
            app.state.cache_ttl = ttl

    def __repr__(self) -> str:
        parts = []
        for s in _settings_of(type(self)):
            value = getattr(self, s.name)
            if s.secret and value is not None and not isinstance(value, Secret):
                shown = repr(MASK)
            elif isinstance(value, str):
                shown = repr(mask_url(value))
            else:
                shown = repr(value)
            parts.append("%s=%s" % (s.name, shown))
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))


def from_mapping(settings: Mapping[str, Any], name: str = "AppConfig") -> "Config":
    """A :class:`Config` holding ``settings`` as they are (``CovetApp(config={...})``, the reference's
    form): the keys are setting names (upper-cased), the values are taken as typed; nothing is read
    from the environment or a ``.env`` file.

    Example::

        config = from_mapping({"DEBUG": True, "SECRET_KEY": Secret("...")})
        config.DEBUG   # True
    """
    if not isinstance(settings, Mapping):
        raise TypeError("from_mapping takes a mapping of setting names to values, got %r" % type(settings).__name__)
    attributes: Dict[str, Any] = {"env_file": None}
    bad = []
    for key, value in settings.items():
        upper = key.upper() if isinstance(key, str) else key
        if not isinstance(upper, str) or not _SETTING_NAME.match(upper):
            bad.append(repr(key))
        else:
            attributes[upper] = value
    if bad:
        raise TypeError("config keys are setting names (letters, digits and _), not %s" % ", ".join(bad))
    cls = type(name, (Config,), attributes)
    return cls(environ={})


def reveal(value: Any) -> Any:
    """The value inside a :class:`Secret`; any other value as it is."""
    return value.get_secret_value() if isinstance(value, Secret) else value
