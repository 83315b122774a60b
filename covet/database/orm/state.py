"""``InstanceState``: the ORM's bookkeeping for one object, kept beside its column values.

Whether its row exists, the stored values as last written or read (the *snapshot*: an UPDATE sets
only the columns whose stored form differs from it, so a JSON dict changed in place is saved
too), the relationships loaded for it, and what a flush changed (so a rolled-back transaction can
be undone on the object). It lives in the object's ``__dict__`` under :data:`STATE`.

Example::

    state_of(user).persistent   # True once saved or read
"""
from typing import Any, Dict, Optional

__all__ = ["STATE", "InstanceState", "state_of"]

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


def state_of(obj: Any) -> InstanceState:
    """The bookkeeping of a model instance."""
    return obj.__dict__[STATE]
