#!/bin/sh
# Prepares the browser suite (tests/browser) for `make test-browser`: the venv .venv-browser/ with
# the pinned pytest and playwright (tests/browser/requirements.txt; playwright brings its own node
# driver), and a Chromium to drive: $COVET_CHROMIUM, else Debian's /usr/bin/chromium (the package
# chromium, installed when we are root with apt-get), else Playwright's own build if
# `playwright install chromium` can download one (it cannot where only package registries are
# reached). Exit 0: ready; exit 2: no browser can be had, and one line "browser tests SKIPPED:
# <reason>" says why; anything else: a real failure.
set -u
cd "$(dirname "$0")/.."
venv=.venv-browser
requirements=tests/browser/requirements.txt

skip() { echo "browser tests SKIPPED: $1"; exit 2; }

# One interpreter is enough: what differs between Pythons is covered by `make test`. 3.11 when
# pyenv has it (the one the pins were chosen on), else python3.
py=$(ls -d /root/.pyenv/versions/3.11*/bin/python 2>/dev/null | head -n1)
[ -n "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || skip "no python3 to build $venv with"

if [ ! -f $venv/.ok ] || [ $requirements -nt $venv/.ok ]; then
  rm -rf $venv
  "$py" -m venv $venv || skip "could not make $venv with $py"
  $venv/bin/python -m pip install -q --disable-pip-version-check -r $requirements \
    || skip "could not install $requirements into $venv (is the package index reachable?)"
  touch $venv/.ok
fi

if [ -n "${COVET_CHROMIUM:-}" ]; then
  [ -x "$COVET_CHROMIUM" ] || skip "COVET_CHROMIUM=$COVET_CHROMIUM is not an executable"
  exit 0
fi
[ -x /usr/bin/chromium ] && exit 0
apt="not root with apt-get, so the package chromium was not installed"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || \
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }
  [ -x /usr/bin/chromium ] && exit 0
  apt="apt-get install chromium did not provide it"
fi
# Playwright's own Chromium: the conftest launches it when /usr/bin/chromium is missing.
timeout 300 $venv/bin/python -m playwright install chromium >/dev/null 2>&1
bundled=$($venv/bin/python -c 'from playwright.sync_api import sync_playwright
with sync_playwright() as p: print(p.chromium.executable_path)' 2>/dev/null)
[ -n "$bundled" ] && [ -x "$bundled" ] && exit 0
skip "no Chromium: /usr/bin/chromium is missing ($apt) and playwright install chromium could not download one"
