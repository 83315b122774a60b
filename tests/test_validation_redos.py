"""A schema ``pattern`` never stalls the process (regular-expression denial of service,
CWE-1333): lengths are checked before patterns, and every pattern runs in time linear in
the value. Pathological cases run in a child process with a timeout, so a regression
fails in seconds instead of hanging the run."""
import itertools
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from covet.validation import Field, SchemaError, ValidationError, compile_schema
from covet.validation._patterns import compile_pattern, pattern_search
from covet.validation._regex_nfa import MAX_PROGRAM, Program, backtracking_is_linear
from covet.validation._regex_syntax import parse
from covet.validation._types import BASE64_PATTERN

ROOT = Path(__file__).resolve().parents[1]
# Generous for a busy machine (a child interpreter starts in well under a second); every
# pathological case below would take hours with a backtracking matcher.
CHILD_TIMEOUT = 10


def errors(schema, instance, **options):
    with pytest.raises(ValidationError) as info:
        compile_schema(schema, **options)(instance)
    return info.value.errors


def err(loc, msg, type_):
    return {"loc": loc, "msg": msg, "type": type_}


def child_errors(schema, instance):
    """compile_schema(schema)(instance)'s error list, computed in a child process that must
    finish within CHILD_TIMEOUT seconds ([] when the instance is valid)."""
    code = ("import json, sys\n"
            "from covet.validation import ValidationError, compile_schema\n"
            "schema, instance = json.loads(sys.stdin.read())\n"
            "check = compile_schema(schema)\n"
            "try:\n"
            "    check(instance)\n"
            "    print('[]')\n"
            "except ValidationError as exc:\n"
            "    print(json.dumps(exc.errors))\n")
    try:
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps([schema, instance]), cwd=str(ROOT),
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("validating %r against %r took more than %d s" % (instance[:40], schema, CHILD_TIMEOUT))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- lengths before patterns

def test_max_length_failure_skips_a_catastrophic_pattern():
    schema = {"type": "string", "maxLength": 10, "pattern": "^(a+)+$"}
    assert child_errors(schema, "a" * 40 + "!") == [err([], "must be at most 10 characters long", "maxLength")]


def test_length_failure_skips_the_pattern():
    assert errors({"maxLength": 3, "pattern": "^b"}, "aaaa") == [
        err([], "must be at most 3 characters long", "maxLength")]
    # formats are covet's own linear checks: they still report beside a length error
    assert errors({"maxLength": 3, "format": "uuid", "pattern": "^b"}, "xxxx") == [
        err([], "must be at most 3 characters long", "maxLength"), err([], "must be a UUID", "format")]
    # a value under minLength is short: its pattern error is listed too (forms show both)
    assert errors({"minLength": 5, "pattern": "^b"}, "aaaa") == [
        err([], "must be at least 5 characters long", "minLength"), err([], 'must match pattern "^b"', "pattern")]
    # both length errors are still reported when a schema declares impossible bounds
    assert errors({"minLength": 5, "maxLength": 3, "pattern": "^b"}, "aaaa") == [
        err([], "must be at least 5 characters long", "minLength"),
        err([], "must be at most 3 characters long", "maxLength")]
    # lengths that pass leave the pattern checked
    assert errors({"minLength": 1, "maxLength": 5, "pattern": "^b"}, "aaaa") == [
        err([], 'must match pattern "^b"', "pattern")]


# ---------------------------------------------------------------- linear-time patterns

def children_errors(cases):
    """child_errors for many (schema, instance) cases in one child process."""
    code = ("import json, sys\n"
            "from covet.validation import ValidationError, compile_schema\n"
            "out = []\n"
            "for schema, instance in json.loads(sys.stdin.read()):\n"
            "    try:\n"
            "        compile_schema(schema)(instance)\n"
            "        out.append([])\n"
            "    except ValidationError as exc:\n"
            "        out.append(exc.errors)\n"
            "print(json.dumps(out))\n")
    try:
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), cwd=str(ROOT),
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("validating %d pathological cases took more than %d s" % (len(cases), CHILD_TIMEOUT))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# With re's backtracking search each takes hours (exponential) or well over a minute
# (quadratic on 100,000 characters, cubic on 5,000).
PATHOLOGICAL = [
    ("^(a+)+$", "a" * 40 + "!"),
    ("^(a|a)*$", "a" * 40 + "!"),
    ("^(a|aa)+$", "a" * 60 + "!"),
    ("^(\\w+\\s?)+$", "word " * 10 + "word!"),
    ("^(.*a){20}$", "a" * 40 + "!"),
    ("^([a-z0-9]+[-.]?)+@example\\.com$", "a" * 40 + "@example"),
    ("(x+x+)+y", "x" * 40),
    ("[0-9]+x", "1" * 100_000),
    ("^[0-9]*[0-9]*[0-9]*x$", "1" * 5000),
]


def test_pathological_patterns_answer_promptly():
    cases = [[{"pattern": pattern}, value] for pattern, value in PATHOLOGICAL]
    assert children_errors(cases) == [[err([], "must match pattern %s" % json.dumps(pattern), "pattern")]
                                      for pattern, _ in PATHOLOGICAL]


