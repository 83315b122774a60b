"""Micro-benchmark of covet.server.http11 against h11 and httptools on the same request bytes.

Run with plain python3 (peers reported as not installed) or with benchmarks/.venv/bin/python.
Prints the median microseconds per request over several runs, and the ratios peer/covet.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from covet.server.http11 import NEED_DATA, RequestParser, response_head  # noqa: E402

BROWSER_GET = (
    b"GET /static/app.css?v=3 HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/css,*/*;q=0.1\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Referer: http://localhost:8000/\r\n"
    b"Cookie: session=eyJ1c2VyIjoxfQ.abcdef; theme=dark\r\n"
    b"\r\n"
)
WRK_GET = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
CHUNKED_POST = (
    b"POST /upload HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (len(part), part)
               for part in (b'{"name": "covet",', b' "tags": ["a", "b"]', b"}"))
    + b"0\r\n\r\n"
)
CASES = [("browser GET (8 headers)", BROWSER_GET), ("wrk GET (1 header)", WRK_GET),
         ("chunked POST (3 chunks)", CHUNKED_POST)]
RUNS = 7
NUMBER = 20000


def covet_reused(data):
    parser = RequestParser()

    def run():
        parser.feed(data)
        while parser.next_event() is not NEED_DATA:
            pass
    return run


def covet_fresh(data):
    def run():
        parser = RequestParser()
        parser.feed(data)
        while parser.next_event() is not NEED_DATA:
            pass
    return run


def h11_fresh(data):
    import h11

    def run():
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(data)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                break
    return run


def httptools_reused(data):
    import httptools

    class Protocol:
        def on_url(self, url):
            self.url = url

        def on_header(self, name, value):
            self.headers.append((name.lower(), value))

        def on_headers_complete(self):
            pass

        def on_message_begin(self):
            self.headers = []

        def on_body(self, body):
            self.body.append(body)

        def on_message_complete(self):
            self.body = []

    proto = Protocol()
    proto.body = []
    parser = httptools.HttpRequestParser(proto)

    def run():
        parser.feed_data(data)
        parser.get_method()
        parser.should_keep_alive()
    return run


def measure(runs):
    """Median us per call of each callable; the contenders alternate within every round so
    that noise from other processes on the machine hits them all alike."""
    for run in runs:
        for _ in range(1000):
            run()
    samples = [[] for _ in runs]
    for _ in range(RUNS):
        for run, out in zip(runs, samples):
            t0 = time.perf_counter_ns()
            for _ in range(NUMBER):
                run()
            out.append((time.perf_counter_ns() - t0) / NUMBER / 1000.0)
    return [statistics.median(s) for s in samples]


def main():
    print("HTTP/1.1 request parsing, median of %d runs x %d requests, us/request (Python %s)"
          % (RUNS, NUMBER, sys.version.split()[0]))
    peers = [("h11 (new Connection)", h11_fresh), ("httptools (parser reused)", httptools_reused)]
    for label, data in CASES:
        print("\n%s, %d bytes" % (label, len(data)))
        names = ["covet (parser reused)", "covet (new parser)"]
        runs = [covet_reused(data), covet_fresh(data)]
        for name, factory in peers:
            try:
                runs.append(factory(data))
                names.append(name)
            except ImportError:
                print("  %-28s peer not installed" % name)
        figures = measure(runs)
        base = figures[0]
        for name, figure in zip(names, figures):
            ratio = "" if name.startswith("covet") else "   %s/covet = %.2fx" % (
                name.split()[0], figure / base)
            print("  %-28s %7.2f%s" % (name, figure, ratio))
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"13"),
               (b"date", b"Sun, 23 Nov 2026 18:00:00 GMT"), (b"server", b"covet")]
    figure = measure([lambda: response_head(200, headers)])[0]
    print("\nresponse_head(200, 4 headers): %.2f us" % figure)


if __name__ == "__main__":
    main()
