"""Write the data of the TechEmpower-style cases (world: 10,000 rows, fortune: 12 rows).

    python3 benchmarks/http/make_db.py /tmp/tfb.db                                  # the sqlite file
    python3 benchmarks/http/make_db.py postgresql://postgres:pw@127.0.0.1:5432/tfb  # the same rows in PostgreSQL
    COVET_BENCH_DB=/tmp/tfb.db python -m covet run benchmarks/http/apps/covet_db_app.py
    DATABASE_URL=postgresql://... python -m covet run benchmarks/http/apps/covet_db_app.py

``run.py`` does this itself (a temporary sqlite file, a throwaway PostgreSQL server); this script
is for running the apps by hand. Run it from the repository root (PostgreSQL is written with
covet's own client). Both come from one source: ``apps/_tfb.py``.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "apps"))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository's covet

from _tfb import make_db, make_pg  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_db.py PATH | postgresql://...")
    target = sys.argv[1]
    print(make_pg(target) if target.startswith(("postgresql://", "postgres://")) else make_db(target))
