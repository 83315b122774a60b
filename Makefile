# covet: `make test` builds .venv (pytest only) and runs the suite on every
# Python 3.9-3.13 found here; `make run` serves examples/hello.py.
PYTHON ?= python3
VENV := .venv
VERSIONS := 3.9 3.10 3.11 3.12 3.13

.PHONY: test test-one test-all test-browser run bench autobahn redis postgres nginx prometheus peers clean

# The main interpreter's full run and the other interpreters' runs go side by side: most tests
# wait on sockets, threads and subprocesses, and one after the other they no longer fit CI's ten
# minutes. The other runs write their logs under .venvs/ and report when the main run is done.
test: $(VENV)/.ok redis postgres nginx prometheus peers
	@main=$$($(VENV)/bin/python -c 'import sys;print("%d.%d"%sys.version_info[:2])'); \
	sh tools/test-all.sh "$$main" "$(VERSIONS)" 4 > .test-all.log 2>&1 & others=$$!; \
	$(VENV)/bin/python -m pytest; status=$$?; \
	wait $$others; other_status=$$?; cat .test-all.log; \
	[ $$status -eq 0 ] && [ $$other_status -eq 0 ]

# The Redis tests need a real redis-server (Debian package); install it when
# we can, otherwise those tests skip and say why.
redis:
	@command -v redis-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -qq redis-server >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)); } || \
	  echo "redis-server missing: Redis tests will be skipped"

# The PostgreSQL tests start a real server (tests/pg_fixture.py): initdb, postgres and psql from the
# Debian package postgresql (in /usr/lib/postgresql/<version>/bin, not on PATH), and openssl for the
# server's throwaway TLS certificate. Installed when we can, otherwise those tests skip and say why.
postgres:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && export DEBIAN_FRONTEND=noninteractive && \
	  (apt-get install -y -qq postgresql openssl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql openssl >/dev/null)); } || \
	  echo "postgresql or openssl missing: PostgreSQL tests will be skipped"

# tests/test_deployment_docs.py runs docs/deployment.md's nginx block with the real nginx (Debian
# package nginx-light, or nginx); installed when we can, otherwise those tests skip and say why.
nginx:
	@{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && export DEBIAN_FRONTEND=noninteractive && \
	  (apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq nginx >/dev/null)); } || \
	  echo "nginx missing: the nginx deployment tests will be skipped"

# tests/test_deploy_prometheus.py runs promtool on deploy/prometheus/ and a real prometheus (Debian package
# prometheus) on a port and data folder of its own, so a prometheus service the package may start on
# 9090 is never used; installed when we can, otherwise those tests skip and say why.
prometheus:
	@{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && export DEBIAN_FRONTEND=noninteractive && \
	  (apt-get install -y -qq prometheus >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq prometheus >/dev/null)); } || \
	  echo "prometheus or promtool missing: the Prometheus deployment tests will be skipped"

# The psycopg interop test (tests/test_postgres_interop.py) runs benchmarks/pg_interop.py with the
# peers' venv, where psycopg 3 lives; built when it can be (about a minute), otherwise that test
# skips and says why.
peers:
	@$(MAKE) --no-print-directory $(BENCH_VENV)/.ok >/dev/null 2>&1 || \
	  echo "benchmarks/.venv could not be built: the psycopg interop test will be skipped"

$(VENV)/.ok:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check pytest
	touch $@

# Every other interpreter gets its own venv under .venvs/; absent ones are
# reported and skipped, a failing one fails the target. They run every test but
# those marked slow (subprocess servers, soak tests of 100,000 keys), which the
# main interpreter runs: what differs between Pythons is syntax and the standard
# library. `make test` runs them four at a time beside the main run; `make test-all` alone, two.
test-all:
	@main=$$($(VENV)/bin/python -c 'import sys;print("%d.%d"%sys.version_info[:2])'); \
	sh tools/test-all.sh "$$main" "$(VERSIONS)" 2

test-one: $(VENV)/.ok
	$(VENV)/bin/python -m pytest $(ARGS)

run:
	$(PYTHON) -m covet run examples/hello.py

# The browser suite (tests/browser): pytest + Playwright driving headless Chromium against the
# examples served by `python -m covet run`. Its own venv (.venv-browser/, pinned in
# tests/browser/requirements.txt), never covet's or `make test`'s. tools/browser-setup.sh builds it
# and finds or installs a Chromium; without one it prints "browser tests SKIPPED: <reason>" and
# this target succeeds. ARGS go to pytest (ARGS="-k blog").
BROWSER_VENV := .venv-browser

test-browser:
	@sh tools/browser-setup.sh; status=$$?; \
	if [ $$status -eq 2 ]; then exit 0; fi; [ $$status -eq 0 ] || exit $$status; \
	$(BROWSER_VENV)/bin/python -m pytest tests/browser $(ARGS)

# Peers for comparison live only in benchmarks/.venv, never in covet's run-time.
BENCH_VENV := benchmarks/.venv

$(BENCH_VENV)/.ok: benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.ok
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "wrk is needed for benchmarks/http (Debian package wrk)"; exit 1; }
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BENCH_VENV)/bin/python $$f; done
	$(BENCH_VENV)/bin/python benchmarks/http/run.py
	$(BENCH_VENV)/bin/python benchmarks/http/memory.py

# Autobahn's fuzzing client against covet's server (needs Python 2.7; says so and skips without
# it). ARGS=--quick for the smaller cases. Slow, so not part of `make test`.
autobahn:
	$(PYTHON) benchmarks/autobahn/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(BROWSER_VENV) .venvs .autobahn build dist *.egg-info
