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
