"""HTTP status codes and their reason phrases, one table for the whole framework.

Example::

    from covet import status
    status.phrase(422)          # 'Unprocessable Content'
    status.HTTP_404_NOT_FOUND   # 404
"""
import http

__all__ = ["phrase", "PHRASES", "NO_CONTENT", "NO_CONTENT_LENGTH"]

PHRASES = {s.value: s.phrase for s in http.HTTPStatus}
# RFC 9110 §15 names, which Python only adopted in 3.13: pinned so that a
# status line or a problem title does not change with the interpreter.
PHRASES.update({413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable",
                422: "Unprocessable Content"})

for _code, _phrase in PHRASES.items():
    globals()["HTTP_%d_%s" % (_code, _phrase.upper().replace(" ", "_").replace("-", "_").replace("'", ""))] = _code
    __all__.append("HTTP_%d_%s" % (_code, _phrase.upper().replace(" ", "_").replace("-", "_").replace("'", "")))
del _code, _phrase


# Answers that end at their head whatever body was set (RFC 9112 §6.3), and
# those that must not even carry a Content-Length (RFC 9110 §8.6).
NO_CONTENT = frozenset(range(100, 200)) | {204, 304}
NO_CONTENT_LENGTH = frozenset(range(100, 200)) | {204}


def phrase(status_code):
    """The reason phrase for a status code ('' for unknown codes)."""
    return PHRASES.get(status_code, "")
