"""``InstanceState``: the ORM's bookkeeping for one object, kept beside its column values.

Whether its row exists, the stored values as last written or read (the *snapshot*: an UPDATE sets
only the columns whose stored form differs from it, so a JSON dict changed in place is saved
too), the relationships loaded for it, and what a flush changed (so a rolled-back transaction can
be undone on the object). It lives in the object's ``__dict__`` under :data:`STATE`.

An object a query builds gets its state on first use: until then :data:`STATE` holds the row's
stored values and the ``load()`` path as a plain tuple ``(values, path)``, which
:func:`state_of` turns into an ``InstanceState`` (the snapshot keyed by the columns' attribute
names). A request that only reads and returns rows so pays for no bookkeeping per row.

Example::

    state_of(user).persistent   # True once saved or read
"""
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional

__all__ = ["STATE", "InstanceState", "state_of", "loaded_of"]

#: Where an object's bookkeeping is kept in its ``__dict__``.
STATE = "_covet_state"


class InstanceState:
    """The ORM's bookkeeping for one object (see the module docstring).

    Example::

        state = InstanceState(True, {"id": 1, "name": "ann"})   # a row just read
    """

    __slots__ = ("persistent", "deleted", "snapshot", "loaded", "assigned", "path", "undo")

    def __init__(self, persistent: bool = False, snapshot: Optional[Dict[str, Any]] = None, path: str = "") -> None:
        self.persistent = persistent                  # its row exists (it was saved or read)
        self.deleted = False                          # deleted through a session
        self.snapshot = snapshot                      # column key -> stored value, as in the row
        self.loaded: Dict[str, Any] = {}              # relationship key -> object, list or None
        self.assigned: set = set()                    # many-to-one keys set by the program
        self.path = path                              # the load() path that fetched it ("posts.")
        self.undo: Optional[tuple] = None             # what the last flush changed


#: What ``loaded_of`` gives for an object with nothing loaded (read-only: nothing is kept there).
_NOTHING_LOADED: Mapping[str, Any] = MappingProxyType({})


def state_of(obj: Any) -> InstanceState:
    """The bookkeeping of a model instance (made now for an object a query built)."""
    state = obj.__dict__[STATE]
    if state.__class__ is InstanceState:
        return state
    stored, path = state  # (row values in column order, load() path): see the module docstring
    keys = [c.key for c in type(obj).__table__.columns]
    state = obj.__dict__[STATE] = InstanceState(True, dict(zip(keys, stored)), path)
    return state


def loaded_of(obj: Any) -> Mapping[str, Any]:
    """The relationships loaded for ``obj``, to read (an object a query built and nothing touched
    since has none, and gets no state made for the asking).

    Example::

        loaded_of(user)   # {'posts': [...]} after .options(load("posts"))
    """
    state = obj.__dict__[STATE]
    return state.loaded if state.__class__ is InstanceState else _NOTHING_LOADED
