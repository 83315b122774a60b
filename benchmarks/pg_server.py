"""A throwaway PostgreSQL server for benchmark runs (issue 16): starts it, prints its URL, stops it.

    python3 benchmarks/pg_server.py                          # prints the URL, serves until Ctrl-C
    python3 benchmarks/pg_server.py --sslmode verify-full    # the URL asks for TLS, with the CA file
    python3 benchmarks/pg_server.py --user md5user -- benchmarks/.venv/bin/python some_script.py
                                                             # runs the command with DATABASE_URL set

It is the tests' server (tests/pg_fixture.py, the same ``PostgresServer``): ``initdb`` into a
temporary folder, 127.0.0.1 on a free port, TLS from a CA made at start, the roles ``postgres``
(SCRAM), ``md5user``, ``clearuser`` (cleartext password), ``trustuser``, the database
``covet_test``, durability off. Every client of a benchmark meets this one server. The URL goes
alone to stdout (the first line), the rest to stderr. Without the server binaries (Debian package
postgresql) or openssl it says why and exits with 2.
"""
import argparse
import os
import signal
import subprocess
import sys
from typing import List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

from pg_fixture import USERS, PostgresServer, unavailable_reason  # noqa: E402

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def server_url(server: PostgresServer, user: str, sslmode: Optional[str]) -> str:
    """The URL a benchmark connects to: ``sslmode`` in the query when given, and the CA file with it
    when the mode verifies the certificate."""
    query = {}
    if sslmode is not None:
        query["sslmode"] = sslmode
        if sslmode.startswith("verify-"):
            query["sslrootcert"] = server.ca_file
    return server.url(user, **query)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--user", default="postgres", choices=sorted(USERS),
                        help="the role in the URL (default postgres, SCRAM)")
    parser.add_argument("--sslmode", choices=SSLMODES,
                        help="put sslmode in the URL (and sslrootcert for verify-*); default: none, the client's own")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --: a command to run with DATABASE_URL set; the server stops when it ends")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    reason = unavailable_reason()
    if reason is not None:
        print("pg_server: %s" % reason, file=sys.stderr)
        return 2
    # SIGTERM stops it like Ctrl-C does: through the with block, which removes the folder. SIGINT's
    # handler is set again because a shell starts a background job (`pg_server.py &`) with SIGINT
    # ignored, and then `kill -INT` would leave the server running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with PostgresServer() as server:
        url = server_url(server, args.user, args.sslmode)
        print(url, flush=True)
        print("pg_server: PostgreSQL in %s (log %s), CA %s" % (server.dir, server.log_file, server.ca_file),
              file=sys.stderr, flush=True)
        if command:
            return subprocess.run(command, env=dict(os.environ, DATABASE_URL=url)).returncode
        print("pg_server: Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
