"""covet.database.postgres.scram: SCRAM-SHA-256 against RFC 7677's test vector, against exchanges
recorded from a PostgreSQL 15 server (with channel binding on an ECDSA P-384 and an RSASSA-PSS
SHA-512 certificate), and against a server simulated here from RFC 5802 §3, including servers that
lie; SASLprep as PostgreSQL applies it (RFC 4013); and the certificate hash of tls-server-end-point
(RFC 5929 §4.1) on DER built here for every signature algorithm it names.
"""
import base64
import hashlib
import hmac

import pytest

from covet.database.errors import OperationalError
from covet.database.postgres.errors import EncodeError, ScramError
from covet.database.postgres.scram import (
    DEFAULT_MAX_ITERATIONS, DEFAULT_MIN_ITERATIONS, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramClient,
    normalize_password, tls_server_end_point,
)

# ---------------------------------------------------------------- exchanges recorded from PostgreSQL 15.18
# Role postgres, password "secret", client nonce "covetRecordedNonce0123456"; over TLS with the
# certificates below, the server offered SCRAM-SHA-256-PLUS and accepted these client-final messages.

EC384_CERT = base64.b64decode(
    "MIIBujCCAUCgAwIBAgIUX/NbRPxSHs7290amdxYsxKocr1AwCgYIKoZIzj0EAwMwFDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2"
    "MTIwNzAzNTIyM1oXDTI2MTIwOTAzNTIyM1owFDESMBAGA1UEAwwJbG9jYWxob3N0MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAExpmj"
    "jhJ+U86u0yDXCRRqQityC3LFIWFN8fCoduGVBVh+uY8xtj/L2PusbJIfstxLhsjvpwtTCTIcTWwc6jxF4r7FuOG/N1shDKOdIhhN"
    "jXUe087MOEyya0cmZnysLClwo1MwUTAdBgNVHQ4EFgQUhZlblUx2SlZmsKoNOx1qZr48B40wHwYDVR0jBBgwFoAUhZlblUx2SlZm"
    "sKoNOx1qZr48B40wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAwNoADBlAjAPNPtwIBcrKQ5Zmcnv++OmUxog1w2yObJGmv/x"
    "wH+lp1c7HblhUPcKpc24V6+qsm4CMQCkIOhFd4v8+oNysPnhCZgIAqpy4FmqTLIV+ps7/JMFx6rAWit/MHW5qYB2jVdpumg="
)
EC384_SERVER_FIRST = (
    b"r=covetRecordedNonce0123456FC3D/z1V0yMbHLrw3K3ogenD,s=eQi0ziycYogehMt9tQhrBA==,i=4096"
)
EC384_CLIENT_FINAL = (
    b"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsEwMFOYzRNH5QgIKi1LvdOPRRkYeMLPTNWcKkFa2A79R/kf4oE/lughjN/QOCFd"
    b"zX,r=covetRecordedNonce0123456FC3D/z1V0yMbHLrw3K3ogenD,p=jIJh6ZmOtGRXzxImHLbV9GHUeRH11+hOm/CUB6Z"
    b"wDJA="
)
EC384_SERVER_FINAL = (
    b"v=QHCovfA6M9CKch1zXSgY1nlHo/Zh777SF1ccpZ0XQrY="
)
PSS_CERT = base64.b64decode(
    "MIIDcTCCAiWgAwIBAgIUTiF8A+IGCP5TIUdD6Ye8aBXnFUMwQQYJKoZIhvcNAQEKMDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqG"
    "SIb3DQEBCDANBglghkgBZQMEAgMFAKIDAgEgMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDAeFw0yNjEyMDcwMzU0MzNaFw0yNjEyMDkw"
    "MzU0MzNaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALJJsnXnLhqB4dxcxXUP"
    "TgJ9Vg36jxSVUfgwtH8Zu95sKJ6297wHSF6c3DPNPz513itaoJxmbAMKACUh+3yOtaxpbf4fhDML7tv/AqSKhFIQt3eg9quIgb4Y"
    "iE6T/xePbyzCZR61sduq/Z0mCj06YUE7ZLtgzvru6W5BygBn3fDgcEse/4yboDZfyjKw1gjvjs2oddb+g75HwQmY8RO7IZG8CDAl"
    "LMM7byw1FDLGP6E1cG4L9yLtPm9UQvckPJR23HFG7kYAjkR9uOxAgfgRESIigbjiTksRmnJHjKFzKn+gNwqOVRRxUagr42YoLAqP"
    "EzpBka7lLSlbkJ/YDY5albkCAwEAAaNTMFEwHQYDVR0OBBYEFNnc31LDPGZCyJY2999wCtFGPSEWMB8GA1UdIwQYMBaAFNnc31LD"
    "PGZCyJY2999wCtFGPSEWMA8GA1UdEwEB/wQFMAMBAf8wQQYJKoZIhvcNAQEKMDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3"
    "DQEBCDANBglghkgBZQMEAgMFAKIDAgEgA4IBAQCfael0GpQmq3yE+PoZJITKV9YSFStfRnPKPeeEwCZ7xTsrUYqTKqpLUabFoDmk"
    "gbsJHuXMW/s0VhbeSeWqDU1GIPOFgQ863La30It6NMsqPH9YD0XO5Nhcj9Gey3mvo1l/1WAodsl6Nmpd866oB6anpx8IUjlpAdx+"
    "WG0+iUXBaSYVAekEBmGU0ccgT1VW8GoXb4UqEyEZkBY18i2xbtw/OCPFHtnfUaiGLBwWyJKyXfJSWaAHBiMCZGNK8gN+dWq/8xKw"
    "ipLYQv1FTnmY/PK+TCg4o1vgy4CuBf7Lk5bQzUtHTl/NiwvWRW16YOXPw8UYg4zGyy5UQVaZoizWz4xI"
)
PSS_SERVER_FIRST = (
    b"r=covetRecordedNonce0123456CasPoQIUZqGALGnG1zQh2Z7r,s=eQi0ziycYogehMt9tQhrBA==,i=4096"
)
PSS_CLIENT_FINAL = (
    b"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws0o02gKAibZjvl/8aGv/WnUULyDQquMRLzvZcf7SV0q4fNyMveB3pVDmMsCbB1p"
    b"gUeptCxc1POM8P7opIXANixg==,r=covetRecordedNonce0123456CasPoQIUZqGALGnG1zQh2Z7r,p=R5E7D1KEtYidez3"
    b"oll0ho6fWWGdFz94TLFrROGEyySs="
)
PSS_SERVER_FINAL = (
    b"v=1YVPpA62WTFxWNnIF5oaaH0NJ7/5lqJoiykK1+y1fkU="
)
PLAIN_SERVER_FIRST = b"r=covetRecordedNonce01234568D5Y+MzEe2iqrI+9YMRHvolb,s=eQi0ziycYogehMt9tQhrBA==,i=4096"
PLAIN_SERVER_FINAL = b"v=dMqI3XFqzqD0qED4rm9Gn7E48rbi81YqkU1BwR2R48Q="
RECORDED_NONCE = "covetRecordedNonce0123456"


