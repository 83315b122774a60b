"""covet's PostgreSQL client against psycopg 3 on a real server: benchmarks/pg_interop.py, run in a
subprocess with the benchmarks' venv (psycopg lives there, never in covet's test venv), must
report no difference. Plus the connection-level fix the interop run found: a value that cannot be
decoded in ``simple_query`` leaves the connection usable.

The script runs with ``benchmarks/.venv/bin/python`` of this checkout (``make bench`` builds it),
or the interpreter named by ``COVET_BENCH_PYTHON``; where neither exists or imports psycopg, the
test is skipped and says why.
"""
import asyncio
import os
import pathlib
import subprocess

import pytest

from covet.database.postgres import PGConnection
from covet.database.postgres.types import TypeCodecError

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "pg_interop.py"
PYTHON_ENV = "COVET_BENCH_PYTHON"


def bench_python():
    """(interpreter, "") when one with psycopg is found, else (None, why not)."""
    python = os.environ.get(PYTHON_ENV) or str(ROOT / "benchmarks" / ".venv" / "bin" / "python")
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        return None, ("no %s (build it with `make benchmarks/.venv/.ok`, or name an interpreter with psycopg "
                      "in %s)" % (python, PYTHON_ENV))
    probe = subprocess.run([python, "-c", "import psycopg"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if probe.returncode != 0:
        return None, "%s cannot import psycopg: %s" % (python, probe.stdout.decode(errors="replace").strip()[-200:])
    return python, ""


@pytest.mark.slow
def test_covet_and_psycopg_read_and_write_the_same_values(postgres_server):
    python, reason = bench_python()
    if python is None:
        pytest.skip(reason)
    env = dict(os.environ, DATABASE_URL=postgres_server.url())
    env.pop("PYTHONPATH", None)  # the script puts this checkout first on sys.path itself
    done = subprocess.run([python, str(SCRIPT)], cwd=str(ROOT), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=600)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output
    summary = [line for line in output.splitlines() if line.startswith("pg_interop: ") and "checks" in line]
    assert len(summary) == 1 and summary[0].endswith(" 0 differences"), output
    assert int(summary[0].split()[1]) > 1500, output  # every part ran, not an early exit
    for rule in ("utc", "float4", "untyped-str", "char-nul"):
        assert "rule %s " % rule in output, output  # each normalisation is reported when used


def test_a_value_simple_query_cannot_decode_leaves_the_connection_usable(postgres_server):
    async def main():
        conn = await PGConnection.connect_url(postgres_server.url())
        try:
            with pytest.raises(TypeCodecError, match=r"column 1 \(date\): date 'infinity' has no Python value"):
                await conn.simple_query("SELECT '2024-01-01'::date AS d UNION ALL SELECT 'infinity'::date; SELECT 2")
            assert not conn.broken and conn.transaction_status == "I"
            assert [r.rows for r in await conn.simple_query("SELECT 1 AS one")] == [[{"one": 1}]]
        finally:
            await conn.close()

    asyncio.run(main())
