"""``python -m covet generate``: naming and plurals, refusals, --force, and a generated project whose own
tests pass with its new routes in /openapi.json."""
import os
import subprocess
import sys

import pytest

from covet.cli import load_app, main
from covet.cli.generate import GenerateError, generate, plan_resource, wire_app
from covet.cli.naming import pluralize, resource_names, singularize
from covet.cli.new import create_project
from covet.testing import TestClient
from server_helpers import REPO

# singular -> plural: every rule of covet/cli/naming.py, its exceptions, and uncountables.
PLURALS = [
    ("product", "products"), ("order", "orders"), ("user", "users"), ("idea", "ideas"),
    ("category", "categories"), ("company", "companies"), ("city", "cities"), ("story", "stories"),
    ("day", "days"), ("key", "keys"), ("survey", "surveys"), ("toy", "toys"),
    ("status", "statuses"), ("bus", "buses"), ("address", "addresses"), ("class", "classes"),
    ("box", "boxes"), ("tax", "taxes"), ("waltz", "waltzes"), ("church", "churches"), ("batch", "batches"),
    ("dish", "dishes"), ("wish", "wishes"), ("epoch", "epochs"), ("stomach", "stomachs"),
    ("leaf", "leaves"), ("knife", "knives"), ("wife", "wives"), ("wolf", "wolves"), ("shelf", "shelves"),
    ("roof", "roofs"), ("chief", "chiefs"), ("belief", "beliefs"), ("proof", "proofs"), ("cliff", "cliffs"),
    ("hero", "heroes"), ("potato", "potatoes"), ("photo", "photos"), ("video", "videos"), ("radio", "radios"),
    ("person", "people"), ("child", "children"), ("man", "men"), ("woman", "women"), ("mouse", "mice"),
    ("goose", "geese"), ("tooth", "teeth"), ("foot", "feet"), ("ox", "oxen"), ("quiz", "quizzes"),
    ("salesperson", "salespeople"), ("grandchild", "grandchildren"), ("chairman", "chairmen"),
    ("human", "humans"), ("german", "germans"),
    ("analysis", "analyses"), ("crisis", "crises"), ("axis", "axes"), ("matrix", "matrices"),
    ("criterion", "criteria"), ("datum", "data"), ("cactus", "cacti"),
    ("equipment", "equipment"), ("information", "information"), ("data", "data"), ("series", "series"),
    ("species", "species"), ("news", "news"), ("sheep", "sheep"), ("software", "software"),
    ("feedback", "feedback"), ("metadata", "metadata"), ("media", "media"),
    ("movie", "movies"), ("cookie", "cookies"), ("cache", "caches"), ("house", "houses"), ("case", "cases"),
    ("size", "sizes"), ("archive", "archives"), ("glove", "gloves"), ("shoe", "shoes"), ("alias", "aliases"),
    ("gas", "gases"), ("lens", "lenses"), ("specimen", "specimens"),
]


@pytest.mark.parametrize("singular, plural", PLURALS)
def test_plural_and_back(singular, plural):
    assert pluralize(singular) == plural
    assert singularize(plural) == (singular if singular != "datum" else "data")   # "data" is uncountable
    assert singularize(singular) == singular     # a singular is never mistaken for a plural