# ---------------------------------------------------------------- RFC 7677 §3

def test_rfc7677_test_vector():
    scram = ScramClient([SCRAM_SHA_256], "pencil", username="user", client_nonce="rOprNGfwEbeRWgbNEkqO")
    assert scram.mechanism == "SCRAM-SHA-256"
    assert scram.client_first_message() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert scram.client_final_message(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    ) == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert scram.done is False
    scram.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert scram.done is True


# ---------------------------------------------------------------- recorded from PostgreSQL

def test_recorded_postgresql_exchange_without_channel_binding():
    scram = ScramClient(["SCRAM-SHA-256"], "secret", client_nonce=RECORDED_NONCE)
    assert scram.client_first_message() == b"n,,n=,r=covetRecordedNonce0123456"  # libpq's empty user name
    scram.client_final_message(PLAIN_SERVER_FIRST)
    scram.verify_server_final(PLAIN_SERVER_FINAL)
    assert scram.done


@pytest.mark.parametrize("cert, server_first, client_final, server_final, hash_name", [
    (EC384_CERT, EC384_SERVER_FIRST, EC384_CLIENT_FINAL, EC384_SERVER_FINAL, "sha384"),
    (PSS_CERT, PSS_SERVER_FIRST, PSS_CLIENT_FINAL, PSS_SERVER_FINAL, "sha512"),
], ids=["ecdsa-with-SHA384", "RSASSA-PSS with SHA-512"])
def test_recorded_postgresql_exchange_with_channel_binding(cert, server_first, client_final, server_final, hash_name):
    assert tls_server_end_point(cert) == hashlib.new(hash_name, cert).digest()
    scram = ScramClient(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], "secret", certificate=cert,
                        client_nonce=RECORDED_NONCE)
    assert scram.mechanism == "SCRAM-SHA-256-PLUS"
    assert scram.client_first_message() == b"p=tls-server-end-point,,n=,r=covetRecordedNonce0123456"
    assert scram.client_final_message(server_first) == client_final
    scram.verify_server_final(server_final)
    assert scram.done


