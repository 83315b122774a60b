"""``python -m covet new NAME``: the project it writes, its own tests run in a subprocess, refusals."""
import os
import pathlib
import subprocess
import sys

import pytest

from covet.cli import load_app, main
from covet.cli.new import ProjectError, create_project
from server_helpers import REPO

FILES = [".env.example", "README.md", "app.py", "config.py", "deploy/grafana/covet-overview.json",
         "deploy/prometheus/alerts.yml", "deploy/prometheus/alerts_test.yml", "deploy/prometheus/scrape.yml",
         "migrations/0001_create_notes.sql", "models.py", "templates/index.html", "tests/conftest.py", "tests/test_app.py"]


def env_with_repo():
    env = dict(os.environ)
    # The subprocess must import this checkout's covet, whatever the venv has installed.
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DATABASE_URL", None)
    return env


def test_cli_creates_project_and_its_tests_pass(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "notes"]) == 0
    assert capsys.readouterr().out == (
        "created notes/ with %s\nnext: cd notes && python -m pytest tests && python -m covet run app.py\n"
        % ", ".join(FILES))
    root = tmp_path / "notes"
    written = sorted(str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*") if p.is_file())
    assert written == FILES
    assert (root / ".env.example").read_text() == "DATABASE_URL=sqlite:///notes.db\nDEBUG=false\n"
    assert 'DATABASE_URL: str = "sqlite:///notes.db"' in (root / "config.py").read_text()
    assert "<title>{{ title }}</title>" in (root / "templates/index.html").read_text()
    for path in FILES:   # the deploy files are copied byte for byte, their {{ }} left to Prometheus and Grafana
        if path.startswith("deploy/"):
            assert (root / path).read_bytes() == pathlib.Path(REPO, path).read_bytes()
    readme = (root / "README.md").read_text()
    assert "    python -m covet run app.py\n" in readme and "    python -m pytest tests\n" in readme
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
                          cwd=str(root), env=env_with_repo(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert "5 passed" in proc.stdout


def test_generated_app_imports_with_its_routes(tmp_path, monkeypatch):
    create_project("shop", str(tmp_path))
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for module in ("app", "config", "models"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    app = load_app("app.py")
    routes = sorted((sorted(r.methods), r.path) for r in app.routes)
    assert routes == [
        (["GET"], "/"),
        (["GET"], "/api/notes"),
        (["GET"], "/api/notes/{note_id:int}"),
        (["GET"], "/health"),
        (["GET"], "/health/live"),
        (["GET"], "/health/ready"),
        (["GET"], "/metrics"),
        (["POST"], "/api/notes"),
    ]
    assert app.title == "shop"
    assert app.state.database.url == "sqlite:///shop.db"
    assert not os.path.exists("shop.db")   # nothing is touched before start-up
    for module in ("app", "config", "models"):
        sys.modules.pop(module, None)


@pytest.mark.parametrize("name", ["", "1abc", "-x", ".hidden", "a/b", "..", "a b", "caf\u00e9", "x" * 65,
                                  "a\\b", "ab;rm"])
def test_bad_names_refused(tmp_path, name):
    with pytest.raises(ProjectError) as info:
        create_project(name, str(tmp_path))
    assert str(info.value) == ("bad project name %r: use a letter, then letters, digits, '_' or '-' (64 at most)"
                               % (name,))
    assert os.listdir(str(tmp_path)) == []


def test_existing_folder_refused_and_left_alone(tmp_path, monkeypatch, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    assert main(["new", "taken"]) == 1
    assert capsys.readouterr().err == "covet: %s already exists and is not an empty folder\n" % os.path.join(".", "taken")
    assert os.listdir(str(tmp_path / "taken")) == ["keep.txt"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ProjectError):
        create_project("afile", str(tmp_path))


def test_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    assert create_project("empty", str(tmp_path)) == FILES


def test_templates_are_package_data():
    with open(os.path.join(REPO, "setup.cfg")) as f:
        assert ("covet.cli = project_template/*.tmpl, project_template/*/*.tmpl, project_template/deploy/*/*.yml, "
                "project_template/deploy/*/*.json\n") in f.read()
    from covet.cli.new import TEMPLATE_DIR
    found = {os.path.relpath(os.path.join(d, f), TEMPLATE_DIR).replace(os.sep, "/")
             for d, _, files in os.walk(TEMPLATE_DIR) for f in files}
    depths = {f.count("/") for f in found if not f.startswith("deploy/")}
    assert depths == {0, 1}   # what the two .tmpl globs reach
    assert sorted(f for f in found if f.startswith("deploy/")) == [f for f in FILES if f.startswith("deploy/")]
