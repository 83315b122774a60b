"""The server's settings: every limit and deadline as a named default with its reason.

``ServerConfig`` gathers them; ``python -m covet run`` options and ``app.run(...)`` keywords map
onto its arguments (docs/server.md has the table).
"""
import ssl as ssl_module

from ..core._paths import PLAIN_PATH
from .http11 import Limits
from .proxy import TrustedProxies

__all__ = ["ServerConfig", "DEFAULT_HEAD_TIMEOUT", "DEFAULT_KEEPALIVE_TIMEOUT", "DEFAULT_BODY_TIMEOUT",
           "DEFAULT_MIN_BODY_RATE", "DEFAULT_MAX_CONNECTIONS", "DEFAULT_MAX_CONNECTIONS_PER_CLIENT", "DEFAULT_SHUTDOWN_TIMEOUT", "DEFAULT_BACKLOG",
           "READ_SIZE", "WRITE_HIGH_WATER", "SENDFILE_SLICE", "INLINE_FILE_MAX", "LINGER_TIMEOUT", "SHED_BATCH", "SHED_LOG_INTERVAL",
           "shed_batch", "DEFAULT_WS_PING_INTERVAL", "DEFAULT_WS_PING_TIMEOUT", "DEFAULT_WS_MAX_MESSAGE_SIZE",
           "DEFAULT_WS_PER_MESSAGE_DEFLATE", "DEFAULT_WS_HANDSHAKE_TIMEOUT", "DEFAULT_WS_IDLE_TIMEOUT"]

# Defaults, each with its reason (docs/server.md has the table).
DEFAULT_HEAD_TIMEOUT = 10.0       # whole request head, from accept or from its first byte: slowloris bound
DEFAULT_KEEPALIVE_TIMEOUT = 5.0   # idle between requests; nginx uses 75 s, uvicorn 5 s
DEFAULT_BODY_TIMEOUT = 30.0       # waiting for the next piece of a request body
# After the first body_timeout of waiting, a body must keep coming at this rate
# (bytes per second), as Apache's mod_reqtimeout MinRate: a client trickling a
# byte every few seconds cannot hold a connection until the size limit.
DEFAULT_MIN_BODY_RATE = 500
DEFAULT_MAX_CONNECTIONS = 1000    # bounds memory; at it, idle connections make room for new clients
# Off: behind a proxy every client has the proxy's address, and NAT puts many users behind
# one. Set it when clients connect directly, so that one address cannot hold every slot with
# requests under way (which are never closed to make room).
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = None
DEFAULT_SHUTDOWN_TIMEOUT = 10.0   # in-flight requests get this long after SIGTERM
DEFAULT_BACKLOG = 2048
READ_SIZE = 65536
# Drain the socket only when this much is queued: drain() is an await per
# response, and small answers fit the kernel buffer anyway.
WRITE_HIGH_WATER = 256 * 1024
# A file response goes out with zero-copy sendfile (plain TCP) in slices of this size, each of which
# must leave within body_timeout: a client that stops reading is cut off, as drain() cuts off one
# that stops reading a streamed body. With the defaults a client must take 128 KiB per 30 s (about
# 4 KiB/s, slower than any 2G link); one loop.sendfile call per slice costs a few microseconds.
SENDFILE_SLICE = 128 * 1024
# A file slice up to this size is read (one pread) and written with the response head in one
# send instead: loop.sendfile costs, per call, pausing the transport's reading, registering and
# unregistering the socket with the selector and a task for the timeout, far more than copying a
# few KiB (issue 14's 2 KiB static file). The read runs on the loop, as os.sendfile already does:
# both block alike on a page-cache miss, and a slice this size is one disk read at worst. The
# bound equals the head+body coalescing limit of plain bodies (Connection.send), for the same
# reason: one write, no Nagle/delayed-ACK stall between head and body (RFC 9293 §3.7.4).
INLINE_FILE_MAX = 16 * 1024
# Longest wait for a client to stop sending after we answered without reading all it sent.
LINGER_TIMEOUT = 2.0
# At max_connections, a new client is admitted by closing idle connections (nothing under way,
# nothing buffered), otherwise sockets that merely stay open (keep-alive, or never a byte) would
# lock every other client out until their deadline. Up to 1/SHED_BATCH of the limit, at most
# SHED_BATCH, are closed at once, as nginx reuses up to 32 idle connections when its
# worker_connections run out: one scan of the open connections then pays for many admissions.
SHED_BATCH = 32
# The warning that the limit was reached is written at most this often (seconds): a flood of
# new clients must not also flood the log.
SHED_LOG_INTERVAL = 60.0
# WebSockets (docs/websockets.md). A ping every 20 s keeps NAT and proxy mappings alive (idle TCP
# mappings commonly expire after 30-60 s) and finds a dead peer; uvicorn and the websockets
# package use 20 s for both. 0 or None turns pings off.
DEFAULT_WS_PING_INTERVAL = 20.0
DEFAULT_WS_PING_TIMEOUT = 20.0    # the pong must come within this; otherwise close with 1011
# 1 MiB, the codec's default (covet.server.websocket.DEFAULT_MAX_MESSAGE_SIZE): a bigger message
# closes with 1009 (RFC 6455 §7.4.1), counted after inflating (websockets CVE-2018-1000518).
DEFAULT_WS_MAX_MESSAGE_SIZE = 1 << 20
DEFAULT_WS_PER_MESSAGE_DEFLATE = True  # RFC 7692, when the client offers it: browsers all do
# The app's time to accept or refuse a WebSocket handshake, from its request head: a handler that
# never does (stuck on a slow dependency) must not hold the client and its connection slot
# forever. 10 s, as the websockets package's open_timeout; past it the client gets 503 (see
# covet/server/wsconnection.py). 0 or None turns it off.
DEFAULT_WS_HANDSHAKE_TIMEOUT = 10.0
# Close (1001) a WebSocket whose client sent no message for this long. Off by default: a silent
# client that answers pings is alive (chat, dashboards, push feeds); turn it on where an idle
# connection is a leak (uvicorn and the websockets package have no such limit either).
DEFAULT_WS_IDLE_TIMEOUT = None


