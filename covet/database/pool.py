"""``ConnectionPool``: connections to one database, handed out with ``async with pool.acquire()``.

The waiting, the fairness and the cleanup after cancelled requests live in
:mod:`covet.database.checkout`; this class adds the query API on top (a
:class:`covet.database.connection.Connection` per checkout). A ``DatabaseManager`` owns one
(``db.pool``); a pool can also be used alone, as in the API reference.

Example::

    pool = ConnectionPool("sqlite:///app.db", min_connections=1, max_connections=10)
    await pool.open()
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM users")
    await pool.close()
"""
from .checkout import Checkout
from .connection import Acquire

__all__ = ["ConnectionPool"]


class ConnectionPool(Checkout):
    __doc__ = Checkout.__doc__

    def acquire(self) -> Acquire:
        """``async with pool.acquire() as conn``: a connection for the block, returned (rolled back
        if a transaction was left open) when it ends, however it ends."""
        return Acquire(self)