@pytest.mark.parametrize("given, expected", [
    # (class, module, table, route)
    ("Product", ("Product", "product", "products", "products")),
    ("Category", ("Category", "category", "categories", "categories")),
    ("Person", ("Person", "person", "people", "people")),
    ("Status", ("Status", "status", "statuses", "statuses")),
    ("UserProfile", ("UserProfile", "user_profile", "user_profiles", "user-profiles")),
    ("user_profile", ("UserProfile", "user_profile", "user_profiles", "user-profiles")),
    ("order-item", ("OrderItem", "order_item", "order_items", "order-items")),
    ("userProfile", ("UserProfile", "user_profile", "user_profiles", "user-profiles")),
    ("SalesPerson", ("SalesPerson", "sales_person", "sales_people", "sales-people")),
    ("HTTPRequest", ("HTTPRequest", "http_request", "http_requests", "http-requests")),
    ("OAuth2Client", ("OAuth2Client", "o_auth2_client", "o_auth2_clients", "o-auth2-clients")),
    ("news_item", ("NewsItem", "news_item", "news_items", "news-items")),
    ("Equipment", ("Equipment", "equipment", "equipment", "equipment")),
    ("KnifeLeaf", ("KnifeLeaf", "knife_leaf", "knife_leaves", "knife-leaves")),
    # Already plural: read as the plural of the singular.
    ("Products", ("Product", "product", "products", "products")),
    ("categories", ("Category", "category", "categories", "categories")),
    ("People", ("Person", "person", "people", "people")),
    ("order_items", ("OrderItem", "order_item", "order_items", "order-items")),
    ("Statuses", ("Status", "status", "statuses", "statuses")),
])
def test_resource_names(given, expected):
    n = resource_names(given)
    assert (n.class_name, n.module, n.table, n.route) == expected


@pytest.mark.parametrize("name, message", [
    ("class", "'class' is not a usable name: its module name 'class' is a Python keyword"),
    ("Import", "'Import' is not a usable name: its module name 'import' is a Python keyword"),
    ("None", "'None' is not a usable name: its class name 'None' is a Python keyword"),
    ("2fa", "'2fa' is not a usable name: it starts with a digit, and a Python name cannot"),
    ("a b", "'a b' is not a usable name: use ASCII letters, digits, '_' or '-' (e.g. Product, user_profile or "
            "order-item)"),
    ("caf\u00e9", "'caf\u00e9' is not a usable name: use ASCII letters, digits, '_' or '-' (e.g. Product, "
                  "user_profile or order-item)"),
    ("../x", "'../x' is not a usable name: use ASCII letters, digits, '_' or '-' (e.g. Product, user_profile or "
             "order-item)"),
    ("__", "'__' is not a usable name: it has no letters"),
    ("", "a name is required (e.g. Product, user_profile or order-item)"),
    ("   ", "a name is required (e.g. Product, user_profile or order-item)"),
    ("x" * 65, "%r is too long: at most 64 characters" % ("x" * 65)),
    ("Column", "'Column' is not a usable name: the generated code imports a Column of its own; choose another "
               "(e.g. ColumnItem)"),
])
def test_refused_names_exit_2_and_write_nothing(tmp_path, capsys, name, message):
    for kind in ("resource", "router", "middleware"):
        if kind != "resource" and name == "Column":
            continue   # only the resource's modules import Column
        assert main(["generate", kind, name, "--dir", str(tmp_path)]) == 2
        assert capsys.readouterr() == ("", "covet: %s\n" % message)
    assert os.listdir(str(tmp_path)) == []


