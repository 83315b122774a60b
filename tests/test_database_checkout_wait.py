"""The pool's wait for a connection (covet.database.checkout): handed over on the waiter's own loop
without waking it through its self-pipe, timed out and cancelled without losing the connection."""
import asyncio
import threading

import pytest

from covet.database import ConnectionPool, PoolTimeout


def run(coro):
    return asyncio.run(coro)


def counting_threadsafe(loop):
    """Wrap ``loop.call_soon_threadsafe`` so that its calls are counted; returns the counter list."""
    calls = []
    original = loop.call_soon_threadsafe

    def wrapper(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = wrapper
    return calls


def test_a_connection_given_back_on_the_waiters_loop_goes_to_it_without_a_threadsafe_wake_up(tmp_path):
    async def main():
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=5.0)
        first = await pool.checkout()
        waiting = asyncio.ensure_future(pool.checkout())
        await asyncio.sleep(0)  # the second checkout is queued now
        assert len(pool._waiters) == 1 and not waiting.done()
        calls = counting_threadsafe(asyncio.get_running_loop())
        pool.checkin(first)
        assert await waiting is first
        assert calls == []  # delivered with call_soon: no self-pipe write
        assert pool.in_use == 1 and pool.idle == 0
        pool.checkin(first)
        assert pool.in_use == 0 and pool.idle == 1
        await pool.close()

    run(main())


def test_a_connection_given_back_from_another_thread_wakes_the_waiters_loop(tmp_path):
    async def main():
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=5.0)
        first = await pool.checkout()
        waiting = asyncio.ensure_future(pool.checkout())
        await asyncio.sleep(0)
        calls = counting_threadsafe(asyncio.get_running_loop())
        thread = threading.Thread(target=pool.checkin, args=(first,))
        thread.start()
        assert await waiting is first
        thread.join()
        assert len(calls) == 1  # the other thread had to wake the loop
        pool.checkin(first)
        await pool.close()

    run(main())


def test_a_wait_times_out_with_pool_timeout_and_the_connection_comes_back_to_the_pool(tmp_path):
    async def main():
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=0.05)
        first = await pool.checkout()
        with pytest.raises(PoolTimeout, match=r"no database connection free within 0.1 s \(1 in use\)"):
            await pool.checkout()
        assert len(pool._waiters) == 0  # the timed-out waiter left the queue
        pool.checkin(first)
        assert pool.idle == 1 and pool.in_use == 0  # nobody left waiting to take it
        await pool.close()

    run(main())


def test_a_delivered_wait_leaves_no_timer_to_fire_later(tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        errors = []
        loop.set_exception_handler(lambda loop, context: errors.append(context))
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=0.05)
        first = await pool.checkout()
        waiting = asyncio.ensure_future(pool.checkout())
        await asyncio.sleep(0)
        pool.checkin(first)
        assert await waiting is first
        await asyncio.sleep(0.1)  # past the deadline: the timer was cancelled, nothing fires
        assert errors == []
        assert [h for h in loop._scheduled if not h.cancelled()] == []
        pool.checkin(first)
        assert pool.idle == 1
        await pool.close()

    run(main())


def test_a_cancelled_wait_leaves_the_queue_and_the_connection_goes_to_the_next_waiter(tmp_path):
    async def main():
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=5.0)
        first = await pool.checkout()
        cancelled = asyncio.ensure_future(pool.checkout())
        second = asyncio.ensure_future(pool.checkout())
        await asyncio.sleep(0)
        assert len(pool._waiters) == 2
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        pool.checkin(first)  # the cancelled waiter is skipped: the next one gets the connection
        assert await second is first
        assert pool.in_use == 1 and len(pool._waiters) == 0
        pool.checkin(first)
        await pool.close()

    run(main())


def test_a_cancellation_in_the_instant_of_delivery_hands_the_connection_back(tmp_path):
    async def main():
        pool = ConnectionPool("sqlite:///%s" % (tmp_path / "a.db"), min_connections=0, max_connections=1,
                              acquire_timeout=5.0)
        first = await pool.checkout()
        waiting = asyncio.ensure_future(pool.checkout())
        await asyncio.sleep(0)
        pool.checkin(first)  # the delivery is scheduled (call_soon) ...
        waiting.cancel()     # ... and the waiter is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0)
        assert pool.idle == 1 and pool.in_use == 0  # passed back, not lost
        await pool.close()

    run(main())
