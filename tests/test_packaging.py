"""Packaging and set-up: setup.cfg, pyproject.toml, README, Makefile and .ci/run say what issue 2 asks."""
import configparser
import importlib
import os
import pathlib
import re

import covet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"), encoding="utf-8")
    return cfg


def test_setup_cfg_declares_no_dependencies_and_the_covet_script():
    cfg = setup_cfg()
    # "covet" on the package index is an unrelated project: the distribution has a name of its own.
    assert cfg["metadata"]["name"] == "covet-web"
    assert cfg["metadata"]["version"] == "attr: covet.__version__"
    assert "install_requires" not in cfg["options"]
    assert cfg["options"]["python_requires"] == ">=3.9"
    scripts = [line.strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    assert scripts == ["covet = covet.cli:main"]
    module, _, func = scripts[0].split(" = ")[1].partition(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_every_package_under_covet_is_found_by_setuptools():
    cfg = setup_cfg()
    assert cfg["options"]["packages"] == "find:"
    assert [p.strip() for p in cfg["options.packages.find"]["include"].split(",")] == ["covet", "covet.*"]
    # find: only picks up directories with an __init__.py: a module directory without one
    # would be missing from the installed package.
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "covet")):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        if any(f.endswith(".py") for f in filenames):
            assert "__init__.py" in filenames, dirpath
    assert os.path.exists(os.path.join(ROOT, "covet", "py.typed"))


def test_every_data_file_under_covet_is_named_in_package_data():
    # A file that is not Python ships only when package_data names it: the /docs page's script,
    # the code generator's templates. A file left out works from a checkout and is missing (a 500,
    # a failed command) from an installed copy.
    import fnmatch

    cfg = setup_cfg()
    patterns = {package.strip(): [g.strip() for g in globs.split(",") if g.strip()]
                for package, globs in cfg["options.package_data"].items()}
    missing = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "covet")):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith((".py", ".pyc")):
                continue
            path = os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/")
            shipped = any(
                path.startswith(package.replace(".", "/") + "/")
                and fnmatch.fnmatch(path[len(package) + 1:], glob)
                and glob.count("/") == path[len(package) + 1:].count("/")
                for package, globs in patterns.items() for glob in globs)
            if not shipped:
                missing.append(path)
    assert missing == []


def test_pyproject_has_the_setuptools_build_system_table():
    text = read("pyproject.toml")
    assert "[build-system]" in text
    assert re.search(r'^build-backend = "setuptools\.build_meta"$', text, re.M)
    assert re.search(r'^requires = \["setuptools>=61"\]$', text, re.M)


def test_readme_first_screen_gives_the_two_set_up_commands():
    first_screen = "\n".join(read("README.md").splitlines()[:15])
    assert re.search(r"^make run +# serves examples/hello\.py on http://127\.0\.0\.1:8000$", first_screen, re.M)
    assert re.search(r"^make test +# creates \.venv, installs pytest", first_screen, re.M)


def test_makefile_runs_the_suite_on_every_python_from_3_9_to_3_13():
    text = read("Makefile")
    assert re.search(r"^VERSIONS := 3\.9 3\.10 3\.11 3\.12 3\.13$", text, re.M)
    assert 'sh tools/test-all.sh "$$main" "$(VERSIONS)"' in text
    runner = read(os.path.join("tools", "test-all.sh"))
    assert "not found, skipped" in runner  # an absent interpreter is reported, not an error
    assert 'exit 1' in runner  # a failing one fails the target
    assert re.search(r"^run:.*\n\t\$\(PYTHON\) -m covet run examples/hello\.py$", text, re.M)


def test_ci_runs_make_test_and_fails_on_failure():
    path = os.path.join(ROOT, ".ci", "run")
    text = read(os.path.join(".ci", "run"))
    assert os.access(path, os.X_OK)
    assert "set -euo pipefail" in text
    # make test and, beside it, the browser suite (tests/browser): either failing fails the run.
    assert re.search(r"^make test \|\| status=\$\?$", text, re.M)
    assert "make test-browser > .test-browser.log" in text
    assert text.rstrip().endswith('[ "$status" -eq 0 ] && [ "$(cat .test-browser.status)" -eq 0 ]')


def test_version_is_a_plain_release_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+", covet.__version__)


def test_no_install_instruction_names_the_unrelated_covet_distribution():
    root = pathlib.Path(ROOT)
    texts = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    bad = [str(p.relative_to(root)) for p in texts if re.search(r"pip install covet(?![-\w])", p.read_text())]
    assert bad == []


def test_tests_and_docs_cite_sources_a_reader_can_open():
    # Internal planning notes live outside the repository: cite the RFC, the CVE or the issue instead.
    root = pathlib.Path(ROOT)
    files = sorted((root / "tests").glob("*.py")) + sorted((root / "docs").glob("*.md")) + [root / "README.md"]
    names = ("STYLE" + ".md", "PEER-" + "LESSONS", "DESIGN" + ".md")
    bad = [str(p.relative_to(root)) for p in files for n in names if n in p.read_text(encoding="utf-8")]
    assert bad == []