def test_the_recorded_server_signature_fails_for_another_certificate():
    # The binding is part of what both sides sign: a relay holding another certificate is caught.
    scram = ScramClient(["SCRAM-SHA-256-PLUS"], "secret", certificate=PSS_CERT, client_nonce=RECORDED_NONCE)
    scram.client_first_message()
    scram.client_final_message(EC384_SERVER_FIRST)
    with pytest.raises(ScramError) as e:
        scram.verify_server_final(EC384_SERVER_FINAL)
    assert str(e.value) == ("the server's SCRAM signature is wrong: it does not know the password, so it is not the "
                            "server it claims to be")
    assert not scram.done


# ---------------------------------------------------------------- a server simulated from RFC 5802 §3

class ScramServer:
    """The server side of RFC 5802 §3, holding StoredKey and ServerKey as PostgreSQL's pg_authid does."""

    def __init__(self, password, salt=b"pepper-and-salt!", iterations=4096, binding=None, offers_plus=False):
        salted = hashlib.pbkdf2_hmac("sha256", normalize_password(password), salt, iterations)
        self.stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
        self.server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        self.salt, self.iterations = salt, iterations
        self.binding, self.offers_plus = binding, offers_plus

    def first(self, client_first: bytes) -> bytes:
        head, _, self.first_bare = client_first.decode().partition(",,")
        self.gs2 = head + ",,"
        if self.gs2 == "y,," and self.offers_plus:
            raise AssertionError("downgrade: the client could bind and this server offers PLUS")
        self.nonce = self.first_bare.split("r=", 1)[1] + "3rfcNHYJY1ZVvWVs7j"
        self.server_first = "r=%s,s=%s,i=%d" % (self.nonce, base64.b64encode(self.salt).decode(), self.iterations)
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        without_proof, _, proof = client_final.decode().rpartition(",p=")
        channel, nonce = without_proof.split(",")
        expected_binding = self.gs2.encode() + (self.binding if self.gs2.startswith("p=") else b"")
        assert base64.b64decode(channel[2:]) == expected_binding, "channel binding mismatch"
        assert nonce == "r=" + self.nonce
        auth_message = ("%s,%s,%s" % (self.first_bare, self.server_first, without_proof)).encode()
        signature = hmac.new(self.stored_key, auth_message, "sha256").digest()
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
        if hashlib.sha256(client_key).digest() != self.stored_key:
            raise AssertionError("wrong password")
        return b"v=" + base64.b64encode(hmac.new(self.server_key, auth_message, "sha256").digest())


def exchange(client: ScramClient, server: ScramServer) -> None:
    server_first = server.first(client.client_first_message())
    client.verify_server_final(server.final(client.client_final_message(server_first)))


@pytest.mark.parametrize("password", ["pencil", "", "pässwörd", "I\u00adX", "\u0627\u0628", b"\xff\xfe raw bytes",
                                      "a" * 1000, "sp ace\u00a0nbsp"])
def test_exchange_with_a_simulated_server(password):
    client = ScramClient([SCRAM_SHA_256], password)
    exchange(client, ScramServer(password))
    assert client.done