def shed_batch(max_connections: int) -> int:
    """How many idle connections one admission at the limit may close (see ``SHED_BATCH``).

    Example: ``shed_batch(1000) == 31``, ``shed_batch(10) == 1``.
    """
    return max(1, min(SHED_BATCH, max_connections // SHED_BATCH))


class ServerConfig:
    """Every server setting, with the defaults above; ``python -m covet run`` options map onto it."""

    def __init__(self, host="127.0.0.1", port=8000, limits=None, head_timeout=DEFAULT_HEAD_TIMEOUT,
                 keepalive_timeout=DEFAULT_KEEPALIVE_TIMEOUT, body_timeout=DEFAULT_BODY_TIMEOUT,
                 max_connections=DEFAULT_MAX_CONNECTIONS, shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT,
                 forwarded_allow_ips="127.0.0.1", access_log=False, ssl_certfile=None, ssl_keyfile=None,
                 ssl_context=None, backlog=DEFAULT_BACKLOG, server_header=True, min_body_rate=DEFAULT_MIN_BODY_RATE,
                 max_connections_per_client=DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
                 ws_ping_interval=DEFAULT_WS_PING_INTERVAL, ws_ping_timeout=DEFAULT_WS_PING_TIMEOUT,
                 ws_max_message_size=DEFAULT_WS_MAX_MESSAGE_SIZE, ws_per_message_deflate=DEFAULT_WS_PER_MESSAGE_DEFLATE,
                 ws_origins=None, ws_handshake_timeout=DEFAULT_WS_HANDSHAKE_TIMEOUT,
                 ws_idle_timeout=DEFAULT_WS_IDLE_TIMEOUT, root_path=""):
        if type(port) is not int or not 0 <= port <= 65535:  # 0: the system picks a free port
            raise ValueError("port must be an integer from 0 to 65535, got %r" % (port,))
        if not isinstance(host, str) or not host:
            raise ValueError("host must be an address or a name, got %r" % (host,))
        self.host = host
        self.port = port
        # The prefix a proxy in front strips before passing requests on (ASGI's root_path): the
        # app sees paths without it and puts it back in the URLs it makes (url_for, redirects,
        # the /docs page). A path: "" or "/" followed by segments, no trailing "/", nothing a
        # URL or a header could be split on.
        if not isinstance(root_path, str) or not PLAIN_PATH.fullmatch(root_path):
            raise ValueError("root_path must be empty or a path like /api (no trailing /, query, fragment "
                             "or spaces), got %r" % (root_path,))
        self.root_path = root_path
        self.limits = limits or Limits()
        self.head_timeout = head_timeout
        self.keepalive_timeout = keepalive_timeout
        self.body_timeout = body_timeout
        if min_body_rate < 0:
            raise ValueError("min_body_rate is bytes per second, 0 (off) or more, got %r" % (min_body_rate,))
        self.min_body_rate = min_body_rate
        if type(max_connections) is not int or max_connections < 1:
            raise ValueError("max_connections must be a positive integer, got %r" % (max_connections,))
        self.max_connections = max_connections
        if max_connections_per_client is not None and (
                type(max_connections_per_client) is not int or max_connections_per_client < 1):
            raise ValueError("max_connections_per_client must be a positive integer or None (off), got %r"
                             % (max_connections_per_client,))
        self.max_connections_per_client = max_connections_per_client
        self.shutdown_timeout = shutdown_timeout
        self.trusted = TrustedProxies(forwarded_allow_ips)
        self.access_log = access_log
        self.backlog = backlog
        self.server_header = server_header
        if ssl_context is None and ssl_certfile:
            ssl_context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(ssl_certfile, ssl_keyfile)
        self.ssl = ssl_context
        for name, value in (("ws_ping_interval", ws_ping_interval), ("ws_ping_timeout", ws_ping_timeout),
                            ("ws_handshake_timeout", ws_handshake_timeout), ("ws_idle_timeout", ws_idle_timeout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError("%s is seconds, 0 or None (off), got %r" % (name, value))
        self.ws_ping_interval = ws_ping_interval
        self.ws_ping_timeout = ws_ping_timeout
        self.ws_handshake_timeout = ws_handshake_timeout
        self.ws_idle_timeout = ws_idle_timeout
        if type(ws_max_message_size) is not int or ws_max_message_size < 1:
            raise ValueError("ws_max_message_size must be a positive integer, got %r" % (ws_max_message_size,))
        self.ws_max_message_size = ws_max_message_size
        self.ws_per_message_deflate = bool(ws_per_message_deflate)
        # The Origins allowed to open WebSockets (cross-site WebSocket hijacking; see
        # covet/server/wsconnection.py): None lets any through; a string is a comma-separated list.
        if isinstance(ws_origins, str):
            ws_origins = [o for o in (p.strip() for p in ws_origins.split(",")) if o]
        self.ws_origins = None if ws_origins is None else frozenset(o.lower().rstrip("/") for o in ws_origins)
