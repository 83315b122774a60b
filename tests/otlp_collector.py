"""A fake OTLP/HTTP collector for the tracing tests: an endpoint on 127.0.0.1:0 that keeps every
export it receives, and decoders for the spans in them (the OTLP JSON encoding of
opentelemetry-proto)."""
import http.server
import json
import queue
import threading

import pytest


class Collector:
    """An OTLP/HTTP endpoint on 127.0.0.1:0 keeping every request; ``hold`` stalls answers."""

    def __init__(self):
        self.requests = queue.Queue()
        self.arrived = threading.Event()
        self.hold = threading.Event()
        self.hold.set()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.requests.put((self.path, self.headers.get("Content-Type"), json.loads(body)))
                collector.arrived.set()
                collector.hold.wait(10)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        out = []
        while not self.requests.empty():
            path, ctype, body = self.requests.get_nowait()
            assert path == "/v1/traces" and ctype == "application/json"
            for rs in body["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    out.extend(ss["spans"])
        return out

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def attrs(span):
    """A span's attributes as a plain dict (int values decoded from their JSON strings)."""
    out = {}
    for kv in span["attributes"]:
        (kind, value), = kv["value"].items()
        out[kv["key"]] = int(value) if kind == "intValue" else value
    return out


@pytest.fixture(autouse=True)
def no_default_tracer(monkeypatch):
    """@trace outside a request uses the latest middleware's tracer: one per test, none left behind."""
    import covet.monitoring.tracing as tracing_module
    monkeypatch.setattr(tracing_module, "_default", [None])


@pytest.fixture
def collector():
    """A fresh collector for the test, shut down after it."""
    c = Collector()
    yield c
    c.close()
