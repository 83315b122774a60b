"""A schema ``pattern`` never stalls the process (regular-expression denial of service,
CWE-1333): lengths are checked before patterns, and every pattern runs in time linear in
the value. Pathological cases run in a child process with a timeout, so a regression
fails in seconds instead of hanging the run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from covet.validation import ValidationError, compile_schema

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


def test_min_length_failure_skips_a_catastrophic_pattern():
    schema = {"type": "string", "minLength": 50, "pattern": "^(a+)+$"}
    assert child_errors(schema, "a" * 40 + "!") == [err([], "must be at least 50 characters long", "minLength")]


def test_length_failure_skips_the_pattern():
    assert errors({"maxLength": 3, "pattern": "^b"}, "aaaa") == [
        err([], "must be at most 3 characters long", "maxLength")]
    # formats are covet's own linear checks: they still report beside a length error
    assert errors({"minLength": 5, "format": "uuid", "pattern": "^b"}, "x") == [
        err([], "must be at least 5 characters long", "minLength"), err([], "must be a UUID", "format")]
    # both length errors are still reported when a schema declares impossible bounds
    assert errors({"minLength": 5, "maxLength": 3, "pattern": "^b"}, "aaaa") == [
        err([], "must be at least 5 characters long", "minLength"),
        err([], "must be at most 3 characters long", "maxLength")]
    # lengths that pass leave the pattern checked
    assert errors({"minLength": 1, "maxLength": 5, "pattern": "^b"}, "aaaa") == [
        err([], 'must match pattern "^b"', "pattern")]