def test_bad_options_exit_2(tmp_path, capsys):
    assert main(["generate", "router", "hooks", "--prefix", "hooks", "--dir", str(tmp_path)]) == 2
    assert "bad --prefix 'hooks'" in capsys.readouterr().err
    assert main(["generate", "router", "hooks", "--prefix", "/a/{x}", "--dir", str(tmp_path)]) == 2
    capsys.readouterr()
    assert main(["generate", "resource", "Product", "--all", "--model", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "covet: give --all or parts, not both\n"
    assert main(["generate", "resource", "Product", "--router", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("covet: --router needs api/crud/product.py (imported by it): add --crud, "
                                       "or use --all\n")
    assert main(["generate", "migration", "../evil", "--dir", str(tmp_path)]) == 2
    capsys.readouterr()
    assert os.listdir(str(tmp_path)) == []
    assert main(["generate", "resource", "Product", "--dir", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_parts_and_printed_paths(tmp_path, capsys):
    assert main(["generate", "resource", "Category", "--model", "--schema", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "created api/__init__.py\ncreated api/deps.py\ncreated api/models/__init__.py\n"
        "created api/schemas/__init__.py\ncreated api/models/category.py\ncreated api/schemas/category.py\n")
    # The rest later: crud finds the model and schema on disk.
    assert main(["generate", "resource", "Category", "--crud", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "created api/crud/__init__.py\ncreated api/crud/category.py\n"
    model = (tmp_path / "api/models/category.py").read_text()
    assert 'class Category(Model):\n    __tablename__ = "categories"\n' in model
    assert "updated_at = Column(DateTime, nullable=False, default=func.now(), onupdate=func.now())" in model


def test_never_overwrites_without_force(tmp_path, capsys):
    root = str(tmp_path)
    assert main(["generate", "resource", "Product", "--dir", root]) == 0
    first = capsys.readouterr().out.splitlines()
    assert "created migrations/0001_create_products.sql" in first
    assert "next: in app.py, add `from api import include_routers` and call `include_routers(app)` where the " \
           "app is built" in first    # no app.py here to wire
    (tmp_path / "api/schemas/product.py").write_text("# mine\n")
    (tmp_path / "api/deps.py").write_text("# my deps\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    assert main(["generate", "resource", "Product", "--dir", root]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("covet: api/models/product.py, api/schemas/product.py, api/crud/product.py, api/routers/product.py, "
                   "migrations/0001_create_products.sql, tests/test_products.py exist already: nothing written "
                   "(use --force to overwrite)\n")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    assert main(["generate", "resource", "Product", "--schema", "--dir", root, "--force"]) == 0
    assert capsys.readouterr().out == "overwrote api/schemas/product.py\n"
    assert "class ProductCreate(ProductBase" in (tmp_path / "api/schemas/product.py").read_text()
    assert (tmp_path / "api/deps.py").read_text() == "# my deps\n"    # shared: never replaced
    # --force on the migration rewrites the same numbered file rather than adding a second table.
    assert main(["generate", "resource", "Product", "--migration", "--force", "--dir", root]) == 0
    assert capsys.readouterr().out == "overwrote migrations/0001_create_products.sql\n"
    assert sorted(os.listdir(str(tmp_path / "migrations"))) == ["0001_create_products.sql"]


def test_router_middleware_and_migration(tmp_path, capsys):
    root = str(tmp_path)
    assert main(["generate", "router", "webhooks", "--prefix", "/webhooks/", "--dir", root]) == 0
    out = capsys.readouterr().out
    assert "created api/routers/webhooks.py\ncreated tests/test_webhooks_router.py\n" in out
    assert 'router = Router(prefix="/webhooks", tags=["webhooks"])' in (tmp_path / "api/routers/webhooks.py").read_text()
    assert main(["generate", "router", "webhooks", "--dir", root]) == 1
    assert capsys.readouterr().err.startswith("covet: api/routers/webhooks.py, tests/test_webhooks_router.py exist")

    assert main(["generate", "middleware", "audit-log", "--dir", root]) == 0
    assert capsys.readouterr().out == (
        "created api/middleware/__init__.py\ncreated api/middleware/audit_log.py\n"
        "created tests/test_audit_log_middleware.py\n"
        "next: in create_app (app.py): from api.middleware.audit_log import audit_log; app.add_middleware(audit_log)\n")
    source = (tmp_path / "api/middleware/audit_log.py").read_text()
    assert source.startswith('"""The ``audit_log`` middleware') and "async def audit_log(request, call_next):" in source

    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations/0007_old.sql").write_text("-- up\nSELECT 1;\n-- down\nSELECT 1;\n")
    assert main(["generate", "migration", "add_user_roles", "--dir", root]) == 0
    assert capsys.readouterr().out.startswith("created migrations/0008_add_user_roles.sql\n")
    text = (tmp_path / "migrations/0008_add_user_roles.sql").read_text()
    assert text.startswith("-- up\n") and "\n-- down\n" in text


def test_wire_app_adds_two_lines_once(tmp_path):
    create_project("shop", str(tmp_path))
    root = str(tmp_path / "shop")
    original = (tmp_path / "shop/app.py").read_text()
    assert wire_app(root) is True
    wired = (tmp_path / "shop/app.py").read_text()
    assert wired == original.replace("from models import Note\n", "from models import Note\nfrom api import include_routers\n") \
        .replace("\n    return app\n", "\n    include_routers(app)\n    return app\n")
    assert wire_app(root) is False
    assert (tmp_path / "shop/app.py").read_text() == wired
    (tmp_path / "shop/app.py").write_text("from covet import Covet\napp = Covet()\n")
    assert wire_app(root) is None     # no create_app: the user is told the two lines instead


def test_plan_is_checked_before_anything_is_written(tmp_path):
    with pytest.raises(GenerateError) as info:
        generate("resource", "Product", str(tmp_path), parts=("tests",))
    assert info.value.status == 2
    assert os.listdir(str(tmp_path)) == []
    assert [f.path for f in plan_resource(str(tmp_path), "Person") if not f.shared] == [
        "api/models/person.py", "api/schemas/person.py", "api/crud/person.py", "api/routers/person.py",
        "migrations/0001_create_people.sql", "tests/test_people.py"]


def _project_with_resources(tmp_path, capsys):
    create_project("shop", str(tmp_path))
    root = str(tmp_path / "shop")
    for name in ("Product", "Category", "Person"):
        assert main(["generate", "resource", name, "--all", "--dir", root]) == 0
    assert main(["generate", "router", "webhooks", "--prefix", "/webhooks", "--dir", root]) == 0
    assert main(["generate", "middleware", "audit_log", "--dir", root]) == 0
    out = capsys.readouterr().out
    assert out.count("updated app.py") == 1
    assert sorted(os.listdir(os.path.join(root, "migrations"))) == [
        "0001_create_notes.sql", "0002_create_products.sql", "0003_create_categories.sql", "0004_create_people.sql"]
    return root


@pytest.mark.slow
def test_generated_project_tests_pass(tmp_path, capsys):
    root = _project_with_resources(tmp_path, capsys)
    env = dict(os.environ)
    # The subprocess must import this checkout's covet, whatever the venv has installed.
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("DATABASE_URL", "JWT_SECRET_KEY", "RATE_LIMIT"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-W", "error"],
                          cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stdout
    # covet new's 5, 5 per resource, the router's 1 and the middleware's 2.
    assert "23 passed" in proc.stdout, proc.stdout


def test_new_routes_in_openapi(tmp_path, capsys, monkeypatch):
    root = _project_with_resources(tmp_path, capsys)
    monkeypatch.chdir(root)
    for name in ("DATABASE_URL", "JWT_SECRET_KEY", "RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    project_modules = ("app", "config", "models", "api")
    for name in list(sys.modules):
        if name.split(".")[0] in project_modules:
            monkeypatch.delitem(sys.modules, name)
    try:
        app = load_app("app.py")
        with TestClient(app) as client:
            document = client.get("/openapi.json").json()
    finally:
        for name in list(sys.modules):
            if name.split(".")[0] in project_modules:
                del sys.modules[name]
    paths = document["paths"]
    for plural, module in (("products", "product"), ("categories", "category"), ("people", "person")):
        assert sorted(paths["/api/%s" % plural]) == ["get", "post"]
        assert sorted(paths["/api/%s/{%s_id}" % (plural, module)]) == ["delete", "get", "patch"]
        assert paths["/api/%s" % plural]["post"]["security"] == [{"bearerAuth": []}]
    assert "/webhooks/health" in paths
    assert "/api/notes" in paths   # covet new's own routes are still there
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_templates_are_package_data():
    with open(os.path.join(REPO, "setup.cfg")) as f:
        assert "covet = py.typed, cli/generate_templates/*/*.tmpl\n" in f.read()
    from covet.cli.generate import TEMPLATE_DIR
    depths = {os.path.relpath(os.path.join(d, f), TEMPLATE_DIR).count(os.sep)
              for d, _, files in os.walk(TEMPLATE_DIR) for f in files}
    assert depths == {1}   # what the glob reaches
