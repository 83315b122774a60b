"""HS256 encode and decode per second, covet.security.jwt against PyJWT, plus password hash cost.

Run with plain python3 (PyJWT reported as not installed) or with benchmarks/.venv/bin/python.
Each figure is the median of several runs on one core; targets: covet decode >= 100,000/s and
>= 2x PyJWT's decode. Before timing, each library decodes the other's token (interop check).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet.security import JWT, hash_password, verify_password  # noqa: E402

try:
    import jwt as pyjwt  # PyJWT
except ImportError:
    pyjwt = None

KEY = b"benchmark-secret-key-of-32-bytes!!"
RUNS = 7
NUMBER = 20000
DECODE_TARGET = 100000
RATIO_TARGET = 2.0


def per_second(function, number=NUMBER, runs=RUNS):
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(number):
            function()
        timings.append(time.perf_counter() - start)
    return number / statistics.median(timings)


def main():
    now = int(time.time())
    claims = {"sub": "user-1234", "roles": ["admin", "editor"], "iat": now, "exp": now + 3600}
    covet = JWT(KEY)
    token = covet.encode(claims)

    print("Python %s, %d runs x %d calls, medians" % (sys.version.split()[0], RUNS, NUMBER))
    print("token: %d bytes, claims: %s" % (len(token), sorted(claims)))
    results = {
        "covet encode": per_second(lambda: covet.encode(claims)),
        "covet decode": per_second(lambda: covet.decode(token)),
    }
    if pyjwt is not None:
        peer_token = pyjwt.encode(claims, KEY, algorithm="HS256")
        assert covet.decode(peer_token) == claims, "covet cannot read PyJWT's token"
        assert pyjwt.decode(token, KEY, algorithms=["HS256"]) == claims, "PyJWT cannot read covet's token"
        results["PyJWT %s encode" % pyjwt.__version__] = per_second(
            lambda: pyjwt.encode(claims, KEY, algorithm="HS256"))
        results["PyJWT %s decode" % pyjwt.__version__] = per_second(
            lambda: pyjwt.decode(peer_token, KEY, algorithms=["HS256"]))
    for name, rate in results.items():
        print("  %-22s %10.0f /s  (%.2f us)" % (name, rate, 1e6 / rate))

    decode = results["covet decode"]
    print("covet decode %s the %d/s target" % ("meets" if decode >= DECODE_TARGET else "MISSES", DECODE_TARGET))
    if pyjwt is None:
        print("PyJWT: peer not installed (use benchmarks/.venv/bin/python)")
    else:
        ratio = decode / results["PyJWT %s decode" % pyjwt.__version__]
        enc_ratio = results["covet encode"] / results["PyJWT %s encode" % pyjwt.__version__]
        print("ratio covet/PyJWT: decode %.2fx (target %.1fx: %s), encode %.2fx"
              % (ratio, RATIO_TARGET, "met" if ratio >= RATIO_TARGET else "MISSED", enc_ratio))

    # Password hashing is meant to be slow; this shows what one login costs at the defaults.
    for scheme in ("scrypt", "pbkdf2-sha256"):
        hashed = hash_password("correct horse battery staple", scheme=scheme)
        ms = 1000 / per_second(lambda: verify_password("correct horse battery staple", hashed), 1, 5)
        print("verify_password %-14s %7.1f ms  (%s)" % (scheme, ms, hashed.split("$")[2]))


if __name__ == "__main__":
    main()
