"""covet.config: the .env grammar, typed settings, one ConfigError for every problem, secrets that
never show, and Covet(config=...)."""
import json
import logging
from pathlib import Path
from typing import List, Optional

import pytest

from covet import CovetApp, Covet
from covet.config import (MASK, Config, ConfigError, ConfigProblem, DotenvProblem, DotenvValue, Secret, mask_url,
                          parse_dotenv)
from covet.testing import TestClient


def values_of(text):
    values, problems = parse_dotenv(text)
    assert problems == []
    return {k: v.value for k, v in values.items()}


# -- the .env grammar --------------------------------------------------------------------------

def test_plain_assignments_comments_blank_lines_and_export():
    text = "# a comment\n\nA=1\n  export B=two\nexport\tC = three  \n   # indented comment\n"
    assert values_of(text) == {"A": "1", "B": "two", "C": "three"}


def test_comment_after_an_unquoted_value_needs_a_blank_before_the_hash():
    text = "A=value # comment\nB=value#not-a-comment\nC= # only a comment\nD=#hash\nE=x\t# tab\n"
    assert values_of(text) == {"A": "value", "B": "value#not-a-comment", "C": "", "D": "#hash", "E": "x"}


def test_single_quotes_keep_everything_as_written():
    text = "A='  spaced # not a comment \\n $HOME '  # comment\nB=''\n"
    assert values_of(text) == {"A": "  spaced # not a comment \\n $HOME ", "B": ""}


def test_double_quotes_understand_the_escapes():
    text = r'A="line1\nline2\ttab \"quoted\" back\\slash \$x"' + "\n" + r'B="C:\path\dir"' + "\n"
    assert values_of(text) == {"A": 'line1\nline2\ttab "quoted" back\\slash $x', "B": "C:\\path\\dir"}


def test_quoted_values_may_span_lines():
    text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nNEXT=1\nS=\'a\nb\'\n'
    values, problems = parse_dotenv(text)
    assert problems == []
    assert values == {"KEY": DotenvValue("-----BEGIN KEY-----\nabc\n-----END KEY-----", 1),
                      "NEXT": DotenvValue("1", 4), "S": DotenvValue("a\nb", 5)}


def test_equals_signs_in_values_and_empty_values():
    text = "URL=postgresql://u:p@h/db?sslmode=require&a=b\nEMPTY=\nQ=\"a=b\"\n"
    assert values_of(text) == {"URL": "postgresql://u:p@h/db?sslmode=require&a=b", "EMPTY": "", "Q": "a=b"}


def test_bom_crlf_and_cr_line_ends():
    assert values_of("\ufeffA=1\r\nB=\"x\"\r\nC=3\rD=4") == {"A": "1", "B": "x", "C": "3", "D": "4"}


def test_a_later_line_for_the_same_name_wins():
    values, problems = parse_dotenv("A=first\nB=x\nA=second\n")
    assert problems == [] and values["A"] == DotenvValue("second", 3)


def test_quotes_inside_an_unquoted_value_are_literal():
    assert values_of("A=it's\nB=say \"hi\"\n") == {"A": "it's", "B": 'say "hi"'}


BAD_NAME = ("the name before '=' is not a variable name", "letters, digits and _, not starting with a digit")


def test_bad_lines_are_all_reported_by_number_without_their_text():
    text = ("GOOD=1\n"
            "just-a-secret-pasted-here\n"
            "MY-KEY=1\n"
            "1ABC=2\n"
            'Q="abc" trailing\n'
            "export ONLY\n"
            "=novalue\n"
            "LAST=ok\n"
            'OPEN="never closed\n'
            "AFTER=1\n")
    values, problems = parse_dotenv(text)
    assert problems == [
        DotenvProblem(2, "has no '='", "NAME=value"),
        DotenvProblem(3, *BAD_NAME),
        DotenvProblem(4, *BAD_NAME),
        DotenvProblem(5, "has text after the closing quote", "a comment (# ...) or the end of the line"),
        DotenvProblem(6, "has no '='", "NAME=value"),
        DotenvProblem(7, *BAD_NAME),
        DotenvProblem(9, "the double-quoted value has no closing quote", 'a closing "'),
    ]
    # The unterminated quote is reported and the reading goes on at the next line.
    assert {k: v.value for k, v in values.items()} == {"GOOD": "1", "LAST": "ok", "AFTER": "1"}
    assert "secret" not in repr(problems)