def test_the_proof_depends_on_the_password():
    with pytest.raises(AssertionError, match="wrong password"):
        exchange(ScramClient([SCRAM_SHA_256], "pencil"), ScramServer("pen"))


def test_a_server_that_does_not_know_the_password_is_refused():
    class Impostor(ScramServer):
        def final(self, client_final):
            # Accepts any proof, and signs with a key it does not have.
            return b"v=" + base64.b64encode(b"\x00" * 32)

    client = ScramClient([SCRAM_SHA_256], "pencil")
    with pytest.raises(ScramError) as e:
        exchange(client, Impostor("pencil"))
    assert "does not know the password" in str(e.value)
    assert client.done is False


def test_channel_binding_against_the_simulated_server():
    cert = der_certificate(oid_der("1.2.840.10045.4.3.2"))
    server = ScramServer("pencil", binding=hashlib.sha256(cert).digest(), offers_plus=True)
    client = ScramClient([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], "pencil", certificate=cert)
    assert client.mechanism == SCRAM_SHA_256_PLUS
    exchange(client, server)
    assert client.done
    # A man in the middle terminates TLS with its own certificate: the binding no longer matches.
    relay = ScramClient([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], "pencil",
                        certificate=der_certificate(oid_der("1.2.840.10045.4.3.3")))
    with pytest.raises(AssertionError, match="channel binding mismatch"):
        exchange(relay, server)


def test_a_stripped_plus_offer_is_detectable_by_the_server():
    # The client has a certificate but sees no PLUS: it says "y", and a server that offers PLUS refuses.
    client = ScramClient([SCRAM_SHA_256], "pencil", certificate=der_certificate(oid_der("1.2.840.10045.4.3.2")))
    assert client.client_first_message().startswith(b"y,,")
    with pytest.raises(AssertionError, match="downgrade"):
        ScramServer("pencil", offers_plus=True).first(b"y,,n=,r=abc")


@pytest.mark.parametrize("mechanisms, with_cert, mode, mechanism, header", [
    ([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], True, "prefer", SCRAM_SHA_256_PLUS, b"p=tls-server-end-point,,"),
    ([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], True, "require", SCRAM_SHA_256_PLUS, b"p=tls-server-end-point,,"),
    ([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], True, "disable", SCRAM_SHA_256, b"n,,"),
    ([SCRAM_SHA_256], True, "prefer", SCRAM_SHA_256, b"y,,"),
    ([SCRAM_SHA_256], True, "disable", SCRAM_SHA_256, b"n,,"),
    ([SCRAM_SHA_256], False, "prefer", SCRAM_SHA_256, b"n,,"),
    ([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], False, "prefer", SCRAM_SHA_256, b"n,,"),
])
def test_mechanism_and_gs2_header_choice(mechanisms, with_cert, mode, mechanism, header):
    cert = der_certificate(oid_der("1.2.840.113549.1.1.11")) if with_cert else None
    client = ScramClient(mechanisms, "pw", certificate=cert, channel_binding=mode)
    assert client.mechanism == mechanism
    assert client.client_first_message().startswith(header + b"n=,r=")


@pytest.mark.parametrize("mechanisms, with_cert, mode, message", [
    ([SCRAM_SHA_256], True, "require", "channel binding is required, but the server does not offer SCRAM-SHA-256-PLUS"),
    ([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], False, "require",
     "channel binding is required, but the connection is not on TLS (no server certificate to bind to)"),
    (["SCRAM-SHA-1", "OAUTHBEARER"], False, "prefer",
     "the server offers SASL mechanisms SCRAM-SHA-1, OAUTHBEARER; covet speaks SCRAM-SHA-256 and SCRAM-SHA-256-PLUS"),
    ([SCRAM_SHA_256_PLUS], True, "disable",
     "the server offers SASL mechanisms SCRAM-SHA-256-PLUS; covet speaks SCRAM-SHA-256 and SCRAM-SHA-256-PLUS"),
    ([], False, "prefer", "the server offers SASL mechanisms none; covet speaks SCRAM-SHA-256 and SCRAM-SHA-256-PLUS"),
])
def test_mechanism_refusals(mechanisms, with_cert, mode, message):
    cert = der_certificate(oid_der("1.2.840.113549.1.1.11")) if with_cert else None
    with pytest.raises(ScramError) as e:
        ScramClient(mechanisms, "pw", certificate=cert, channel_binding=mode)
    assert str(e.value) == message
    assert isinstance(e.value, OperationalError)


