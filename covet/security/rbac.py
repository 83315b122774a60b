"""Role-based access control: roles grant permissions and inherit other roles; guards check
them on routes, as handler decorators or as dependencies (``Depends(...)``).

A user without the role or permission gets 403 problem+json; a request with no user gets
401 (from the ``auth`` given, or ``authentication required`` when nothing set
``request.state.user``). As decorators, the guards decide before the route's dependencies
run and its body is read, after ``require_token`` whatever the order they are written in.

Example::

    rbac = RoleBasedAccessControl()
    rbac.add_role("admin", permissions=["read", "write", "delete"])
    rbac.add_role("user", permissions=["read"])

    @app.route("/admin/users")
    @auth.require_token                  # sets request.state.user, which the guard reads
    @rbac.require_permission("admin")    # a role name: admins (and roles inheriting admin) pass
    async def admin_users(request): ...
"""
from collections.abc import Mapping
from typing import Any, Callable, FrozenSet, Iterable, List, Optional, Union

from .._probes import PERMISSION_CHECK
from ..core.errors import HTTPException
from ._guards import Guard

__all__ = ["RoleBasedAccessControl", "RBAC"]


def _user_of(request: Any) -> Any:
    return request.state.__dict__.get("user")


def _as_names(value: Any, what: str) -> List[str]:
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        raise TypeError("%s must be a string or a list of strings, got %r" % (what, value)) from None
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError("%s must be non-empty strings, got %r" % (what, name))
    return names


