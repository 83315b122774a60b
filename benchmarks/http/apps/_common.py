"""Data and logic shared by every benchmark app, so that each server does the same work."""

MESSAGE = "Hello, World!"

# A small user store: the realistic route looks users up here.
USERS = {i: {"id": i, "name": "user%d" % i, "email": "user%d@example.com" % i, "active": i % 3 != 0}
         for i in range(1, 101)}


def pick_fields(store, user_id, fields):
    """The user ``user_id`` reduced to the comma-separated ``fields`` (all fields when empty)."""
    user = store.get(user_id)
    if user is None:
        return {"id": user_id, "missing": True}
    if not fields:
        return dict(user)
    out = {"id": user_id}
    for name in fields.split(","):
        if name in user:
            out[name] = user[name]
    return out


# The gzip endpoint's body: about 20 KiB of compact JSON (records alike in shape, as an API list
# page is), which both apps serialise per request and compress with GZipMiddleware at level 6.
GZIP_PAYLOAD = {"users": [{"id": i, "name": "user%d" % i, "email": "user%d@example.com" % i,
                           "active": i % 3 != 0, "roles": ["reader"] if i % 4 else ["reader", "editor"],
                           "created": "2024-01-%02dT10:%02d:00Z" % (i % 28 + 1, i % 60)}
                          for i in range(1, 166)]}
GZIP_LEVEL = 6


# The static endpoints' folder: made by the harness at start (run.py, profile_covet.py) in a
# temporary directory named by this variable; a server started by hand makes its own under the
# system temp folder. Never committed: the large file is 1 MiB.
STATIC_ENV = "COVET_BENCH_STATIC"
# name -> size: a small asset (a stylesheet-sized text file) and a large download.
STATIC_FILES = {"small.txt": 2 * 1024, "large.bin": 1024 * 1024}


def static_bytes(name):
    """The exact bytes of a static benchmark file: fixed, so the harness can check each server's answer."""
    import random

    size = STATIC_FILES[name]
    if name.endswith(".txt"):
        line = b"covet static benchmark: 2 KiB of text, the size of a small stylesheet.\n"
        return (line * (size // len(line) + 1))[:size]
    return random.Random(name).randbytes(size)


def make_static(folder):
    """Write every static benchmark file into ``folder`` (created if missing); returns ``folder``."""
    import os

    os.makedirs(folder, exist_ok=True)
    for name in STATIC_FILES:
        data = static_bytes(name)
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        with open(path, "wb") as f:
            f.write(data)
    return folder


def static_dir():
    """The folder the apps serve under /static: the harness's, else one made here."""
    import os
    import tempfile

    folder = os.environ.get(STATIC_ENV)
    if folder:
        return folder
    return make_static(os.path.join(tempfile.gettempdir(), "covet-bench-static"))
