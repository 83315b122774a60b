"""Proxy trust: which peers may tell us the client's address and scheme.

``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``Forwarded`` (RFC 7239) are read only from the
peers in ``forwarded_allow_ips``; anyone else could forge them.
"""
import ipaddress

__all__ = ["TrustedProxies", "forwarded_client"]


class TrustedProxies:
    """Which peers may tell us the client address (X-Forwarded-For, Forwarded)."""

    def __init__(self, spec):
        if isinstance(spec, str):
            spec = [s.strip() for s in spec.split(",") if s.strip()]
        self.all = "*" in spec
        self.networks = []
        self.literals = set()
        for item in spec or ():
            if item == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.literals.add(item)  # e.g. "unix:" or a hostname

    def __contains__(self, host):
        if self.all:
            return True
        if host in self.literals:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def __bool__(self):
        return self.all or bool(self.networks) or bool(self.literals)


def forwarded_client(headers, peer_host, trusted):
    """(client host, scheme or None) from proxy headers, trusting only configured proxies.

    The right-most address that is not a trusted proxy is the client
    (uvicorn#1068: left-most can be forged by the client itself).
    """
    hops = []
    proto = None
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
        elif name == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[-1].strip().lower()
        elif name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    k, _, v = pair.partition("=")
                    k = k.strip().lower()
                    v = v.strip().strip('"')
                    if k == "for":
                        if v.startswith("[") and "]" in v:
                            v = v[1:v.index("]")]
                        elif v.count(":") == 1:
                            v = v.split(":")[0]
                        hops.append(v)
                    elif k == "proto":
                        proto = v.lower()
    client = peer_host
    for hop in reversed(hops):
        if not hop:
            continue
        client = hop
        if hop not in trusted:
            break
    if proto not in ("http", "https", "ws", "wss"):
        proto = None
    return client, proto