def test_unterminated_single_quote():
    assert parse_dotenv("A='abc\n")[1] == [DotenvProblem(1, "the single-quoted value has no closing quote",
                                                         "a closing '")]


# -- typed settings ----------------------------------------------------------------------------

class ProductionConfig(Config):
    DATABASE_URL: str
    DEBUG: bool = False
    CACHE_TTL: int = 3600
    SECRET_KEY: Secret


class Typed(Config):
    RATIO: float = 0.5
    HOSTS: List[str] = []
    PORTS: List[int] = []
    LIMIT: Optional[int] = None
    NAME: Optional[str] = None
    DATA_DIR: Path = Path("/srv")
    TOKEN: Optional[Secret] = None


GOOD = {"DATABASE_URL": "sqlite:///app.db", "SECRET_KEY": "k3y-value-xyz"}


def make(cls, environ, text=None, tmp_path=None, **overrides):
    env_file = None
    if text is not None:
        env_file = tmp_path / ".env"
        env_file.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return cls(env_file=env_file, environ=environ, **overrides)


def test_values_are_typed():
    config = ProductionConfig(env_file=None, environ=dict(GOOD, DEBUG="On", CACHE_TTL="60"))
    assert config.DATABASE_URL == "sqlite:///app.db"
    assert config.DEBUG is True and config.CACHE_TTL == 60
    assert isinstance(config.SECRET_KEY, Secret) and config.SECRET_KEY.get_secret_value() == "k3y-value-xyz"


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("TRUE", True), ("yes", True), ("On", True), ("1", True), (" true ", True),
    ("false", False), ("No", False), ("OFF", False), ("0", False),
])
def test_booleans(raw, expected):
    assert ProductionConfig(env_file=None, environ=dict(GOOD, DEBUG=raw)).DEBUG is expected


def test_the_other_types():
    config = Typed(env_file=None, environ={"RATIO": "1e-3", "HOSTS": "a.example, b.example,", "PORTS": "80,443",
                                           "LIMIT": "", "NAME": "", "DATA_DIR": "/var/lib/app", "TOKEN": "t"})
    assert config.RATIO == 0.001
    assert config.HOSTS == ["a.example", "b.example"] and config.PORTS == [80, 443]
    assert config.LIMIT is None and config.NAME == ""       # empty: None for Optional[int], "" for str
    assert config.DATA_DIR == Path("/var/lib/app")
    assert config.TOKEN == Secret("t")
    defaults = Typed(env_file=None, environ={})
    assert (defaults.RATIO, defaults.HOSTS, defaults.LIMIT, defaults.DATA_DIR, defaults.TOKEN) == (
        0.5, [], None, Path("/srv"), None)


def test_every_problem_is_reported_at_once_with_exact_messages():
    environ = {"DEBUG": "maybe", "CACHE_TTL": "1h", "SECRET_KEY": ""}
    with pytest.raises(ConfigError) as info:
        ProductionConfig(env_file=None, environ=environ)
    assert info.value.problems == [
        ConfigProblem("DATABASE_URL", "missing from the environment", "a string"),
        ConfigProblem("DEBUG", "'maybe' is not a boolean", "true/false, yes/no, on/off or 1/0"),
        ConfigProblem("CACHE_TTL", "'1h' is not an integer", "an integer such as 3600"),
        ConfigProblem("SECRET_KEY", "'**********' is empty", "a non-empty secret"),
    ]
    assert str(info.value) == (
        "ProductionConfig: 4 problems in the configuration\n"
        "  DATABASE_URL: missing from the environment; expected a string\n"
        "  DEBUG: 'maybe' is not a boolean; expected true/false, yes/no, on/off or 1/0\n"
        "  CACHE_TTL: '1h' is not an integer; expected an integer such as 3600\n"
        "  SECRET_KEY: '**********' is empty; expected a non-empty secret")


def test_malformed_values_of_the_other_types():
    environ = {"RATIO": "nan", "PORTS": "80,http", "LIMIT": "ten", "DATA_DIR": " ", "TOKEN": ""}
    with pytest.raises(ConfigError) as info:
        Typed(env_file=None, environ=environ)
    assert [str(p) for p in info.value.problems] == [
        "RATIO: 'nan' is not a number; expected a number such as 0.5",
        "PORTS: '80,http' item 2 is not an integer; expected a comma-separated list, each item an integer such as 3600",
        "LIMIT: 'ten' is not an integer; expected an integer such as 3600",
        "DATA_DIR: ' ' is empty; expected a file system path",
    ]  # TOKEN is Optional: empty means None