def test_the_nonce_is_random_base64_of_18_bytes():
    a = ScramClient([SCRAM_SHA_256], "pw").client_first_message()
    b = ScramClient([SCRAM_SHA_256], "pw").client_first_message()
    assert a != b
    nonce = a.split(b",r=")[1]
    assert len(nonce) == 24 and len(base64.b64decode(nonce, validate=True)) == 18


def test_user_names_are_escaped_as_saslname():
    first = ScramClient([SCRAM_SHA_256], "pw", username="a=b,c", client_nonce="xyz").client_first_message()
    assert first == b"n,,n=a=3Db=2Cc,r=xyz"


# ---------------------------------------------------------------- what the server sends, refused

def started(**settings) -> ScramClient:
    client = ScramClient([SCRAM_SHA_256], "pencil", client_nonce="abc", **settings)
    client.client_first_message()
    return client


@pytest.mark.parametrize("server_first, message", [
    (b"m=ext,r=abcdef,s=c2FsdA==,i=4096",
     "the server requires a SCRAM extension covet does not know (RFC 5802 §5.1: the client must then fail)"),
    (b"r=abcdef,i=4096", "the server-first-message is malformed: 'r=abcdef,i=4096'"),
    (b"s=c2FsdA==,r=abcdef,i=4096", "the server-first-message is malformed: 's=c2FsdA==,r=abcdef,i=4096'"),
    (b"", "the server-first-message is malformed: ''"),
    (b"r=xyzdef,s=c2FsdA==,i=4096", "the server's nonce does not extend covet's (RFC 5802 §5.1)"),
    (b"r=abc,s=c2FsdA==,i=4096", "the server's nonce does not extend covet's (RFC 5802 §5.1)"),
    (b"r=abc de,s=c2FsdA==,i=4096", "the server's nonce does not extend covet's (RFC 5802 §5.1)"),
    (b"r=abcdef,s=c2FsdA=,i=4096", "the server's salt is not valid base64"),
    (b"r=abcdef,s=c2F*dA==,i=4096", "the server's salt is not valid base64"),
    (b"r=abcdef,s=,i=4096", "the server sent an empty salt"),
    (b"r=abcdef,s=c2FsdA==,i=04096", "the server's iteration count '04096' is not a positive integer"),
    (b"r=abcdef,s=c2FsdA==,i=-1", "the server's iteration count '-1' is not a positive integer"),
    (b"r=abcdef,s=c2FsdA==,i=0", "the server's iteration count '0' is not a positive integer"),
    (b"r=abcdef,s=c2FsdA==,i=4e3", "the server's iteration count '4e3' is not a positive integer"),
    (b"r=abcdef,s=c2FsdA==,i=\xd9\xa4", "the server-first-message is not ASCII"),
    (b"r=abcdef,s=c2FsdA==,i=99999999999", "the server's iteration count '99999999999' is not a positive integer"),
    (b"r=abcdef,s=c2FsdA==,i=4095",
     "the server asks for 4095 PBKDF2 iterations, fewer than min_iterations=4096 (RFC 7677 §4 asks for at least "
     "4096)"),
    (b"r=abcdef,s=c2FsdA==,i=1",
     "the server asks for 1 PBKDF2 iterations, fewer than min_iterations=4096 (RFC 7677 §4 asks for at least 4096)"),
    (b"r=abcdef,s=c2FsdA==,i=10000001",
     "the server asks for 10000001 PBKDF2 iterations, more than max_iterations=10000000"),
])
def test_server_first_refusals(server_first, message):
    with pytest.raises(ScramError) as e:
        started().client_final_message(server_first)
    assert str(e.value) == message


