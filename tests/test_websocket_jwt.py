"""JWTAuth.require_websocket_token: the token from Authorization (RFC 6750 §2.1), the
Sec-WebSocket-Protocol bearer convention (echoed, RFC 6455 §4.2.2) or a token query parameter;
refused before accept with HTTP 403; checked before the handler's dependencies run."""
import pytest

from covet import Covet, Depends
from covet.security import JWTAuth
from covet.security.jwt_auth import WEBSOCKET_BEARER_PROTOCOL
from covet.testing import TestClient, WebSocketRefused

SECRET = "websocket-test-secret-of-32-bytes-or-more"


def make_app(calls):
    app = Covet()
    auth = JWTAuth(SECRET)

    def counted():
        calls.append("dependency")

    @app.websocket("/ws", dependencies=[Depends(counted)])
    @auth.require_websocket_token
    async def ws(websocket):
        await websocket.accept()
        await websocket.send_json({"sub": websocket.state.user["sub"], "protocol": websocket.subprotocol})

    return app, auth


@pytest.mark.parametrize("where", ["header", "subprotocol", "query"])
def test_each_token_location_is_accepted(where):
    calls = []
    app, auth = make_app(calls)
    token = auth.create_token({"sub": "ada"})
    kw = {}
    path = "/ws"
    if where == "header":
        kw["headers"] = {"authorization": "bearer " + token}  # the scheme is case-insensitive
    elif where == "subprotocol":
        kw["subprotocols"] = ["chat", WEBSOCKET_BEARER_PROTOCOL, token]
    else:
        path += "?token=" + token
    with TestClient(app) as client:
        with client.websocket_connect(path, **kw) as ws:
            expected = "bearer" if where == "subprotocol" else None
            assert ws.subprotocol == expected
            assert ws.receive_json() == {"sub": "ada", "protocol": expected}
    assert calls == ["dependency"]


@pytest.mark.parametrize("kw, detail", [
    ({}, "a bearer token is required (Authorization header, the 'bearer' subprotocol, or a token query "
         "parameter)"),
    ({"headers": {"authorization": "Bearer not.a.token"}}, None),
    ({"subprotocols": ["bearer"]}, None),  # the convention with no token after it: no token
])
def test_missing_or_invalid_token_is_refused_with_403_before_any_dependency(kw, detail):
    calls = []
    app, _auth = make_app(calls)
    with TestClient(app) as client:
        with pytest.raises(WebSocketRefused) as info:
            with client.websocket_connect("/ws", **kw):
                pass
    assert info.value.status_code == 403
    if detail is not None:
        assert info.value.json()["detail"] == detail
    assert calls == []


def test_refresh_and_expired_tokens_are_refused():
    calls = []
    app, auth = make_app(calls)
    with TestClient(app) as client:
        for token in (auth.create_refresh_token({"sub": "a"}), auth.create_token({"sub": "a", "exp": 1})):
            with pytest.raises(WebSocketRefused) as info:
                with client.websocket_connect("/ws?token=" + token):
                    pass
            assert info.value.status_code == 403
    assert calls == []


def test_must_be_written_below_the_route_decorator():
    app = Covet()
    auth = JWTAuth(SECRET)

    async def handler(websocket):
        pass

    app.add_websocket_route("/ws", handler)
    with pytest.raises(TypeError, match="below"):
        auth.require_websocket_token(handler)
