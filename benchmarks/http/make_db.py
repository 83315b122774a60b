"""Write the sqlite file of the TechEmpower-style cases (world: 10,000 rows, fortune: 12 rows).

    python3 benchmarks/http/make_db.py /tmp/tfb.db
    COVET_BENCH_DB=/tmp/tfb.db python -m covet run benchmarks/http/apps/covet_db_app.py

``run.py`` does this itself, in a temporary folder; this script is for running the apps by hand.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps"))

from _tfb import make_db  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_db.py PATH")
    print(make_db(sys.argv[1]))