def test_huge_floats_and_ints_with_junk_are_refused():
    with pytest.raises(ConfigError) as info:
        Typed(env_file=None, environ={"RATIO": "1e999", "LIMIT": "1_000"})
    assert [p.problem for p in info.value.problems] == ["'1e999' is not a finite number", "'1_000' is not an integer"]


def test_secrets_never_appear_in_errors_even_when_malformed():
    class Tokens(Config):
        API_TOKEN: int          # secret by its name, whatever its type
    with pytest.raises(ConfigError) as info:
        Tokens(env_file=None, environ={"API_TOKEN": "hunter2-not-an-int"})
    assert str(info.value) == ("Tokens: 1 problem in the configuration\n"
                               "  API_TOKEN: '**********' is not an integer; expected an integer such as 3600")


def test_passwords_in_urls_and_long_values_are_cut_from_errors():
    class Db(Config):
        DATABASE_URL: int
        NOTE: int
    with pytest.raises(ConfigError) as info:
        Db(env_file=None, environ={"DATABASE_URL": "postgresql://app:hunter2@db/prod", "NOTE": "x" * 100})
    assert [p.problem for p in info.value.problems] == [
        "'postgresql://app:**********@db/prod' is not an integer", "'%s...' is not an integer" % ("x" * 60)]


# -- the .env file and the environment ---------------------------------------------------------

def test_the_env_file_is_read_and_the_environment_wins(tmp_path):
    text = "DATABASE_URL=sqlite:///from-file.db\nSECRET_KEY='from file'\nCACHE_TTL=10\n"
    config = make(ProductionConfig, {"CACHE_TTL": "20"}, text, tmp_path)
    assert config.DATABASE_URL == "sqlite:///from-file.db"
    assert config.SECRET_KEY.get_secret_value() == "from file"
    assert config.CACHE_TTL == 20
    assert config.source_of("CACHE_TTL") == "environment"
    assert config.source_of("DATABASE_URL") == "%s line 1" % (tmp_path / ".env")
    assert config.source_of("DEBUG") == "default"


def test_keyword_arguments_win_over_everything(tmp_path):
    config = make(ProductionConfig, dict(GOOD, DEBUG="false"), "DEBUG=false\n", tmp_path, DEBUG="yes", CACHE_TTL=5)
    assert config.DEBUG is True and config.CACHE_TTL == 5 and config.source_of("DEBUG") == "argument"
    with pytest.raises(TypeError, match="ProductionConfig has no setting named NOPE"):
        ProductionConfig(env_file=None, environ=GOOD, NOPE=1)


def test_env_file_problems_come_with_the_settings_problems(tmp_path):
    text = "DATABASE_URL=sqlite:///x.db\nCACHE_TTL=soon\nbroken line\n"
    with pytest.raises(ConfigError) as info:
        make(ProductionConfig, {}, text, tmp_path)
    env = str(tmp_path / ".env")
    assert [str(p) for p in info.value.problems] == [
        "%s line 3: has no '='; expected NAME=value" % env,
        "CACHE_TTL: 'soon' (%s line 2) is not an integer; expected an integer such as 3600" % env,
        "SECRET_KEY: missing from the environment or %s; expected a non-empty secret" % env,
    ]


def test_a_missing_env_file_is_fine_and_the_default_is_dot_env_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ProductionConfig(environ=GOOD).CACHE_TTL == 3600
    (tmp_path / ".env").write_text("CACHE_TTL=7\n")
    assert ProductionConfig(environ=GOOD).CACHE_TTL == 7
    assert ProductionConfig(env_file=None, environ=GOOD).CACHE_TTL == 3600


def test_an_env_file_that_is_not_utf8_or_not_a_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        make(ProductionConfig, GOOD, b"A=1\nB=\xff\n", tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "%s line 2: is not UTF-8; expected a UTF-8 text file" % (tmp_path / ".env")]
    with pytest.raises(ConfigError) as info:
        ProductionConfig(env_file=tmp_path, environ=GOOD)
    assert info.value.problems[0].name == str(tmp_path)
    assert info.value.problems[0].expected == "a readable file or none"