def test_pathological_property_name_patterns_answer_promptly():
    schema = {"patternProperties": {"^(a+)+$": {"type": "integer"}}, "additionalProperties": False}
    assert children_errors([[schema, {"a" * 40 + "!": 1}]]) == [
        [err(["a" * 40 + "!"], "additional property not allowed", "additionalProperties")]]


# ---------------------------------------------------------------- refused features

@pytest.mark.parametrize("pattern, feature", [
    (r"(a)\1", "backreferences"), (r"(?P<x>a)(?P=x)", "backreferences"), (r"(a)(b)\2", "backreferences"),
    (r"^(?=.*[0-9]).{8,}$", "lookahead and lookbehind assertions"), (r"a(?!b)", "lookahead and lookbehind assertions"),
    (r"(?<=a)b", "lookahead and lookbehind assertions"), (r"(?<!a)b", "lookahead and lookbehind assertions"),
    (r"(a)?(?(1)b|c)", "conditional groups"),
] + ([(r"(?>a+)b", "atomic groups"), (r"a++b", "possessive quantifiers")] if sys.version_info >= (3, 11) else []))
def test_features_without_a_linear_matcher_are_schema_errors(pattern, feature):
    message = "uses %s, which cannot be matched in time linear in the value" % feature
    with pytest.raises(SchemaError, match=re.escape(message)):
        compile_schema({"pattern": pattern})
    with pytest.raises(SchemaError, match="patternProperties key"):
        compile_schema({"patternProperties": {pattern: {}}})
    with pytest.raises(SchemaError, match=re.escape("Field(pattern=...)")):
        Field(pattern=pattern)


def test_octal_escapes_are_characters_not_backreferences():
    assert pattern_search(r"^\101\0$")("A\x00") is not None  # \101 is "A", \0 is NUL


def test_a_pattern_too_large_for_the_automaton_is_a_schema_error():
    with pytest.raises(SchemaError, match="needs more than %d automaton states" % MAX_PROGRAM):
        compile_schema({"pattern": "(a|ab){1,5000}(a|b){1,5000}c"})
    # the same counts are fine where re is proved linear (no automaton is built)
    assert compile_schema({"pattern": "^[a-z]{1,5000}-[0-9]{1,5000}$"})("ab-12") == "ab-12"


# ---------------------------------------------------------------- which matcher runs

@pytest.mark.parametrize("pattern", [
    "^[a-z]+$", "^[A-Z]{3}$", "^[0-9]{5}$", "^x-", "f.o", "^á", "a+", "^a*$", "^\\d+x", "^\\d+-\\d+$",
    "^[^@]+@[^@]+$", "(?i)^[a-z]+$", "^[a-z]+(?:,[a-z]+)*;?$", "^-?[0-9]+$", BASE64_PATTERN,
])
def test_patterns_proved_linear_run_on_re(pattern):
    assert isinstance(pattern_search(pattern).__self__, re.Pattern)


@pytest.mark.parametrize("pattern", [p for p, _ in PATHOLOGICAL] + [
    "^(a|ab)*c$", "^[^@]+@[^@]+\\.[^@]+$", "\\d+x", "^(\\w|\\d)+$", "^a*a*$", "(?m)^a+$", "^(a?)+b$",
])
def test_other_patterns_run_on_the_automaton(pattern):
    assert isinstance(pattern_search(pattern).__self__, Program)


def test_base64_pattern_is_the_padded_rfc4648_language():
    # every base64 alphabet character behaves alike, so "a" and "=" cover all cases
    older = re.compile("^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\\Z")
    search = pattern_search(BASE64_PATTERN)
    for size in range(10):
        for chars in itertools.product("a=", repeat=size):
            value = "".join(chars)
            assert (search(value) is None) == (older.search(value) is None), value
    assert search("aGk=\n") is None


# ---------------------------------------------------------------- the automaton agrees with re

def automaton(pattern):
    compiled = compile_pattern(pattern)
    return Program(parse(compiled.pattern, compiled.flags)).search, compiled.search