def test_iteration_bounds_are_settings():
    assert (DEFAULT_MIN_ITERATIONS, DEFAULT_MAX_ITERATIONS) == (4096, 10_000_000)
    client = started(min_iterations=1)
    assert client.client_final_message(b"r=abcdef,s=c2FsdA==,i=1").startswith(b"c=biws,r=abcdef,p=")
    with pytest.raises(ScramError) as e:
        started(max_iterations=5000).client_final_message(b"r=abcdef,s=c2FsdA==,i=5001")
    assert str(e.value) == "the server asks for 5001 PBKDF2 iterations, more than max_iterations=5000"
    # Extensions after the iteration count are allowed (RFC 5802 §7) and ignored.
    assert started().client_final_message(b"r=abcdef,s=c2FsdA==,i=4096,x=ext").startswith(b"c=biws,r=abcdef,")


@pytest.mark.parametrize("server_final, message", [
    (b"e=invalid-proof", "the server refused the SCRAM exchange: invalid-proof"),
    (b"e=channel-bindings-dont-match,x=1", "the server refused the SCRAM exchange: channel-bindings-dont-match"),
    (b"x=nothing", "the server-final-message is malformed: 'x=nothing'"),
    (b"v=!!!", "the server's signature is not valid base64"),
    (b"v=", "the server's SCRAM signature is wrong: it does not know the password, so it is not the server it "
            "claims to be"),
    (b"v=\xff", "the server-final-message is not ASCII"),
])
def test_server_final_refusals(server_final, message):
    client = started()
    client.client_final_message(b"r=abcdef,s=c2FsdA==,i=4096")
    with pytest.raises(ScramError) as e:
        client.verify_server_final(server_final)
    assert str(e.value) == message
    assert client.done is False


def test_messages_out_of_turn_are_refused():
    client = ScramClient([SCRAM_SHA_256], "pencil", client_nonce="abc")
    with pytest.raises(ScramError, match="the server sent a SCRAM challenge out of turn"):
        client.client_final_message(b"r=abcdef,s=c2FsdA==,i=4096")
    with pytest.raises(ScramError, match="the server sent its final SCRAM message out of turn"):
        client.verify_server_final(b"v=AAAA")
    client.client_first_message()
    with pytest.raises(ScramError, match="the SCRAM exchange has already begun"):
        client.client_first_message()
    with pytest.raises(ScramError, match="the server sent its final SCRAM message out of turn"):
        client.verify_server_final(b"v=AAAA")
    client.client_final_message(b"r=abcdef,s=c2FsdA==,i=4096")
    with pytest.raises(ScramError, match="the server sent a SCRAM challenge out of turn"):
        client.client_final_message(b"r=abcdef,s=c2FsdA==,i=4096")


