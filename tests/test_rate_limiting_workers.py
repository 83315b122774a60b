"""A Redis-backed limiter shared by two pre-forked workers: the limit holds across processes."""
import os
import signal
import textwrap

import pytest

from redis_fixture import redis_server  # noqa: F401 - fixture
from server_helpers import CovetProcess, http_get

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork (POSIX)"),
]

LIMITED_APP = textwrap.dedent('''
    import os

    from covet import Covet, PlainTextResponse, RateLimiter, RateLimitMiddleware, Redis
    from covet.security.rate_limiting import RedisLimiterBackend

    redis = Redis.from_url(os.environ["COVET_TEST_REDIS"])
    # Every request counts against one shared key, whichever worker answers it. Per hour,
    # so that a stalled test machine cannot free a slot (GCRA frees one every 3 minutes).
    limiter = RateLimiter("20/hour", key=lambda request: "everyone", backend=RedisLimiterBackend(redis))
    app = Covet()
    app.add_middleware(RateLimitMiddleware(limiter))
    app.on_shutdown(redis.close)


    @app.get("/pid")
    async def pid():
        return PlainTextResponse(str(os.getpid()))
''')

WORKERS = r"^covet: serving on http://127\.0\.0\.1:(\d+) with 2 workers"
ACCEPTING = r"^covet: worker (\d+) accepting$"


def test_two_workers_share_a_redis_limit_of_20_per_hour(tmp_path, redis_server):  # noqa: F811
    redis_server.flush()
    (tmp_path / "limited_app.py").write_text(LIMITED_APP)
    env = {"COVET_TEST_REDIS": redis_server.url}  # on top of the environment CovetProcess builds
    with CovetProcess(["run", "limited_app.py", "--port", "0", "--workers", "2"], cwd=str(tmp_path), env=env) as p:
        port = int(p.wait_for(WORKERS, stream="out").group(1))
        workers = {int(p.wait_for(ACCEPTING, stream="out").group(1)) for _ in range(2)}
        statuses, answered_by = [], set()
        for _ in range(50):  # each on a new connection
            status, body = http_get("http://127.0.0.1:%d/pid" % port)
            statuses.append(status)
            if status == 200:
                answered_by.add(int(body))
        assert statuses.count(200) == 20
        assert statuses.count(429) == 30
        assert statuses[:20] == [200] * 20
        assert answered_by <= workers
        assert p.stop(signal.SIGTERM) == 0