AGREEMENT = [
    ("^[a-z]+$", ["abc", "abc\n", "", "aBc", "a-b"]),
    ("b+", ["abbbc", "ac", ""]),
    ("^$", ["", "\n", "a"]),
    ("(?m)^a$", ["b\na\nc", "ba", "a\n"]),
    ("(?m)a$", ["a\nb", "ab"]),
    ("\\bfoo\\b", ["a foo b", "afoo", "foo", "foobar"]),
    ("\\Bo\\B", ["foo", "o", " o "]),
    ("\\Aab\\Z", ["ab", "ab\n", "xab"]),
    ("(?i)straße", ["STRASSE", "Straße", "STRAẞE"]),
    ("(?i:k)", ["\u212a", "K", "x"]),
    ("(?i)[a-z]+[^a-z]", ["ABC1", "ABC", "é!"]),
    ("(?s)a.b", ["a\nb", "axb"]),
    ("a.b", ["a\nb", "axb"]),
    ("\\w+", ["é", "_", "-", "٣"]),
    ("(?a)^\\w+$", ["é", "abc", "a_1"]),
    ("(?a:\\w)x", ["éx", "ax"]),
    ("^\\d{2,3}$", ["1", "12", "123", "1234", "٣٣"]),
    ("^a{,2}$", ["", "a", "aa", "aaa"]),
    ("^a{2,}$", ["a", "aa", "aaaa"]),
    ("^a{}$", ["a{}", "a"]),
    ("^a{x$", ["a{x"]),
    ("^a{1,2$", ["a{1,2", "a"]),
    ("^(?:ab|a)(?:bc|c)$", ["abc", "abbc", "ac"]),
    ("^(a|b|)+$", ["", "abba", "abc"]),
    ("^(?:a*)*$", ["", "aaa", "b"]),
    ("^(?:a?)*?b$", ["b", "aab", "aa"]),
    ("[]a]", ["]", "a", "b"]),
    ("[^]a]", ["]", "b"]),
    ("[a\\-z]", ["-", "b"]),
    ("[\\d.]+x", ["1.2x", "x"]),
    ("^[\\x41-\\x43]$", ["B", "D"]),
    ("^\\u00e9\\N{LATIN SMALL LETTER A}$", ["éa", "ea"]),
    ("^\\$\\.\\*$", ["$.*", "$a*"]),
    ("[$]x", ["$x", "x"]),
    ("(?x) ^ a b  # comment\n c $", ["abc", "a b c"]),
    ("(?x)^[ ]a\\ b$", [" a b", "ab"]),
    ("^a(?#note)+$", ["aaa", "a(?#note)"]),
    ("^(?P<word>[a-z]+)-(?:[0-9]+)$", ["ab-12", "ab-"]),
    ("colou?r|gr[ae]y", ["color", "colour", "grey", "gruy"]),
    ("^(a+)+$", ["a" * 20, "a" * 20 + "!"]),
    (BASE64_PATTERN, ["aGk=", "aGk", "aG==", "a===", ""]),
]


@pytest.mark.parametrize("pattern, values", AGREEMENT)
def test_automaton_agrees_with_re(pattern, values):
    nfa, backtracking = automaton(pattern)
    for value in values:
        assert (nfa(value) is None) == (backtracking(value) is None), (pattern, value)


def _random_pattern(rng, depth=0):
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(["a", "b", ".", "[ab]", "[^a]", "\\n", "^", "$", "\\b", "\\B", "(?:)"])
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if kind == 1:
        return "(?:%s)" % "|".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    quantifier = rng.choice(["*", "+", "?", "{2}", "{1,3}", "{,2}", "{2,}"]) + rng.choice(["", "?"])
    return "(?:%s)%s" % (_random_pattern(rng, depth + 1), quantifier)


def test_automaton_agrees_with_re_on_random_patterns():
    rng = random.Random(12)
    values = ["".join(chars) for size in range(5) for chars in itertools.product("ab\n", repeat=size)]
    checked = 0
    while checked < 300:
        pattern = _random_pattern(rng)
        try:
            nfa, backtracking = automaton(pattern)
        except SchemaError:
            continue  # a random pattern re itself refuses
        checked += 1
        for value in values:
            assert (nfa(value) is None) == (backtracking(value) is None), (pattern, value)


def test_random_patterns_proved_linear_are_fast_on_re():
    rng = random.Random(7)
    proved = []
    while len(proved) < 300:
        pattern = _random_pattern(rng)
        try:
            compiled = compile_pattern(pattern)
        except SchemaError:
            continue
        if backtracking_is_linear(parse(compiled.pattern, compiled.flags)):
            proved.append(pattern)
    # 300 patterns x 6 values of 4,000 characters: well under a second when linear, far
    # past the timeout if any of them backtracked quadratically or worse
    code = ("import json, sys\n"
            "from covet.validation._patterns import pattern_search\n"
            "values = ['a' * 4000 + 'b', 'b' * 4000 + 'a', 'ab' * 2000 + '\\n', 'a' * 4000 + '\\n',\n"
            "          '\\n' * 4000 + 'c', 'ba' * 2000]\n"
            "for pattern in json.loads(sys.stdin.read()):\n"
            "    search = pattern_search(pattern)\n"
            "    assert type(search.__self__).__name__ == 'Pattern', pattern\n"
            "    for value in values:\n"
            "        search(value)\n")
    try:
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(proved), cwd=str(ROOT),
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("re took more than %d s on patterns proved linear" % CHILD_TIMEOUT)
    assert done.returncode == 0, done.stderr


def test_automaton_patterns_compile_once(monkeypatch):
    check = compile_schema({"properties": {"name": {"pattern": "(?i)^(\\w+\\s?)+$"}}})

    def refuse(*args, **kwargs):
        raise AssertionError("re.compile called while validating")
    monkeypatch.setattr(re, "compile", refuse)
    for _ in range(3):
        assert check({"name": "Ada Lovelace"})
        with pytest.raises(ValidationError):
            check({"name": "Ada!"})
