"""Form() and File(): handler parameters read from urlencoded and multipart form bodies."""
import dataclasses
from typing import Annotated, List, Optional

import pytest

from covet import Body, Covet, Depends, File, Form, Request, UploadFile
from covet.core.dependencies import parse_size
from covet.core.multipart import MultipartLimits
from covet.security import CSRFMiddleware

VALIDATION = {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
              "detail": "Request validation failed"}


def errors_of(response):
    """The ``errors`` of a 422 problem, after checking the rest of the document."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("errors", "instance")} == VALIDATION
    return body["errors"]


def err(loc, msg, type_):
    return {"loc": list(loc), "msg": msg, "type": type_}


@pytest.fixture
def app():
    app = Covet()

    @app.post("/signup")
    async def signup(username: str = Form(min_length=2, max_length=20, pattern="^[a-z]+$"),
                     age: int = Form(ge=13), newsletter: bool = Form(False),
                     tags: List[str] = Form(default_factory=list), nick: Optional[str] = Form(None, alias="nickname")):
        return {"username": username, "age": age, "newsletter": newsletter, "tags": tags, "nick": nick}

    @app.post("/upload")
    async def upload(title: Annotated[str, Form()], document: UploadFile = File(max_size="1KB"),
                     attachments: List[UploadFile] = File(default_factory=list),
                     cover: Optional[UploadFile] = File(None)):
        return {
            "title": title,
            "document": {"name": document.filename, "type": document.content_type, "size": document.size,
                         "data": (await document.read()).decode()},
            "attachments": [(a.filename, (await a.read()).decode()) for a in attachments],
            "cover": None if cover is None else cover.filename,
        }

    return app


# -- fields ------------------------------------------------------------------------------------

def test_urlencoded_fields_are_converted_like_query_values(client, app):
    r = client(app).post("/signup", data=[("username", "ada"), ("age", "36"), ("newsletter", "on"),
                                          ("tags", "a"), ("tags", "b"), ("nickname", "countess")])
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "ada", "age": 36, "newsletter": True, "tags": ["a", "b"], "nick": "countess"}


def test_defaults_apply_to_absent_fields_and_the_last_repeat_of_a_scalar_wins(client, app):
    r = client(app).post("/signup", data=[("username", "bob"), ("age", "20"), ("age", "21")])
    assert r.json() == {"username": "bob", "age": 21, "newsletter": False, "tags": [], "nick": None}


def test_the_same_fields_come_from_a_multipart_body(client, app):
    r = client(app).post("/signup", data={"username": "ada", "age": "36", "tags": ["x"]},
                         files={"unrelated": ("f.txt", b"ignored")})
    assert r.json() == {"username": "ada", "age": 36, "newsletter": False, "tags": ["x"], "nick": None}


def test_every_field_violation_is_listed_at_once(client, app):
    r = client(app).post("/signup", data={"username": "A", "age": "12", "newsletter": "maybe"})
    assert errors_of(r) == [
        err(["body", "username"], "must be at least 2 characters long", "minLength"),
        err(["body", "username"], 'must match pattern "^[a-z]+$"', "pattern"),
        err(["body", "age"], "must be greater than or equal to 13", "minimum"),
        err(["body", "newsletter"], "must be of type boolean", "type"),
    ]


def test_missing_fields_are_each_required(client, app):
    assert errors_of(client(app).post("/signup", data={"newsletter": "1"})) == [
        err(["body", "username"], "field required", "required"),
        err(["body", "age"], "field required", "required"),
    ]
    # No body at all reads as an empty form: the same errors, not a 415.
    assert errors_of(client(app).post("/signup")) == [
        err(["body", "username"], "field required", "required"),
        err(["body", "age"], "field required", "required"),
    ]


def test_an_empty_text_input_is_a_value_checked_like_any_other(client, app):
    assert errors_of(client(app).post("/signup", data={"username": "", "age": ""})) == [
        err(["body", "username"], "must be at least 2 characters long", "minLength"),
        err(["body", "username"], 'must match pattern "^[a-z]+$"', "pattern"),
        err(["body", "age"], "must be of type integer", "type"),
    ]


@pytest.mark.parametrize("content, content_type", [
    (b'{"username": "ada", "age": 36}', "application/json"),
    (b"username=ada&age=36", "text/plain"),
])
def test_a_body_that_is_not_a_form_is_415(client, app, content, content_type):
    r = client(app).post("/signup", content=content, headers={"content-type": content_type})
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == (
        "expected a form (application/x-www-form-urlencoded or multipart/form-data), got %r" % content_type)


def test_a_file_sent_for_a_text_field_is_422(client, app):
    r = client(app).post("/signup", data={"age": "30"}, files={"username": ("u.txt", b"ada")})
    assert errors_of(r) == [err(["body", "username"], "must be a text field, not a file", "type")]


def test_form_fields_in_sync_handlers_and_dependencies(client):
    app = Covet()

    def current_user(username: str = Form(), password: str = Form(min_length=8)):
        return username if password == "correct horse" else None

    @app.post("/login")
    def login(user=Depends(current_user), remember: bool = Form(False)):
        return {"user": user, "remember": remember}

    c = client(app)
    assert c.post("/login", data={"username": "ada", "password": "correct horse", "remember": "yes"}).json() == {
        "user": "ada", "remember": True}
    assert errors_of(c.post("/login", data={"password": "short"})) == [
        err(["body", "username"], "field required", "required"),
        err(["body", "password"], "must be at least 8 characters long", "minLength"),
    ]


# -- files -------------------------------------------------------------------------------------

def test_a_file_part_is_an_uploadfile_and_several_make_a_list(client, app):
    r = client(app).post("/upload", data={"title": "report"}, files=[
        ("document", ("report.txt", b"hello", "text/plain")),
        ("attachments", ("a.txt", b"1")), ("attachments", ("b.txt", b"2")),
    ])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "title": "report",
        "document": {"name": "report.txt", "type": "text/plain", "size": 5, "data": "hello"},
        "attachments": [["a.txt", "1"], ["b.txt", "2"]],
        "cover": None,
    }


def test_an_empty_file_input_counts_as_no_file(client, app):
    # What a browser sends for <input type="file"> left empty: a part with filename="" and no data.
    r = client(app).post("/upload", data={"title": "t"}, files=[("document", ("d.txt", b"x")),
                                                                 ("cover", ("", b""))])
    assert r.json()["cover"] is None
    r = client(app).post("/upload", data={"title": "t"}, files=[("document", ("", b""))])
    assert errors_of(r) == [err(["body", "document"], "field required", "required")]


def test_missing_file_and_field_and_text_sent_for_a_file(client, app):
    assert errors_of(client(app).post("/upload", files={"cover": ("c.png", b"png")})) == [
        err(["body", "title"], "field required", "required"),
        err(["body", "document"], "field required", "required"),
    ]
    # A urlencoded form cannot carry files: a text value where a file belongs is a 422.
    assert errors_of(client(app).post("/upload", data={"title": "t", "document": "not a file"})) == [
        err(["body", "document"], "must be a file", "type"),
    ]


def test_a_file_over_max_size_is_413_and_one_at_the_limit_passes(client, app):
    c = client(app)
    assert c.post("/upload", data={"title": "t"}, files={"document": ("d", b"x" * 1024)}).status_code == 200
    r = c.post("/upload", data={"title": "t"}, files={"document": ("d", b"x" * 1025)})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Content Too Large", "status": 413,
                        "detail": "file field 'document' exceeds max_size (1024 bytes)", "instance": "/upload"}


def test_max_size_applies_to_each_file_of_a_list(client):
    app = Covet()

    @app.post("/many")
    async def many(files: List[UploadFile] = File(max_size=3)):
        return [f.size for f in files]

    c = client(app)
    assert c.post("/many", files=[("files", ("a", b"123")), ("files", ("b", b"1"))]).json() == [3, 1]
    r = c.post("/many", files=[("files", ("a", b"123")), ("files", ("b", b"1234"))])
    assert (r.status_code, r.json()["detail"]) == (413, "file field 'files' exceeds max_size (3 bytes)")


def test_the_apps_multipart_limits_still_bound_every_file(client):
    app = Covet(multipart_limits=MultipartLimits(max_file_size=4))

    @app.post("/f")
    async def f(upload: UploadFile = File(max_size="1MB")):
        return upload.size

    r = client(app).post("/f", files={"upload": ("a", b"12345")})
    assert (r.status_code, r.json()["detail"]) == (413, "multipart: file part exceeds max_file_size (4 bytes)")


def test_an_uploadfile_annotation_alone_is_a_file_and_files_close_after_the_response(client):
    app = Covet()
    kept = []

    @app.post("/plain")
    async def plain(upload: UploadFile, uploads: List[UploadFile] = None):
        kept.append(upload)
        return {"name": upload.filename, "more": [u.filename for u in uploads or ()]}

    r = client(app).post("/plain", files=[("upload", ("a.bin", b"\x00\x01")), ("uploads", ("b", b"2"))])
    assert r.json() == {"name": "a.bin", "more": ["b"]}
    assert kept[0].file.closed


@pytest.mark.parametrize("value, size", [
    (1, 1), (2048, 2048), ("10", 10), ("10B", 10), ("1KB", 1024), ("1 kib", 1024), ("50MB", 50 * 1024 ** 2),
    ("2M", 2 * 1024 ** 2), ("1GiB", 1024 ** 3), (" 3 gb ", 3 * 1024 ** 3),
])
def test_parse_size(value, size):
    assert parse_size(value) == size
    assert File(max_size=value).max_size == size


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "", "MB", "1.5MB", "10 TB", "1e3", "0KB", None])
def test_bad_sizes_are_refused_where_they_are_written(value):
    with pytest.raises(ValueError):
        parse_size(value)


# -- registration errors -------------------------------------------------------------------------

@dataclasses.dataclass
class Note:
    text: str


def test_form_and_a_json_body_on_one_handler_is_a_registration_error():
    app = Covet()
    with pytest.raises(TypeError) as info:
        @app.post("/x")
        async def x(title: str = Form(), payload: dict = Body()):
            return None
    assert str(info.value) == (
        "test_form_and_a_json_body_on_one_handler_is_a_registration_error.<locals>.x: Form()/File() parameters "
        "(title) and a body parameter (payload) cannot share one request body; read the form field by field "
        "with Form()/File(), or whole as one Model parameter")
    assert app.routes == []


def test_a_file_and_a_model_body_in_a_dependency_is_a_registration_error():
    app = Covet()

    def note(n: Note):
        return n

    with pytest.raises(TypeError, match=r"Form\(\)/File\(\) parameters \(upload\) and a body parameter \(n\)"):
        @app.post("/y")
        async def y(upload: UploadFile = File(), n=Depends(note)):
            return None


@pytest.mark.parametrize("annotation, hint", [
    (Note, "or take the whole form as a Model parameter"),
    (UploadFile, "or use File() for a file"),
])
def test_form_of_a_record_or_a_file_type_is_a_registration_error(annotation, hint):
    app = Covet()

    async def h(value: annotation = Form()):
        return None

    with pytest.raises(TypeError) as info:
        app.post("/z")(h)
    assert str(info.value).endswith(
        "Form() parameter 'value' reads one text field; annotate it with a simple type (str, int, List[str], ...), "
        + hint)


@pytest.mark.parametrize("annotation", [int, str, List[str], Optional[List[int]]])
def test_file_of_another_type_is_a_registration_error(annotation):
    app = Covet()

    async def h(data: annotation = File()):
        return None

    with pytest.raises(TypeError) as info:
        app.post("/b")(h)
    # == and not "is": typing caches Optional[List[int]] in an LRU that other tests may have turned over
    inner = annotation.__args__[0] if annotation == Optional[List[int]] else annotation
    assert str(info.value).endswith("File() parameter 'data' must be annotated UploadFile, bytes, or a List of "
                                    "either, not %r" % (inner,))
    assert app.routes == []


# -- files read as bytes ------------------------------------------------------------------------

def bytes_app(seen):
    app = Covet()

    @app.post("/bytes")
    async def read_bytes(request: Request, data: bytes = File(max_size=8), parts: List[bytes] = File(default=[]),
                         extra: Optional[bytes] = File(None)):
        form = await request.form()
        # Read whole, then closed at once: the same uploads are still listed by request.form().
        seen.append([u.file.closed for u in form.getlist("data") + form.getlist("parts")])
        return {"data": data.decode(), "parts": [p.decode() for p in parts],
                "extra": None if extra is None else extra.hex(), "type": type(data).__name__}

    return app


def test_file_annotated_bytes_is_the_files_content(client):
    seen = []
    c = client(bytes_app(seen))
    r = c.post("/bytes", files=[("data", ("d.bin", b"12345678", "application/octet-stream")),
                                ("parts", ("a", b"a")), ("parts", ("b", b""))])
    assert r.json() == {"data": "12345678", "parts": ["a", ""], "extra": None, "type": "bytes"}
    assert seen == [[True, True, True]]
    r = c.post("/bytes", files=[("data", ("d", b"x")), ("extra", ("e", b"\x00\xff"))])
    assert r.json() == {"data": "x", "parts": [], "extra": "00ff", "type": "bytes"}
    assert errors_of(c.post("/bytes", files={"parts": ("a", b"a")})) == [
        err(["body", "data"], "field required", "required")]
    assert errors_of(c.post("/bytes", data={"data": "text, not a file"})) == [
        err(["body", "data"], "must be a file", "type")]


def test_bytes_are_bounded_by_max_size_and_the_multipart_limits(client):
    seen = []
    app = bytes_app(seen)
    c = client(app)
    r = c.post("/bytes", files={"data": ("d", b"123456789")})
    assert (r.status_code, r.json()["detail"]) == (413, "file field 'data' exceeds max_size (8 bytes)")
    app.multipart_limits = MultipartLimits(max_file_size=4)
    r = c.post("/bytes", files={"data": ("d", b"12345")})
    assert (r.status_code, r.json()["detail"]) == (413, "multipart: file part exceeds max_file_size (4 bytes)")
    assert seen == []


def test_bytes_in_a_sync_handler_and_a_dependency_and_files_rolled_to_disk(client):
    app = Covet(multipart_limits=MultipartLimits(spool_max_size=16))
    closed = []

    def checksum(blob: bytes = File()):
        return sum(blob) % 256

    @app.post("/sync")
    def sync(request: Request, total=Depends(checksum), blob: bytes = File()):
        return {"size": len(blob), "total": total}

    @app.post("/big")
    async def big(request: Request, blob: bytes = File()):
        form = await request.form()
        closed.append(form["blob"].file.closed)
        return {"size": len(blob), "head": blob[:3].decode(), "tail": blob[-3:].decode()}

    c = client(app)
    # the dependency and the handler take the same file as bytes: it is read once
    assert c.post("/sync", files={"blob": ("b", bytes([1, 2, 3]))}).json() == {"size": 3, "total": 6}
    payload = b"abc" + b"." * 100 + b"xyz"  # past spool_max_size: the file was on disk
    assert c.post("/big", files={"blob": ("b", payload)}).json() == {"size": 106, "head": "abc", "tail": "xyz"}
    assert closed == [True]


def test_one_file_taken_as_bytes_and_as_uploadfile_is_a_registration_error():
    app = Covet()

    def scan(doc: bytes = File()):
        return len(doc)

    with pytest.raises(TypeError) as info:
        @app.post("/mixed")
        async def mixed(size=Depends(scan), doc: UploadFile = File()):
            return None
    assert str(info.value) == (
        "test_one_file_taken_as_bytes_and_as_uploadfile_is_a_registration_error.<locals>.mixed: file field 'doc' "
        "is taken both as bytes and as UploadFile; bytes are read whole and the file is closed, so take it as "
        "UploadFile everywhere (``await upload.read()``)")
    assert app.routes == []


def test_openapi_documents_bytes_files_as_binary():
    seen = []
    binary = {"type": "string", "format": "binary"}
    assert bytes_app(seen).openapi()["paths"]["/bytes"]["post"]["requestBody"] == {"required": True, "content": {
        "multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"data": binary, "parts": {"type": "array", "items": binary}, "extra": binary},
            "required": ["data"],
        }}}}


# -- CSRF --------------------------------------------------------------------------------------

def test_csrf_still_guards_a_form_handler_and_the_token_field_reaches_it(client):
    from covet.security import csrf_token

    app = Covet()
    app.add_middleware(CSRFMiddleware, secret_key="csrf-secret-key-0123456789abcdefghij")
    calls = []

    @app.get("/form")
    async def form(request: Request):
        return {"token": csrf_token(request)}

    @app.post("/comment")
    async def comment(text: str = Form(), csrf_token: str = Form(), attachment: Optional[UploadFile] = File(None)):
        calls.append(text)
        return {"text": text, "token_sent": bool(csrf_token), "file": attachment and attachment.filename}

    c = client(app)
    token = c.get("/form").json()["token"]
    assert c.post("/comment", data={"text": "hi", "csrf_token": token}).json() == {
        "text": "hi", "token_sent": True, "file": None}
    assert c.post("/comment", data={"text": "with file", "csrf_token": token},
                  files={"attachment": ("a.txt", b"x")}).json() == {"text": "with file", "token_sent": True,
                                                                    "file": "a.txt"}
    r = c.post("/comment", data={"text": "forged"})
    assert r.status_code == 403
    assert calls == ["hi", "with file"]


# -- OpenAPI -----------------------------------------------------------------------------------

def test_openapi_documents_form_and_multipart_request_bodies(app):
    paths = app.openapi()["paths"]
    assert paths["/signup"]["post"]["requestBody"] == {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object",
            "properties": {
                "username": {"type": "string", "minLength": 2, "maxLength": 20, "pattern": "^[a-z]+$"},
                "age": {"type": "integer", "minimum": 13},
                "newsletter": {"type": "boolean", "default": False},
                "tags": {"type": "array", "items": {"type": "string"}},
                "nickname": {"type": "string"},
            },
            "required": ["username", "age"],
        }}}}
    assert "parameters" not in paths["/signup"]["post"]
    binary = {"type": "string", "format": "binary"}
    assert paths["/upload"]["post"]["requestBody"] == {"required": True, "content": {
        "multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "document": binary,
                           "attachments": {"type": "array", "items": binary}, "cover": binary},
            "required": ["title", "document"],
        }}}}
