"""HTTP status codes and their reason phrases, one table for the whole framework.

Example::

    from covet import status
    status.phrase(422)          # 'Unprocessable Content'
    status.HTTP_404_NOT_FOUND   # 404
"""
from typing import Dict, FrozenSet

__all__ = [
    "phrase", "PHRASES", "NO_CONTENT", "NO_CONTENT_LENGTH",
    "HTTP_100_CONTINUE", "HTTP_101_SWITCHING_PROTOCOLS", "HTTP_102_PROCESSING", "HTTP_103_EARLY_HINTS",
    "HTTP_200_OK", "HTTP_201_CREATED", "HTTP_202_ACCEPTED", "HTTP_203_NON_AUTHORITATIVE_INFORMATION",
    "HTTP_204_NO_CONTENT", "HTTP_205_RESET_CONTENT", "HTTP_206_PARTIAL_CONTENT", "HTTP_207_MULTI_STATUS",
    "HTTP_208_ALREADY_REPORTED", "HTTP_226_IM_USED", "HTTP_300_MULTIPLE_CHOICES",
    "HTTP_301_MOVED_PERMANENTLY", "HTTP_302_FOUND", "HTTP_303_SEE_OTHER", "HTTP_304_NOT_MODIFIED",
    "HTTP_305_USE_PROXY", "HTTP_307_TEMPORARY_REDIRECT", "HTTP_308_PERMANENT_REDIRECT",
    "HTTP_400_BAD_REQUEST", "HTTP_401_UNAUTHORIZED", "HTTP_402_PAYMENT_REQUIRED", "HTTP_403_FORBIDDEN",
    "HTTP_404_NOT_FOUND", "HTTP_405_METHOD_NOT_ALLOWED", "HTTP_406_NOT_ACCEPTABLE",
    "HTTP_407_PROXY_AUTHENTICATION_REQUIRED", "HTTP_408_REQUEST_TIMEOUT", "HTTP_409_CONFLICT",
    "HTTP_410_GONE", "HTTP_411_LENGTH_REQUIRED", "HTTP_412_PRECONDITION_FAILED", "HTTP_413_CONTENT_TOO_LARGE",
    "HTTP_414_URI_TOO_LONG", "HTTP_415_UNSUPPORTED_MEDIA_TYPE", "HTTP_416_RANGE_NOT_SATISFIABLE",
    "HTTP_417_EXPECTATION_FAILED", "HTTP_418_IM_A_TEAPOT", "HTTP_421_MISDIRECTED_REQUEST",
    "HTTP_422_UNPROCESSABLE_CONTENT", "HTTP_423_LOCKED", "HTTP_424_FAILED_DEPENDENCY", "HTTP_425_TOO_EARLY",
    "HTTP_426_UPGRADE_REQUIRED", "HTTP_428_PRECONDITION_REQUIRED", "HTTP_429_TOO_MANY_REQUESTS",
    "HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE", "HTTP_451_UNAVAILABLE_FOR_LEGAL_REASONS",
    "HTTP_500_INTERNAL_SERVER_ERROR", "HTTP_501_NOT_IMPLEMENTED", "HTTP_502_BAD_GATEWAY",
    "HTTP_503_SERVICE_UNAVAILABLE", "HTTP_504_GATEWAY_TIMEOUT", "HTTP_505_HTTP_VERSION_NOT_SUPPORTED",
    "HTTP_506_VARIANT_ALSO_NEGOTIATES", "HTTP_507_INSUFFICIENT_STORAGE", "HTTP_508_LOOP_DETECTED",
    "HTTP_510_NOT_EXTENDED", "HTTP_511_NETWORK_AUTHENTICATION_REQUIRED", "HTTP_413_REQUEST_ENTITY_TOO_LARGE",
    "HTTP_414_REQUEST_URI_TOO_LONG", "HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE",
    "HTTP_422_UNPROCESSABLE_ENTITY",
]

# Reason phrases of the IANA HTTP Status Code Registry (RFC 9110 §15), written out so that a
# status line or a problem title does not change with the interpreter: Python adopted the RFC
# 9110 names of 413, 414, 416 and 422 only in 3.13. A test compares this table to http.HTTPStatus.
PHRASES: Dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a Teapot",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}

