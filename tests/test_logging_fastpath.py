"""covet.logging's fast paths give the lines the plain paths would: the pre-checks before each
masking regex never skip a text the regex would mask, plain records and the prebuilt JSON encoder
write what the general code writes, and StructuredLogger's own record goes where Logger.log's
would."""
import io
import json
import logging
import random
import re
import sys

import pytest

from covet.logging import (_BEARER, _CARD, _EMAIL, _PLAIN_LEN, _RUN, _RUN_ASCII, JSONFormatter, StructuredLogger,
                           _encode, _encode_fields, _mask_text, log_context, mask_pii)


def full_mask(text):
    """What masking wrote before the pre-checks: every regex, always."""
    def card(match):
        from covet.logging import luhn_valid
        return "[card]" if luhn_valid(re.sub(r"[ -]", "", match.group())) else match.group()
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(card, text)
    return _BEARER.sub(lambda m: m.group(1) + " [masked]", text)


TRICKY = [
    "ada@example.com", "José.ß@exämple.com", "ada@例え.jp", "ünïcode ada@example.co.uk ok", "@", "a@b",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "4111 1111-1111 1111",
    "1 2 3 4 5 6 7 8 9 0 1 2 8", "x4111111111111111x", "-4111111111111111", "41111111111111111111111",
    "٤١١١١١١١١١١١١١١١",  # Arabic-Indic digits: \d matches them
    "4111 1111 1111 111", "  4111  1111 1111 1111", "order 4111111111111112",
    "Bearer abc", "BEARER abc", "BeArEr abc.def", "bearer\tabc", "BASIC dXNl", "baſic dXNl", "Authorization: Basic x=",
    "bearerabc", "card 5500 0000 0000 0004 to ada@example.com with Bearer t0k",
    "GET /orders 200 12ms 127.0.0.1:50312", "nothing here", "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_the_pre_checks_mask_what_the_full_regexes_mask(text):
    assert _mask_text(text) == full_mask(text) == mask_pii(text)


def test_the_pre_checks_hold_for_every_match_on_random_text():
    rng = random.Random(17)
    alphabet = "0123456789    --@.abBeErRsSiIcC\t٣ſ"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        if _CARD.search(text):
            assert (_RUN_ASCII if text.isascii() else _RUN).search(text), text
        assert _mask_text(text) == full_mask(text), text


def test_only_b_and_B_start_a_credential_match():
    # The credential pre-check looks for "b" or "B": no other character matches (?i)b.
    pattern = re.compile(r"(?i)b")
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if pattern.fullmatch(c)] == ["B", "b"]


def test_masking_in_nested_extra_fields_and_in_exception_text():
    formatter = JSONFormatter()
    try:
        raise ValueError("failed for ada@example.com with Bearer s3cret and card 4111 1111 1111 1111")
    except ValueError:
        rec = logging.LogRecord("shop", logging.ERROR, __file__, 1, "BEARER %s", ("t0k",), sys.exc_info())
    rec.payload = {"users": [{"mail": "bo@example.org", "Password": "x"}, ("5500-0000-0000-0004",)],
                   "apiKey": None, "note": "basic dXNl"}
    line = formatter.format(rec)
    assert "example" not in line and "s3cret" not in line and "4111" not in line and "t0k" not in line
    data = json.loads(line)
    assert data["message"] == "BEARER [masked]"
    assert data["payload"] == {"users": [{"mail": "[email]", "Password": "[masked]"}, ["[card]"]], "apiKey": None,
                               "note": "basic [masked]"}
    assert "ValueError: failed for [email] with Bearer [masked] and card [card]" in data["exception"]


def test_a_plain_record_has_no_extra_fields_whatever_the_logging_switches():
    logger = logging.getLogger("test.fastpath.plain")
    saved = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    try:
        for switches in [(True, True, True), (False, False, False)]:
            logging.logThreads, logging.logProcesses, logging.logMultiprocessing = switches
            rec = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "m", (), None)
            assert len(rec.__dict__) == _PLAIN_LEN
    finally:
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved


