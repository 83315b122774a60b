#!/bin/sh
# Run the suite (all but tests marked slow, and those using the PostgreSQL server: the main
# interpreter runs both, and the client's codecs run here too) on every other Python 3.9-3.13 found
# here, JOBS interpreters at a time: most tests wait on sockets, threads and subprocesses, so
# several runs share this machine's two cores well (`make test` runs four beside the main run:
# the whole matrix then stays within CI's ten minutes).
# Usage: tools/test-all.sh MAIN_VERSION "3.9 3.10 ..." [JOBS]
set -u
main=$1; versions=$2; jobs=${3:-2}
found=""
for v in $versions; do
  [ "$v" = "$main" ] && continue
  py=$(ls -d /root/.pyenv/versions/$v.*/bin/python 2>/dev/null | head -n1)
  [ -n "$py" ] || py=$(command -v python$v || true)
  if [ -z "$py" ]; then echo "python$v: not found, skipped"; continue; fi
  if [ ! -f .venvs/$v/.ok ]; then
    "$py" -m venv .venvs/$v && .venvs/$v/bin/python -m pip install -q --disable-pip-version-check pytest \
      && touch .venvs/$v/.ok || { echo "python$v: could not make its venv"; exit 1; }
  fi
  found="$found $v"
done
failed=""
set -- $found
while [ $# -gt 0 ]; do
  batch=""; n=0
  while [ $# -gt 0 ] && [ $n -lt "$jobs" ]; do batch="$batch $1"; shift; n=$((n + 1)); done
  for v in $batch; do
    # setup.cfg's addopts keep pytest's cache off, so two runs never write .pytest_cache at once
    .venvs/$v/bin/python -m pytest -m "not slow and not postgres" > .venvs/$v/test.log 2>&1 &
    echo $! > .venvs/$v/test.pid
  done
  for v in $batch; do
    wait "$(cat .venvs/$v/test.pid)"; status=$?
    echo "== python$v"
    tail -n 1 .venvs/$v/test.log  # the "N passed" line
    [ $status -eq 0 ] || { failed="$failed $v"; cat .venvs/$v/test.log | tail -n 200; }
  done
done
if [ -n "$failed" ]; then echo "FAILED on python:$failed"; exit 1; fi