HTTP_100_CONTINUE: int = 100
HTTP_101_SWITCHING_PROTOCOLS: int = 101
HTTP_102_PROCESSING: int = 102
HTTP_103_EARLY_HINTS: int = 103
HTTP_200_OK: int = 200
HTTP_201_CREATED: int = 201
HTTP_202_ACCEPTED: int = 202
HTTP_203_NON_AUTHORITATIVE_INFORMATION: int = 203
HTTP_204_NO_CONTENT: int = 204
HTTP_205_RESET_CONTENT: int = 205
HTTP_206_PARTIAL_CONTENT: int = 206
HTTP_207_MULTI_STATUS: int = 207
HTTP_208_ALREADY_REPORTED: int = 208
HTTP_226_IM_USED: int = 226
HTTP_300_MULTIPLE_CHOICES: int = 300
HTTP_301_MOVED_PERMANENTLY: int = 301
HTTP_302_FOUND: int = 302
HTTP_303_SEE_OTHER: int = 303
HTTP_304_NOT_MODIFIED: int = 304
HTTP_305_USE_PROXY: int = 305
HTTP_307_TEMPORARY_REDIRECT: int = 307
HTTP_308_PERMANENT_REDIRECT: int = 308
HTTP_400_BAD_REQUEST: int = 400
HTTP_401_UNAUTHORIZED: int = 401
HTTP_402_PAYMENT_REQUIRED: int = 402
HTTP_403_FORBIDDEN: int = 403
HTTP_404_NOT_FOUND: int = 404
HTTP_405_METHOD_NOT_ALLOWED: int = 405
HTTP_406_NOT_ACCEPTABLE: int = 406
HTTP_407_PROXY_AUTHENTICATION_REQUIRED: int = 407
HTTP_408_REQUEST_TIMEOUT: int = 408
HTTP_409_CONFLICT: int = 409
HTTP_410_GONE: int = 410
HTTP_411_LENGTH_REQUIRED: int = 411
HTTP_412_PRECONDITION_FAILED: int = 412
HTTP_413_CONTENT_TOO_LARGE: int = 413
HTTP_414_URI_TOO_LONG: int = 414
HTTP_415_UNSUPPORTED_MEDIA_TYPE: int = 415
HTTP_416_RANGE_NOT_SATISFIABLE: int = 416
HTTP_417_EXPECTATION_FAILED: int = 417
HTTP_418_IM_A_TEAPOT: int = 418
HTTP_421_MISDIRECTED_REQUEST: int = 421
HTTP_422_UNPROCESSABLE_CONTENT: int = 422
HTTP_423_LOCKED: int = 423
HTTP_424_FAILED_DEPENDENCY: int = 424
HTTP_425_TOO_EARLY: int = 425
HTTP_426_UPGRADE_REQUIRED: int = 426
HTTP_428_PRECONDITION_REQUIRED: int = 428
HTTP_429_TOO_MANY_REQUESTS: int = 429
HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE: int = 431
HTTP_451_UNAVAILABLE_FOR_LEGAL_REASONS: int = 451
HTTP_500_INTERNAL_SERVER_ERROR: int = 500
HTTP_501_NOT_IMPLEMENTED: int = 501
HTTP_502_BAD_GATEWAY: int = 502
HTTP_503_SERVICE_UNAVAILABLE: int = 503
HTTP_504_GATEWAY_TIMEOUT: int = 504
HTTP_505_HTTP_VERSION_NOT_SUPPORTED: int = 505
HTTP_506_VARIANT_ALSO_NEGOTIATES: int = 506
HTTP_507_INSUFFICIENT_STORAGE: int = 507
HTTP_508_LOOP_DETECTED: int = 508
HTTP_510_NOT_EXTENDED: int = 510
HTTP_511_NETWORK_AUTHENTICATION_REQUIRED: int = 511

# The names these four codes had before RFC 9110 (RFC 7231, RFC 4918), as Starlette and older
# Pythons spell them: code written against those keeps working.
HTTP_413_REQUEST_ENTITY_TOO_LARGE: int = 413
HTTP_414_REQUEST_URI_TOO_LONG: int = 414
HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE: int = 416
HTTP_422_UNPROCESSABLE_ENTITY: int = 422

# Answers that end at their head whatever body was set (RFC 9112 §6.3), and
# those that must not even carry a Content-Length (RFC 9110 §8.6).
NO_CONTENT: FrozenSet[int] = frozenset(range(100, 200)) | {204, 304}
NO_CONTENT_LENGTH: FrozenSet[int] = frozenset(range(100, 200)) | {204}



def phrase(status_code: int) -> str:
    """The reason phrase for a status code ('' for unknown codes).

    Example::

        phrase(404)  # 'Not Found'
    """
    return PHRASES.get(status_code, "")