@pytest.mark.parametrize("kwargs, message", [
    ({"channel_binding": "always"}, "channel_binding must be one of disable, prefer, require, not 'always'"),
    ({"min_iterations": 0}, "iteration bounds must be positive ints, not 0"),
    ({"max_iterations": True}, "iteration bounds must be positive ints, not True"),
    ({"min_iterations": 10, "max_iterations": 5}, "min_iterations=10 exceeds max_iterations=5"),
    ({"client_nonce": "a,b"}, "a nonce is printable ASCII without ',' (RFC 5802 §7)"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError) as e:
        ScramClient([SCRAM_SHA_256], "pw", **kwargs)
    assert str(e.value) == message


# ---------------------------------------------------------------- SASLprep, as PostgreSQL's pg_saslprep

@pytest.mark.parametrize("password, expected", [
    # RFC 4013 §3's examples
    ("I\u00adX", b"IX"),                       # SOFT HYPHEN mapped to nothing
    ("user", b"user"),
    ("USER", b"USER"),
    ("\u00aa", b"a"),                          # FEMININE ORDINAL INDICATOR, NFKC
    ("\u2168", b"IX"),                         # ROMAN NUMERAL NINE, NFKC
    ("\u0007", b"\x07"),                       # prohibited by RFC 4013, but ASCII: PostgreSQL's quick path
    ("\u0627\u0031", "\u0627\u0031".encode()),  # bidi error: PostgreSQL uses the bytes as they are
    # mapping
    ("a\u00a0b", b"a b"),                      # NO-BREAK SPACE to SPACE
    ("a\u200bb", b"a b"),                      # ZERO WIDTH SPACE: a space in Unicode 3.2, mapped first as pg does
    ("e\u0301", "\u00e9".encode()),            # composed by NFKC
    ("\ufb01", b"fi"),                         # LATIN SMALL LIGATURE FI
    ("\u0627\u0628", "\u0627\u0628".encode()),  # right-to-left throughout: accepted
    # what PostgreSQL then uses as it is
    ("\u00ad", "\u00ad".encode()),             # maps to nothing at all
    ("\u00e9\u2028", "\u00e9\u2028".encode()),  # LINE SEPARATOR, a non-ASCII control (C.2.2)
    ("\u00e9\ue000", "\u00e9\ue000".encode()),  # private use (C.3)
    ("\u00e9\u0221", "\u00e9\u0221".encode()),  # unassigned in Unicode 3.2 (A.1)
    ("\u0627a\u0628", "\u0627a\u0628".encode()),  # right-to-left mixed with left-to-right
    ("\u06271", "\u06271".encode()),           # right-to-left not ending with one
    # bytes
    (b"\xff\xfe", b"\xff\xfe"),                # not UTF-8: as it is
    ("I\u00adX".encode(), b"IX"),              # UTF-8 bytes are prepared like the str
])
def test_normalize_password(password, expected):
    assert normalize_password(password) == expected


def test_a_password_that_is_not_unicode_is_refused():
    with pytest.raises(EncodeError) as e:
        normalize_password("pass\ud800word")
    assert str(e.value) == "the password is not valid Unicode (it holds a lone surrogate)"


# ---------------------------------------------------------------- tls-server-end-point on DER built here

def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def oid_der(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | arc & 0x7F)
            arc >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, bytes(body))


def der_certificate(algorithm: bytes, parameters: bytes = b"", tbs_size: int = 40) -> bytes:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1)."""
    tbs = der(0x30, der(0x02, b"\x01") + der(0x04, b"t" * tbs_size))
    return der(0x30, tbs + der(0x30, algorithm + parameters) + der(0x03, b"\x00" + b"s" * 64))


def pss(hash_oid=None, extra=b""):
    params = der(0xA0, der(0x30, oid_der(hash_oid) + der(0x05, b""))) if hash_oid else b""
    return der(0x30, params + extra)


HASHES = [
    ("1.2.840.113549.1.1.4", der(0x05, b""), "sha256"),    # md5WithRSAEncryption: MD5 is replaced
    ("1.2.840.113549.1.1.5", der(0x05, b""), "sha256"),    # sha1WithRSAEncryption: SHA-1 is replaced
    ("1.3.14.3.2.29", b"", "sha256"),
    ("1.2.840.113549.1.1.11", der(0x05, b""), "sha256"),
    ("1.2.840.113549.1.1.12", der(0x05, b""), "sha384"),
    ("1.2.840.113549.1.1.13", der(0x05, b""), "sha512"),
    ("1.2.840.113549.1.1.14", der(0x05, b""), "sha224"),
    ("1.2.840.10045.4.1", b"", "sha256"),
    ("1.2.840.10045.4.3.1", b"", "sha224"),
    ("1.2.840.10045.4.3.2", b"", "sha256"),
    ("1.2.840.10045.4.3.3", b"", "sha384"),
    ("1.2.840.10045.4.3.4", b"", "sha512"),
    ("1.2.840.10040.4.3", b"", "sha256"),
    ("2.16.840.1.101.3.4.3.1", b"", "sha224"),
    ("2.16.840.1.101.3.4.3.2", b"", "sha256"),
    ("1.2.840.113549.1.1.10", pss("2.16.840.1.101.3.4.2.2"), "sha384"),
    ("1.2.840.113549.1.1.10", pss("2.16.840.1.101.3.4.2.3", der(0xA2, der(0x02, b"\x20"))), "sha512"),
    ("1.2.840.113549.1.1.10", pss("2.16.840.1.101.3.4.2.4"), "sha224"),
    ("1.2.840.113549.1.1.10", pss("1.3.14.3.2.26"), "sha256"),
    ("1.2.840.113549.1.1.10", pss(), "sha256"),                       # hashAlgorithm absent: SHA-1, replaced
    ("1.2.840.113549.1.1.10", pss(None, der(0xA2, der(0x02, b"\x14"))), "sha256"),
    ("1.2.840.113549.1.1.10", b"", "sha256"),                         # no parameters at all
]


@pytest.mark.parametrize("algorithm, parameters, hash_name", HASHES,
                         ids=["%s-%s-%d" % (h[0], h[2], i) for i, h in enumerate(HASHES)])
def test_the_certificate_hash_follows_its_signature_algorithm(algorithm, parameters, hash_name):
    for tbs_size in (10, 200, 70000):  # short, one-byte and multi-byte DER lengths
        cert = der_certificate(oid_der(algorithm), parameters, tbs_size)
        assert tls_server_end_point(cert) == hashlib.new(hash_name, cert).digest()


@pytest.mark.parametrize("cert, message", [
    (der_certificate(oid_der("1.3.101.112")),
     "channel binding tls-server-end-point is not defined for a certificate signed with Ed25519, which uses no "
     "single hash function (RFC 5929 §4.1); use another certificate or channel_binding='disable'"),
    (der_certificate(oid_der("1.3.101.113")),
     "channel binding tls-server-end-point is not defined for a certificate signed with Ed448, which uses no "
     "single hash function (RFC 5929 §4.1); use another certificate or channel_binding='disable'"),
    (der_certificate(oid_der("1.2.840.113549.1.1.10"), pss("2.16.840.1.101.3.4.2.8")),
     "channel binding: the server certificate's RSASSA-PSS signature uses hash 2.16.840.1.101.3.4.2.8, which "
     "covet does not know"),
    (der_certificate(oid_der("1.2.3.4.5")),
     "channel binding: the server certificate's signature algorithm 1.2.3.4.5 is not one covet knows"),
    (b"", "channel binding: the server certificate is not valid DER"),
    (b"\x30", "channel binding: the server certificate is not valid DER"),
    (b"\x31\x00", "channel binding: the server certificate is not valid DER"),
    (b"\x30\x80\x00\x00", "channel binding: the server certificate is not valid DER"),             # BER indefinite
    (b"\x30\x85\x01\x00\x00\x00\x00", "channel binding: the server certificate is not valid DER"),  # 5 length bytes
    (b"\x30\x05\x30\x03\x02\x01\x01", "channel binding: the server certificate is not valid DER"),  # no algorithm
    (der_certificate(oid_der("1.2.840.113549.1.1.11"))[:-70], "channel binding: the server certificate is not valid "
                                                             "DER"),                              # truncated
    (der(0x30, der(0x30, b"") + der(0x30, der(0x06, b"\x2a\x86"))),
     "channel binding: the server certificate is not valid DER"),                                 # OID cut mid-arc
    (der(0x30, der(0x30, b"") + der(0x30, der(0x06, b""))), "channel binding: the server certificate is not valid DER"),
    (der(0x30, der(0x30, b"") + der(0x30, der(0x02, b"\x01"))),
     "channel binding: the server certificate is not valid DER"),                                 # not an OID
])
def test_certificates_without_a_usable_hash_are_refused(cert, message):
    with pytest.raises(ScramError) as e:
        tls_server_end_point(cert)
    assert str(e.value) == message


def test_a_client_with_an_unusable_certificate_fails_before_sending_anything():
    with pytest.raises(ScramError, match="Ed25519"):
        ScramClient([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], "pw", certificate=der_certificate(oid_der("1.3.101.112")))
    # ...unless binding is disabled, which does not look at the certificate.
    client = ScramClient([SCRAM_SHA_256_PLUS, SCRAM_SHA_256], "pw", channel_binding="disable",
                         certificate=der_certificate(oid_der("1.3.101.112")))
    assert client.mechanism == SCRAM_SHA_256