def test_extra_fields_are_found_after_another_formatter_ran_first():
    rec = logging.LogRecord("shop", logging.INFO, __file__, 1, "m", (), None)
    rec.order = 7
    logging.Formatter("%(asctime)s %(message)s").format(rec)  # adds "message" and "asctime"
    assert json.loads(JSONFormatter().format(rec))["order"] == 7
    plain = logging.LogRecord("shop", logging.INFO, __file__, 1, "m", (), None)
    logging.Formatter("%(asctime)s %(message)s").format(plain)
    assert set(json.loads(JSONFormatter().format(plain))) == {"timestamp", "level", "logger", "message"}


@pytest.mark.parametrize("fields", [
    {"s": "a\nb\"c\u2028é", "i": 7, "f": 12.5, "b": True, "n": None, "big": 10 ** 30},
    {"nested": {"l": [1, [2, {"x": "y"}]], "t": (1, 2)}, "nan": float("nan"), "inf": float("-inf")},
    {"odd": b"\xff", "obj": ValueError("v"), 3: "int key", 1.5: "float key"},
])
def test_the_prebuilt_encoder_writes_what_json_encoder_writes(fields):
    assert _encode_fields(fields) == _encode(fields)


def test_a_field_that_contains_itself_loses_the_line_not_the_logger():
    stream = io.StringIO()
    logger = StructuredLogger(stream=stream, name="test.fastpath.circular", pii=False)
    loop = {}
    loop["loop"] = [loop]
    saved = logging.raiseExceptions
    logging.raiseExceptions = False  # handleError stays silent
    try:
        logger.info("circular", data=loop)
    finally:
        logging.raiseExceptions = saved
    logger.info("next")
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["next"]


def test_structured_logger_records_point_at_the_caller_and_pass_filters_and_handlers():
    stream = io.StringIO()
    logger = StructuredLogger(stream=stream, name="test.fastpath.caller")
    assert logger._direct
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    mine = Keep()
    logger.logger.addHandler(mine)
    logger.logger.addFilter(lambda record: "drop" not in record.getMessage())
    try:
        line = sys._getframe().f_lineno + 1
        logger.info("hello %s", "you", order=1)
        logger.info("drop me")
        with logger.timed("block"):
            line_timed = sys._getframe().f_lineno - 1
    finally:
        logger.logger.removeHandler(mine)
        logger.logger.filters.clear()
    assert [r.getMessage() for r in seen] == ["hello you", "block"]
    assert (seen[0].pathname, seen[0].lineno, seen[0].funcName) == (__file__, line, sys._getframe().f_code.co_name)
    # A with-block's __exit__ runs "on" the with line from 3.10 on; 3.9 reports the block's last line.
    assert seen[1].lineno == (line_timed if sys.version_info >= (3, 10) else line_timed + 1)
    assert seen[1].funcName == sys._getframe().f_code.co_name
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == ["hello you", "block"]
    saved = logging._srcfile
    logging._srcfile = None  # the stdlib's switch for "do not look for the caller"
    try:
        logger.logger.addHandler(mine)
        logger.info("no caller")
    finally:
        logging._srcfile = saved
        logger.logger.removeHandler(mine)
    assert (seen[2].pathname, seen[2].lineno, seen[2].funcName) == ("(unknown file)", 0, "(unknown function)")


def test_a_logger_subclass_keeps_the_stdlib_path():
    class Counting(logging.Logger):
        calls = 0

        def _log(self, *args, **kwargs):
            Counting.calls += 1
            super()._log(*args, **kwargs)

    saved = logging.getLoggerClass()
    logging.setLoggerClass(Counting)
    try:
        stream = io.StringIO()
        logger = StructuredLogger(stream=stream, name="test.fastpath.subclass")
    finally:
        logging.setLoggerClass(saved)
    assert not logger._direct
    try:
        raise KeyError("k")
    except KeyError:
        logger.exception("failed", order=2)
    data = json.loads(stream.getvalue())
    assert Counting.calls == 1 and data["order"] == 2 and "KeyError: 'k'" in data["exception"]


def test_structured_logger_exception_on_the_direct_path():
    stream = io.StringIO()
    logger = StructuredLogger(stream=stream, name="test.fastpath.exc")
    with log_context(request_id="r-9"):
        try:
            raise KeyError("ada@example.com")
        except KeyError:
            logger.exception("failed")
    data = json.loads(stream.getvalue())
    assert data["correlation_id"] == "r-9" and "KeyError: '[email]'" in data["exception"]