class RoleBasedAccessControl:
    """Roles that grant permissions and inherit other roles; guards for routes.

    :param auth: a ``JWTAuth`` (or any object with ``authenticate(request)``) used by the
        guards when no earlier step has set ``request.state.user``.
    :param roles_claim: the claim of the user that lists its roles (``"roles"``).
    :param get_roles: ``get_roles(user) -> iterable of role names``, replacing ``roles_claim``.

    Example::

        rbac = RoleBasedAccessControl(auth=auth)      # RBAC is the same class
        rbac.add_role("viewer", permissions=["posts:read"])
        rbac.add_role("admin", permissions=["users:manage"], inherits=["viewer"])
        rbac.has_permission(["admin"], "posts:read")   # True

        @app.delete("/users/{uid}")
        @rbac.require_roles("admin")
        async def delete_user(uid: int): ...
    """

    def __init__(self, auth: Any = None, roles_claim: str = "roles",
                 get_roles: Optional[Callable[[Any], Iterable[str]]] = None) -> None:
        if auth is not None and not callable(getattr(auth, "authenticate", None)):
            raise TypeError("auth must have an authenticate(request) method (a JWTAuth)")
        if not isinstance(roles_claim, str) or not roles_claim:
            raise TypeError("roles_claim must be a non-empty string")
        if get_roles is not None and not callable(get_roles):
            raise TypeError("get_roles must be callable as get_roles(user)")
        self.auth = auth
        self.roles_claim = roles_claim
        self._get_roles = get_roles
        self._permissions = {}  # type: Dict[str, FrozenSet[str]]  (as declared)
        self._parents = {}  # type: Dict[str, tuple]
        # Resolved at add_role, so a check is a few set lookups: role -> roles it includes
        # (itself and every ancestor), role -> every permission it grants.
        self._includes = {}  # type: Dict[str, FrozenSet[str]]
        self._grants = {}  # type: Dict[str, FrozenSet[str]]

    def add_role(self, name: str, permissions: Iterable[str] = (), inherits: Iterable[str] = ()) -> None:
        """Define (or redefine) a role; it also gets every permission of the roles it inherits.

        A parent may be defined later (until then it grants nothing). A definition that
        would make a role inherit itself, directly or through others, is refused with
        ``ValueError`` and leaves the roles as they were.
        """
        if not isinstance(name, str) or not name:
            raise TypeError("a role name must be a non-empty string, got %r" % (name,))
        perms = frozenset(_as_names(permissions, "permissions"))
        parents = tuple(dict.fromkeys(_as_names(inherits, "inherits")))
        cycle = self._find_cycle(name, parents)
        if cycle is not None:
            raise ValueError("role inheritance cycle: %s" % " -> ".join(cycle))
        self._permissions[name] = perms
        self._parents[name] = parents
        self._resolve()

    def _find_cycle(self, name: str, parents: tuple) -> Optional[List[str]]:
        # Depth-first from each new parent through the existing graph; reaching `name`
        # again closes a cycle. Iterative, so deep hierarchies cannot hit the recursion limit.
        for parent in parents:
            stack = [(parent, [name, parent])]
            seen = set()
            while stack:
                role, path = stack.pop()
                if role == name:
                    return path
                if role in seen:
                    continue
                seen.add(role)
                for up in self._parents.get(role, ()):
                    stack.append((up, path + [up]))
        return None

    def _resolve(self) -> None:
        includes = {}
        for role in self._parents:
            seen = {role}
            stack = list(self._parents[role])
            while stack:
                up = stack.pop()
                if up not in seen:
                    seen.add(up)
                    stack.extend(self._parents.get(up, ()))
            includes[role] = frozenset(seen)
        self._includes = includes
        self._grants = {
            role: frozenset().union(*(self._permissions.get(r, ()) for r in included))
            for role, included in includes.items()
        }

    @property
    def roles(self) -> List[str]:
        """The defined role names, in definition order."""
        return list(self._parents)

    def permissions_for(self, roles: Union[str, Iterable[str]]) -> FrozenSet[str]:
        """Every permission the roles grant, inherited ones included (unknown roles grant none)."""
        grants = self._grants
        return frozenset().union(*(grants.get(r, ()) for r in _role_list(roles)))

    def has_permission(self, roles: Union[str, Iterable[str]], permission: str) -> bool:
        """True when one of ``roles`` (a name or several) grants ``permission``, directly or inherited."""
        grants = self._grants
        for role in _role_list(roles):
            granted = grants.get(role)
            if granted is not None and permission in granted:
                return True
        return False

    def has_role(self, roles: Union[str, Iterable[str]], role: str) -> bool:
        """True when one of ``roles`` is ``role`` or inherits it (an admin that inherits editor is an editor)."""
        includes = self._includes
        for r in _role_list(roles):
            if r == role:
                return True
            included = includes.get(r)
            if included is not None and role in included:
                return True
        return False

    def user_roles(self, user: Any) -> List[str]:
        """The role names of ``user`` (the claims): ``get_roles(user)``, or its ``roles_claim``.

        A claim holding one string is one role; anything but strings is ignored, so a
        malformed claim means no roles (and a 403), never an error.
        """
        if self._get_roles is not None:
            value = self._get_roles(user)
        elif isinstance(user, Mapping):
            value = user.get(self.roles_claim)
        else:
            value = getattr(user, self.roles_claim, None)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple, set, frozenset)):
            return [r for r in value if isinstance(r, str)]
        return []

    def _scheme(self) -> Any:
        # With an authenticator, its scheme is the routes' (a bearer token for JWTAuth); without,
        # the user comes from elsewhere (request.state.user) and no scheme can be named.
        return getattr(self.auth, "openapi_security", None)

    def _user(self, request: Any) -> Any:
        if self.auth is not None:
            return self.auth.authenticate(request)
        user = _user_of(request)
        if user is None:
            # RFC 9110 §15.5.2: a 401 carries a challenge; Bearer is covet's built-in scheme.
            raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
        return user

    def allows(self, roles: Union[str, Iterable[str]], permission: str) -> bool:
        """The test of ``require_permission``: ``roles`` grant ``permission``, or ``permission``
        names a defined role that one of ``roles`` is or inherits.

        So ``require_permission("admin")`` admits admins once ``add_role("admin", ...)``
        exists: a role counts as a permission of itself and of every role inheriting it.
        A name that is no defined role is only ever a permission, so a ``roles`` claim
        cannot pass a permission check by naming the permission.

        Example::

            rbac.add_role("admin", permissions=["read", "write", "delete"])
            rbac.allows(["admin"], "admin")    # True: the role itself
            rbac.allows(["admin"], "write")    # True: a permission it grants
        """
        held = tuple(_role_list(roles))  # read twice below: a generator must not run dry
        if self.has_permission(held, permission):
            return True
        return permission in self._includes and self.has_role(held, permission)

    def require_permission(self, permission: str) -> "Guard":
        """A guard, as decorator or dependency: 403 unless the user's roles grant ``permission``
        (or ``permission`` is a defined role the user holds, see :meth:`allows`).

        Example::

            @app.post("/posts")
            @rbac.require_permission("posts:write")
            async def create_post(request: Request): ...

            @app.get("/drafts")
            async def drafts(user=Depends(rbac.require_permission("posts:read"))): ...
        """
        if not isinstance(permission, str) or not permission:
            raise TypeError("permission must be a non-empty string")
        detail = "permission %r is required" % permission

        def check(request: Any) -> Any:
            user = self._user(request)
            allowed = self.allows(self.user_roles(user), permission)
            if PERMISSION_CHECK.observers:
                PERMISSION_CHECK.emit(allowed)
            if not allowed:
                raise HTTPException(403, detail)
            return user

        return Guard(check, "require_permission(%r)" % permission, openapi_security=self._scheme())

    def require_roles(self, *roles: str, require_all: bool = False) -> "Guard":
        """A guard, as decorator or dependency: 403 unless the user has one of ``roles``.

        Inherited roles count. ``require_all=True`` requires every one of them.
        """
        if not roles:
            raise TypeError("require_roles needs at least one role name")
        for role in roles:
            if not isinstance(role, str) or not role:
                raise TypeError("role names must be non-empty strings, got %r" % (role,))
        if require_all:
            detail = "roles %s are required" % ", ".join(repr(r) for r in roles)
        elif len(roles) == 1:
            detail = "role %r is required" % roles[0]
        else:
            detail = "one of the roles %s is required" % ", ".join(repr(r) for r in roles)
        test = all if require_all else any

        def check(request: Any) -> Any:
            user = self._user(request)
            held = self.user_roles(user)
            allowed = test(self.has_role(held, role) for role in roles)
            if PERMISSION_CHECK.observers:
                PERMISSION_CHECK.emit(allowed)
            if not allowed:
                raise HTTPException(403, detail)
            return user

        return Guard(check, "require_roles(%s)" % ", ".join(repr(r) for r in roles), openapi_security=self._scheme())

    def __repr__(self) -> str:
        return "<RoleBasedAccessControl %d roles>" % len(self._parents)


RBAC = RoleBasedAccessControl


def _role_list(roles: Union[str, Iterable[str], None]) -> Iterable[str]:
    # A bare string is one role, never its characters.
    if roles is None:
        return ()
    if isinstance(roles, str):
        return (roles,)
    return roles