def test_env_prefix(tmp_path):
    class App(Config):
        env_prefix = "MYAPP_"
        PORT: int = 8000
    assert App(env_file=None, environ={"MYAPP_PORT": "9000", "PORT": "1"}).PORT == 9000
    with pytest.raises(ConfigError) as info:
        App(env_file=None, environ={"MYAPP_PORT": "x"})
    assert info.value.problems[0].name == "MYAPP_PORT"


def test_the_os_environment_is_read_by_default(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("DEBUG", "1")
    config = ProductionConfig(env_file=None)
    assert (config.DATABASE_URL, config.DEBUG) == ("sqlite:///env.db", True)


def test_a_config_is_read_only_and_subclasses_inherit_settings():
    config = ProductionConfig(env_file=None, environ=GOOD)
    with pytest.raises(AttributeError, match="ProductionConfig is read-only; pass DEBUG=... when making it"):
        config.DEBUG = True

    class Staging(ProductionConfig):
        DEBUG = True
        EXTRA: int = 1
    assert list(Staging(env_file=None, environ=GOOD).as_dict()) == [
        "DATABASE_URL", "DEBUG", "CACHE_TTL", "SECRET_KEY", "EXTRA"]


def test_lowercase_attributes_methods_and_classvars_are_not_settings():
    from typing import ClassVar

    class C(Config):
        helper = "x"
        LIMITS: ClassVar[int] = 3
        LOGGING = {"version": 1}        # a type the environment cannot give: a constant

        def NAME(self):
            return 1
    config = C(env_file=None, environ={"helper": "y", "LIMITS": "9", "LOGGING": "z", "NAME": "n"})
    assert config.as_dict() == {"LOGGING": {"version": 1}}
    assert config.helper == "x" and config.LIMITS == 3


def test_an_unreadable_annotation_is_a_type_error_naming_it():
    class Bad(Config):
        WHEN: dict
    with pytest.raises(TypeError, match=r"Bad.WHEN: <class 'dict'> cannot be read from the environment"):
        Bad(env_file=None, environ={})


# -- secrets -----------------------------------------------------------------------------------

def test_a_secret_is_masked_everywhere_it_could_be_shown(caplog):
    s = Secret("hunter2")
    assert repr(s) == "Secret('**********')"
    assert str(s) == "%s" % s == f"{s}" == MASK
    assert f"{s:>12}" == "  **********"
    with pytest.raises(TypeError) as info:
        json.dumps({"key": s})
    assert "hunter2" not in str(info.value)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.config").info("key %s %r", s, s)
    assert "hunter2" not in caplog.text and MASK in caplog.text
    assert s.get_secret_value() == "hunter2"
    assert s == Secret("hunter2") and s != Secret("other") and s != "hunter2"
    assert hash(s) == hash(Secret("hunter2")) and bool(Secret("")) is False
    with pytest.raises(TypeError, match="^Secret wraps a str, got int$"):
        Secret(12345)


def test_the_config_repr_masks_secrets_by_type_by_name_and_in_urls():
    class C(Config):
        SECRET_KEY: Secret
        DB_PASSWORD: str
        DATABASE_URL: str
        PLAIN: str
    config = C(env_file=None, environ={"SECRET_KEY": "a", "DB_PASSWORD": "b", "DATABASE_URL": "redis://:c@h:6379/0",
                                       "PLAIN": "d"})
    assert repr(config) == ("C(SECRET_KEY=Secret('**********'), DB_PASSWORD='**********', "
                            "DATABASE_URL='redis://:**********@h:6379/0', PLAIN='d')")
    assert mask_url("postgresql://app:hunter2@db/prod") == "postgresql://app:**********@db/prod"
    assert mask_url("postgresql://app@db/prod") == "postgresql://app@db/prod"
    assert mask_url("https://example.com/a:b@c") == "https://example.com/a:b@c"


# -- the seed's example, verbatim --------------------------------------------------------------

SEED_CONFIG = '''
# config.py
import os
from covet.config import Config

class ProductionConfig(Config):
    DATABASE_URL = os.getenv("DATABASE_URL")
    REDIS_URL = os.getenv("REDIS_URL")
    SECRET_KEY = os.getenv("SECRET_KEY")
    SENTRY_DSN = os.getenv("SENTRY_DSN")
    
    # Security settings
    SECURE_COOKIES = True
    CSRF_PROTECTION = True
    RATE_LIMITING = True
    
    # Performance settings
    CACHE_TTL = 3600
    CONNECTION_POOL_SIZE = 20
'''

SEED_MAIN = '''
# main.py
from config import ProductionConfig

app = CovetApp(config=ProductionConfig())
'''


def run_seed(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(SEED_CONFIG)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "config", raising=False)
    namespace = {"CovetApp": CovetApp}
    exec(compile(SEED_MAIN, str(tmp_path / "main.py"), "exec"), namespace)
    __import__("sys").modules.pop("config", None)
    return namespace["app"]


def test_the_seed_example_verbatim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db/prod")
    monkeypatch.setenv("SECRET_KEY", "seed-secret")
    for name in ("REDIS_URL", "SENTRY_DSN", "SECURE_COOKIES", "CACHE_TTL", "CONNECTION_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("REDIS_URL=redis://cache:6379/0\nCONNECTION_POOL_SIZE=50\n")
    app = run_seed(tmp_path, monkeypatch)
    config = app.config
    assert config.as_dict() == {
        "DATABASE_URL": "postgresql://app:pw@db/prod", "REDIS_URL": "redis://cache:6379/0",
        "SECRET_KEY": "seed-secret", "SENTRY_DSN": None, "SECURE_COOKIES": True, "CSRF_PROTECTION": True,
        "RATE_LIMITING": True, "CACHE_TTL": 3600, "CONNECTION_POOL_SIZE": 50}
    assert repr(config) == (
        "ProductionConfig(DATABASE_URL='postgresql://app:**********@db/prod', REDIS_URL='redis://cache:6379/0', "
        "SECRET_KEY='**********', SENTRY_DSN=None, SECURE_COOKIES=True, CSRF_PROTECTION=True, RATE_LIMITING=True, "
        "CACHE_TTL=3600, CONNECTION_POOL_SIZE=50)")
    assert app.debug is False
    assert app.state.redis_url == "redis://cache:6379/0"
    assert app.memory_cache.default_ttl == 3600.0


def test_the_seed_example_reports_bad_plain_attributes_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SENTRY_DSN", "CACHE_TTL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECURE_COOKIES", "perhaps")
    (tmp_path / ".env").write_text("CONNECTION_POOL_SIZE=twenty\n")
    with pytest.raises(ConfigError) as info:
        run_seed(tmp_path, monkeypatch)
    assert str(info.value) == (
        "ProductionConfig: 2 problems in the configuration\n"
        "  SECURE_COOKIES: 'perhaps' is not a boolean; expected true/false, yes/no, on/off or 1/0\n"
        "  CONNECTION_POOL_SIZE: 'twenty' (.env line 1) is not an integer; expected an integer such as 3600")


# -- the app -----------------------------------------------------------------------------------

def test_covet_config_sets_debug_state_and_cache_ttl():
    config = ProductionConfig(env_file=None, environ=dict(GOOD, DEBUG="true", CACHE_TTL="120"))
    app = CovetApp(config=config)
    assert app.config is config and app.debug is True
    assert app.state.cache_ttl == 120 and app.memory_cache.default_ttl == 120.0
    assert Covet().config is None and Covet().debug is False


def test_an_explicit_debug_argument_wins_over_the_config():
    config = ProductionConfig(env_file=None, environ=dict(GOOD, DEBUG="true"))
    assert Covet(config=config, debug=False).debug is False
    config = ProductionConfig(env_file=None, environ=GOOD)
    assert Covet(config=config, debug=True).debug is True


def test_a_config_that_is_not_one_is_refused():
    message = r"config must be a covet.config.Config \(an object with configure_app\(app\)\), got 'list'"
    with pytest.raises(TypeError, match=message):
        Covet(config=[("DEBUG", True)])


def test_a_dict_config_is_the_references_form():
    app = Covet(config={"DEBUG": True, "cache_ttl": 90, "SECRET_KEY": "k3y-value-xyz-0123456789-abcdefghij"})
    assert app.debug is True and app.state.cache_ttl == 90 and app.config.CACHE_TTL == 90
    assert isinstance(app.secret_key, Secret)
    assert repr(app.config) == "AppConfig(DEBUG=True, CACHE_TTL=90, SECRET_KEY='**********')"
    with pytest.raises(TypeError, match="config keys are setting names"):
        Covet(config={"debug-mode": True})
    with pytest.raises(ConfigError):
        Covet(config={"CACHE_TTL": -1})


def test_a_cache_ttl_that_is_not_positive_is_a_config_error():
    config = ProductionConfig(env_file=None, environ=dict(GOOD, CACHE_TTL="0"))
    with pytest.raises(ConfigError) as info:
        Covet(config=config)
    assert [str(p) for p in info.value.problems] == [
        "CACHE_TTL: 0 is not a positive number of seconds; expected an integer such as 3600"]


def test_the_debug_error_page_does_not_show_the_secret():
    config = ProductionConfig(env_file=None, environ=dict(GOOD, SECRET_KEY="very-secret-value", DEBUG="1"))
    app = Covet(config=config)

    @app.get("/boom")
    def boom():
        key = app.config.SECRET_KEY
        raise RuntimeError("failed with %s and %r (config %r)" % (key, key, app.config))

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Traceback" in response.text
    assert "RuntimeError: failed with ********** and Secret('**********')" in response.text
    assert "very-secret-value" not in response.text


def test_the_env_example_of_the_docs_reads_as_the_docs_say():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    block = doc.split("```sh\n", 1)[1].split("```", 1)[0]
    assert values_of(block) == {
        "DATABASE_URL": "postgresql://app:secret@db/prod", "DEBUG": "false", "CACHE_TTL": "600",
        "GREETING": 'Hello,\n"world"', "PATTERN": "^\\d+$ # kept", "EMPTY": "",
        "PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----"}


@pytest.mark.parametrize("name, secret", [
    ("SECRET_KEY", True), ("DB_PASSWORD", True), ("GITHUB_TOKEN", True), ("SENTRY_DSN", True), ("KEY", True),
    ("STRIPE_API_KEY", True), ("PRIVATE_KEY_PATH", True), ("DEBUG", False), ("MONKEY", False),
    ("KEY_PREFIX", False), ("DATABASE_URL", False),
])
def test_which_names_are_secret(name, secret):
    from covet.config import is_secret_name
    assert is_secret_name(name) is secret


# -- what configure_app wires: the secret, Sentry ----------------------------------------------

def test_secret_key_becomes_app_secret_key_and_covets_security_classes_take_the_secret_as_it_is():
    from covet.security import JWTAuth, SessionMiddleware
    from covet.security.signing import derive_key

    secret = "k3y-value-xyz-0123456789-abcdefghij"
    app = Covet(config=ProductionConfig(env_file=None, environ=dict(GOOD, SECRET_KEY=secret)))
    assert isinstance(app.secret_key, Secret) and app.secret_key.get_secret_value() == secret
    assert Covet().secret_key is None
    # The same key as the revealed string: a token made with one verifies with the other.
    assert derive_key(app.secret_key, b"covet.session") == derive_key(secret, b"covet.session")
    token = JWTAuth(secret_key=app.config.SECRET_KEY).create_token({"sub": "ada"})
    assert JWTAuth(secret_key=secret).decode(token)["sub"] == "ada"
    app.add_middleware(SessionMiddleware, secret_key=app.secret_key)

    @app.get("/login")
    def login(request):
        request.session["user"] = "ada"
        return {"ok": True}

    @app.get("/me")
    def me(request):
        return {"user": request.session.get("user")}

    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
        assert client.get("/me").json() == {"user": "ada"}
        assert secret not in str(client.cookies)


def test_a_str_secret_key_is_wrapped_and_an_empty_one_sets_nothing():
    class Plain(Config):
        SECRET_KEY: str = ""

    app = Covet(config=Plain(env_file=None, environ={"SECRET_KEY": "plain-string-secret-value-0123456"}))
    assert isinstance(app.secret_key, Secret) and repr(app.secret_key) == "Secret('**********')"
    assert Covet(config=Plain(env_file=None, environ={})).secret_key is None


def test_sentry_dsn_adds_the_sentry_integration_with_environment_and_release():
    from covet.monitoring.sentry import SentryIntegration

    class WithSentry(Config):
        SENTRY_DSN: Optional[Secret] = None
        ENVIRONMENT: str = "production"
        RELEASE: Optional[str] = None

    app = Covet(config=WithSentry(env_file=None, environ={
        "SENTRY_DSN": "https://public@sentry.example/42", "ENVIRONMENT": "staging", "RELEASE": "shop@1.4.2"}))
    [sentry] = app._integrations
    assert isinstance(sentry, SentryIntegration)
    assert (sentry.environment, sentry.release, sentry.public_key) == ("staging", "shop@1.4.2", "public")
    assert sentry.endpoint == "https://sentry.example/api/42/envelope/"
    assert Covet(config=WithSentry(env_file=None, environ={}))._integrations == []
