"""The HTTP API over real HTTP: a uvicorn server on loopback serving ``build_app``.

One :class:`Library` (the session's model, a store in a temporary folder, the
sample article ingested) is shared by the module; each server variant (token,
root path, small upload limit) serves it with its own settings. Tests that
write use their own collection, so the article's collection stays as ingested.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SAMPLE_ARTICLE, serving_app

from footnotes.errors import ConfigError
from footnotes.settings import Settings
from footnotes.ui.uploads import safe_name

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = pytest.mark.slow

ARTICLE_ID = SAMPLE_ARTICLE.name
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
FOLLOW_UP = "What threat did he cite?"
NATO = "an alleged threat from NATO units in Poland and Lithuania"
ANSWER_KEYS = {
    "question", "answer", "answered", "citations", "related", "mode", "notice", "sentences",
}  # fmt: skip
CITATION_KEYS = {
    "n", "document", "title", "format", "page", "section", "start", "end", "quote", "passage",
    "score",
}  # fmt: skip
DOCUMENT_KEYS = {"id", "title", "format", "pages", "passages", "content_hash", "ingested_at"}
HARBOUR = "# Harbour notes\n\nThe ferry to Kelvin island leaves the harbour at nine each day.\n"
LIGHTHOUSE = "The Kelvin lighthouse was painted red and white in 1911 by the harbour board.\n"


@dataclass(frozen=True)
class Served:
    """A running server: its base URL (with the root path) and the settings it serves."""

    url: str
    settings: Settings

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


@contextmanager
def serving(settings: Settings, library: Any) -> Iterator[Served]:
    """The app under uvicorn (``conftest.serving_app``), with the settings it serves."""
    with serving_app(settings, library) as url:
        yield Served(url, settings)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api") / "store"


@pytest.fixture(scope="module")
def library(store_dir: Path, embed_model: Any) -> Any:
    from footnotes.index.library import Library

    lib = Library(Settings(store=store_dir, collection="test"), embed_model)
    report = lib.ingest([SAMPLE_ARTICLE])
    assert report.counts["added"] == 1, report.outcomes
    return lib


def make_settings(store_dir: Path, **overrides: Any) -> Settings:
    return Settings(store=store_dir, collection="test", **overrides)


@pytest.fixture(scope="module")
def api(store_dir: Path, library: Any) -> Iterator[Served]:
    with serving(make_settings(store_dir), library) as served:
        yield served


@pytest.fixture
def http(api: Served) -> Iterator[httpx.Client]:
    with api.client() as client:
        yield client


def markers(answer: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", answer)}


def check_citations(http: httpx.Client, body: dict[str, Any], collection: str = "test") -> None:
    """Every marker resolves, every quote is its document's text[start:end], and every
    citation carries its document's format."""
    assert set(body) == ANSWER_KEYS
    assert markers(body["answer"]) == {c["n"] for c in body["citations"]}
    listed = http.get("/api/documents", params={"collection": collection}).json()
    formats = {d["id"]: d["format"] for d in listed}
    for citation in body["citations"]:
        assert set(citation) == CITATION_KEYS
        assert citation["format"] == formats[citation["document"]]
        got = http.get(
            f"/api/documents/{citation['document']}/text", params={"collection": collection}
        )
        assert got.status_code == 200, got.text
        text = got.json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["quote"] in citation["passage"]


def multipart(
    files: list[tuple[str, bytes]],
    fields: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A multipart/form-data body with the file names exactly as given (no client escaping)."""
    boundary = "footnotes-test-boundary"
    out = b""
    for key, value in (fields or {}).items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def upload(http: httpx.Client, collection: str, *files: tuple[str, bytes]) -> httpx.Response:
    return http.post(
        "/api/documents",
        data={"collection": collection},
        files=[("files", (name, data)) for name, data in files],
    )


# --- ask ----------------------------------------------------------------------------------


def test_ask_answers_with_the_ask_json_object(http: httpx.Client, library: Any) -> None:
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == library.ask(QUESTION).to_dict()  # exactly what `ask --json` prints
    assert body["answered"] is True and body["related"] == []
    assert any("Oreshnik" in c["quote"] for c in body["citations"])
    assert {(c["document"], c["format"]) for c in body["citations"]} == {(ARTICLE_ID, "txt")}
    check_citations(http, body)


def test_ask_follow_up_uses_the_history(http: httpx.Client) -> None:
    first = http.post("/api/ask", json={"question": QUESTION}).json()
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first["answer"]},
    ]
    response = http.post("/api/ask", json={"question": FOLLOW_UP, "history": history})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answered"] is True and body["question"] == FOLLOW_UP
    assert any(NATO in c["quote"] for c in body["citations"])
    check_citations(http, body)


def test_ask_abstains_off_topic(http: httpx.Client) -> None:
    body = http.post("/api/ask", json={"question": "How long should sourdough bread proof?"}).json()
    assert set(body) == ANSWER_KEYS
    assert body["answered"] is False
    assert body["citations"] == [] and markers(body["answer"]) == set()
    assert "do not say" in body["answer"]


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"question": ""}, 400, "question"),
        ({"question": "   "}, 400, "empty"),
        ({}, 400, "question"),
        ({"question": QUESTION, "history": "earlier"}, 400, "history"),
        ({"question": QUESTION, "history": [{"role": "robot", "content": "hi"}]}, 400, "role"),
        ({"question": QUESTION, "history": [{"role": "user"}]}, 400, "content"),
        ({"question": QUESTION, "colection": "test"}, 400, "colection"),
        ({"question": QUESTION, "collection": "nothing-here"}, 404, "nothing-here"),
        ({"question": QUESTION, "collection": "../../etc"}, 404, "../../etc"),
    ],
)
def test_ask_rejects_bad_requests_with_json(
    http: httpx.Client, payload: dict[str, Any], status: int, needle: str
) -> None:
    response = http.post("/api/ask", json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and needle in detail


def test_ask_an_empty_collection_or_a_broken_body_is_refused(
    http: httpx.Client, library: Any
) -> None:
    library.store("empty-one")  # exists, holds nothing
    response = http.post("/api/ask", json={"question": QUESTION, "collection": "empty-one"})
    assert response.status_code == 404
    assert "empty-one" in response.json()["detail"] and "empty" in response.json()["detail"]
    broken = http.post(
        "/api/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and isinstance(broken.json()["detail"], str)


# --- documents ----------------------------------------------------------------------------


def test_list_documents_and_text(http: httpx.Client, library: Any) -> None:
    response = http.get("/api/documents")
    assert response.status_code == 200
    (doc,) = response.json()
    assert set(doc) == DOCUMENT_KEYS
    assert doc["id"] == ARTICLE_ID and doc["format"] == "txt" and doc["passages"] > 1
    text = http.get(f"/api/documents/{ARTICLE_ID}/text").json()
    assert text == {
        "id": ARTICLE_ID,
        "title": doc["title"],
        "text": library.document_text(ARTICLE_ID),
    }
    assert "Oreshnik strategic missile system" in text["text"]
    missing = http.get("/api/documents/never.txt/text")
    assert missing.status_code == 404 and "never.txt" in missing.json()["detail"]
    unknown = http.get("/api/documents", params={"collection": "nothing-here"})
    assert unknown.status_code == 404 and "nothing-here" in unknown.json()["detail"]


def test_upload_two_files_at_once(http: httpx.Client, api: Served) -> None:
    response = upload(
        http, "harbour", ("harbour.md", HARBOUR.encode()), ("lighthouse.txt", LIGHTHOUSE.encode())
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert [(f["document"], f["status"], f["path"]) for f in body["files"]] == [
        ("harbour.md", "added", "harbour.md"),
        ("lighthouse.txt", "added", "lighthouse.txt"),
    ]
    assert body["embedded"] > 0
    folder = api.settings.uploads() / "harbour"
    assert sorted(p.name for p in folder.iterdir()) == ["harbour.md", "lighthouse.txt"]
    assert (folder / "harbour.md").read_text(encoding="utf-8") == HARBOUR
    listed = http.get("/api/documents", params={"collection": "harbour"}).json()
    assert [d["id"] for d in listed] == ["harbour.md", "lighthouse.txt"]
    assert [d["title"] for d in listed] == ["Harbour notes", "lighthouse"]

    answer = http.post(
        "/api/ask",
        json={"question": "When does the ferry to Kelvin island leave?", "collection": "harbour"},
    ).json()
    assert answer["answered"] is True
    assert [answer["citations"][0][k] for k in ("document", "format")] == ["harbour.md", "md"]
    assert "at nine each day" in answer["answer"]
    check_citations(http, answer, "harbour")

    again = upload(
        http, "harbour", ("harbour.md", HARBOUR.encode()), ("lighthouse.txt", LIGHTHOUSE.encode())
    )
    assert again.status_code == 200
    assert again.json()["counts"]["unchanged"] == 2 and again.json()["embedded"] == 0


def test_upload_reports_bad_files_one_by_one(http: httpx.Client, api: Served) -> None:
    response = upload(
        http,
        "mixed",
        ("corrupt.pdf", b"%PDF-1.7\nthis is no pdf at all\n"),
        ("tool.exe", b"MZ\x90\x00binary"),
        ("good.txt", LIGHTHOUSE.encode()),
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["counts"]["added"] == 1
    assert body["counts"]["failed"] == 1 and body["counts"]["skipped"] == 1
    files = {f["document"]: f for f in body["files"]}
    assert [f["document"] for f in body["files"]] == ["corrupt.pdf", "tool.exe", "good.txt"]
    assert files["good.txt"]["status"] == "added"
    assert files["corrupt.pdf"]["status"] == "failed"
    assert files["corrupt.pdf"]["reason"].startswith("corrupt.pdf:")
    assert str(api.settings.uploads()) not in files["corrupt.pdf"]["reason"]  # no server paths
    assert files["tool.exe"]["status"] == "skipped"
    assert "unsupported type '.exe'" in files["tool.exe"]["reason"]
    folder = api.settings.uploads() / "mixed"
    assert sorted(p.name for p in folder.iterdir()) == ["good.txt"]  # the failed file is gone
    listed = http.get("/api/documents", params={"collection": "mixed"}).json()
    assert [d["id"] for d in listed] == ["good.txt"]

    refused = upload(http, "mixed", ("tool.exe", b"MZ"), ("archive.zip", b"PK"))
    assert refused.status_code == 415
    assert "'.exe'" in refused.json()["detail"] and "'.zip'" in refused.json()["detail"]
    nothing = http.post("/api/documents", data={"collection": "mixed"})
    assert nothing.status_code == 400 and "files" in nothing.json()["detail"]
    bad_name = upload(http, "not/a/collection", ("good.txt", b"x y z w"))
    assert bad_name.status_code == 400 and "not/a/collection" in bad_name.json()["detail"]


def test_upload_a_failed_replacement_keeps_the_previous_file(
    http: httpx.Client, api: Served
) -> None:
    assert upload(http, "replace", ("notes.txt", LIGHTHOUSE.encode())).status_code == 200
    broken = upload(http, "replace", ("notes.txt", b"\x00\x01\x02 binary"))
    assert broken.status_code == 422  # nothing was ingested: a client error, not 207
    assert broken.json()["detail"].startswith("no file of the upload was ingested: notes.txt:")
    kept = api.settings.uploads() / "replace" / "notes.txt"
    assert kept.read_text(encoding="utf-8") == LIGHTHOUSE
    text = http.get("/api/documents/notes.txt/text", params={"collection": "replace"}).json()
    assert text["text"].strip() == LIGHTHOUSE.strip()


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ('my "notes".txt', "my _notes_.txt"),
        ("my%22notes%22.txt", "my_notes_.txt"),  # a browser's form escape
        ("Team notes (draft) v2.md", "Team notes (draft) v2.md"),
        ("a<b>|c?.txt", "a_b_c_.txt"),
        ("two%0Alines.txt", "twolines.txt"),
        ("100%25 sure.txt", "100_25 sure.txt"),  # only the three form escapes are undone
        ("Zürich café.pdf", "Zürich café.pdf"),
        ("../..", ""),
    ],
)
def test_upload_names_stay_readable(sent: str, kept: str) -> None:
    assert safe_name(sent) == kept


def test_upload_names_cannot_escape_the_uploads_folder(
    http: httpx.Client, api: Served, store_dir: Path
) -> None:
    sent = ["../../evil.txt", "/etc/x.txt", "..\\y.txt", ".hidden.txt", "a/../../b\\..\\z.txt"]
    body, content_type = multipart(
        [(name, f"File {n} says hello there.".encode()) for n, name in enumerate(sent)],
        {"collection": "names"},
    )
    response = http.post("/api/documents", content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert [f["path"] for f in files] == sent
    assert [f["document"] for f in files] == ["evil.txt", "x.txt", "y.txt", "hidden.txt", "z.txt"]
    folder = api.settings.uploads() / "names"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f["document"] for f in files)
    root = store_dir.parent
    everywhere = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name in {"evil.txt", "x.txt", "y.txt", "hidden.txt", ".hidden.txt", "z.txt"}
    }
    assert everywhere == {f"store/uploads/names/{f['document']}" for f in files}
    assert not Path("/etc/x.txt").exists()
    listed = http.get("/api/documents", params={"collection": "names"}).json()
    assert sorted(d["id"] for d in listed) == sorted(f["document"] for f in files)


def test_upload_over_the_limit_is_413(store_dir: Path, library: Any) -> None:
    settings = make_settings(store_dir, max_upload_mb=1, upload_dir=store_dir.parent / "small")
    big = b"Harbour words repeat here. " * (2 * 1024 * 1024 // 27)
    with serving(settings, library) as served, served.client() as http:
        response = upload(http, "big", ("big.txt", big))
        assert response.status_code == 413
        assert "1 MB" in response.json()["detail"]
        # Without a Content-Length the limit is enforced while the body streams in.
        body, content_type = multipart([("big.txt", big)], {"collection": "big"})
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        streamed = http.post(
            "/api/documents", content=chunks, headers={"content-type": content_type}
        )
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert streamed.status_code == 413
        assert "1 MB" in streamed.json()["detail"]
        small = upload(http, "big", ("small.txt", LIGHTHOUSE.encode()))
        assert small.status_code == 200
    assert [d.id for d in library.documents("big")] == ["small.txt"]
    staged = [p for p in settings.uploads().rglob("*") if p.is_file()]
    assert staged == []  # nothing staged is left behind
    kept = library.settings.uploads() / "big"  # the library keeps what it ingested
    assert sorted(p.name for p in kept.iterdir()) == ["small.txt"]


def test_remove_documents_including_ids_with_slashes(
    http: httpx.Client, library: Any, api: Served, tmp_path: Path
) -> None:
    assert (
        upload(
            http,
            "removal",
            ("harbour.md", HARBOUR.encode()),
            ("lighthouse.txt", LIGHTHOUSE.encode()),
        ).status_code
        == 200
    )
    folder = tmp_path / "folder"
    (folder / "sub dir").mkdir(parents=True)
    (folder / "sub dir" / "nested.txt").write_text("A nested note about owls hunting at dusk.\n")
    library.ingest([folder], "removal")
    doc_id = "sub dir/nested.txt"
    text = http.get(f"/api/documents/{doc_id}/text", params={"collection": "removal"})
    assert text.status_code == 200 and text.json()["id"] == doc_id
    assert "owls" in text.json()["text"]

    question = {"question": "When does the ferry to Kelvin island leave?", "collection": "removal"}
    before = http.post("/api/ask", json=question).json()
    assert "harbour.md" in {c["document"] for c in before["citations"]}
    removed = http.delete("/api/documents/harbour.md", params={"collection": "removal"})
    assert removed.status_code == 200
    assert removed.json() == {"id": "harbour.md", "collection": "removal"}
    assert not (api.settings.uploads() / "removal" / "harbour.md").exists()
    after = http.post("/api/ask", json=question).json()
    assert "harbour.md" not in {c["document"] for c in after["citations"] + after["related"]}
    assert "at nine" not in after["answer"]

    nested = http.delete(f"/api/documents/{doc_id}", params={"collection": "removal"})
    assert nested.status_code == 200 and nested.json()["id"] == doc_id
    assert (folder / "sub dir" / "nested.txt").exists()  # not an upload: the file is not ours
    listed = http.get("/api/documents", params={"collection": "removal"}).json()
    assert [d["id"] for d in listed] == ["lighthouse.txt"]
    again = http.delete("/api/documents/harbour.md", params={"collection": "removal"})
    assert again.status_code == 404 and "harbour.md" in again.json()["detail"]


# --- auth, root path, schema, exposure ---------------------------------------------------


def test_no_token_configured_means_no_header_needed(http: httpx.Client) -> None:
    response = http.get("/api/documents")
    assert response.status_code == 200 and [d["id"] for d in response.json()] == [ARTICLE_ID]


def test_api_token_is_required_when_set(store_dir: Path, library: Any) -> None:
    token = "s3cret-token-\u00e9"
    settings = make_settings(store_dir, api_token=token, upload_dir=store_dir.parent / "tok")
    with serving(settings, library) as served, served.client() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            asked = http.post(
                "/api/ask",
                json={"question": QUESTION},
                headers={k: v.encode() for k, v in headers.items()},
            )
            assert asked.status_code == 401, headers
            assert asked.headers["www-authenticate"] == "Bearer"
            assert "Bearer" in asked.json()["detail"]
        listed = http.get("/api/documents")
        assert listed.status_code == 401
        refused = upload(http, "tok", ("notes.txt", LIGHTHOUSE.encode()))
        assert refused.status_code == 401
        assert not settings.uploads().exists()  # nothing was received before the check
        assert http.get("/healthz").json() == {"status": "ok"}

        auth = {"Authorization": f"Bearer {token}".encode()}
        good = http.post("/api/ask", json={"question": QUESTION}, headers=auth)
        assert good.status_code == 200 and good.json()["answered"] is True
        assert [d["id"] for d in http.get("/api/documents", headers=auth).json()] == [ARTICLE_ID]
        schema = http.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_served_under_a_root_path(store_dir: Path, library: Any) -> None:
    settings = make_settings(store_dir, root_path="/qa/")
    with serving(settings, library) as served, served.client() as http:
        assert settings.root_path == "/qa" and served.url.endswith("/qa")
        asked = http.post("/api/ask", json={"question": QUESTION})
        assert asked.request.url.path == "/qa/api/ask"
        assert asked.status_code == 200 and asked.json()["answered"] is True
        assert http.get("/healthz").json() == {"status": "ok"}
        schema = http.get("/openapi.json").json()
        assert schema["servers"] == [{"url": "/qa"}] and "/api/ask" in schema["paths"]
        page = http.get("/")
        assert page.request.url.path == "/qa/"
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<html" in page.text.lower()
        outside = httpx.post(served.url.removesuffix("/qa") + "/api/ask", json={"question": "x"})
        assert outside.status_code == 404


def test_openapi_lists_every_route_with_its_schema(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 404  # Swagger UI would fetch assets from a CDN
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    ref = "#/components/schemas/"

    ask = paths["/api/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"] == ref + "AskRequest"
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        ref + "Answer"
    )
    assert {"400", "404"} <= set(ask["responses"]) and "422" not in ask["responses"]
    stream = paths["/api/ask/stream"]["post"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert stream["requestBody"]["content"]["application/json"]["schema"]["$ref"] == (
        ref + "AskRequest"
    )

    listed = paths["/api/documents"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["items"]["$ref"] == ref + "DocumentModel"
    post = paths["/api/documents"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["files"] and form["properties"]["files"]["type"] == "array"
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        ref + "SyncResult"
    )
    assert {"207", "413", "415"} <= set(post["responses"])
    assert "get" in paths["/api/documents/{doc_id}/text"]
    assert "delete" in paths["/api/documents/{doc_id}"]
    assert "get" in paths["/healthz"]

    schemas = schema["components"]["schemas"]
    assert set(schemas["Answer"]["properties"]) == ANSWER_KEYS
    assert set(schemas["Citation"]["properties"]) == CITATION_KEYS
    assert "format" in schemas["Citation"]["required"]
    assert "md" in schemas["Citation"]["properties"]["format"]["description"]
    assert set(schemas["Sentence"]["properties"]) >= {"text", "citations", "supported"}
    assert schemas["Answer"]["properties"]["mode"]["enum"] == ["extractive", "llm"]
    assert set(schemas["DocumentModel"]["properties"]) == DOCUMENT_KEYS
    assert set(schemas["AskRequest"]["properties"]) == {"question", "history", "collection"}
    assert set(schemas["SyncResult"]["properties"]) == {"counts", "embedded", "files"}
    assert "securitySchemes" not in schema.get("components", {})  # no token, no scheme


@pytest.mark.parametrize(
    ("overrides", "allowed"),
    [
        ({"host": "127.0.0.1"}, True),
        ({"host": "0.0.0.0"}, False),
        ({"host": "0.0.0.0", "auth": "alice:pw"}, False),
        ({"host": "0.0.0.0", "api_token": "t"}, False),
        ({"host": "0.0.0.0", "auth": "alice:pw", "api_token": "t"}, True),
        ({"host": "0.0.0.0", "allow_unauthenticated": True}, True),
    ],
)
def test_binding_policy(overrides: dict[str, Any], allowed: bool) -> None:
    from footnotes.ui.server import check_exposure

    settings = Settings(**overrides)
    if allowed:
        check_exposure(settings)
    else:
        with pytest.raises(ConfigError, match="--allow-unauthenticated"):
            check_exposure(settings)


def test_ui_auth_parses_pairs_and_files(tmp_path: Path) -> None:
    from footnotes.ui.auth import ui_auth

    assert ui_auth(Settings(auth="")) is None
    assert ui_auth(Settings(auth="alice:pw1, bob:p:w:2")) == [("alice", "pw1"), ("bob", "p:w:2")]
    logins = tmp_path / "logins"
    logins.write_text("# who may log in\nalice:with,comma\n\n  bob:pw2\n", encoding="utf-8")
    assert ui_auth(Settings(auth=str(logins))) == [("alice", "with,comma"), ("bob", "pw2")]
    for bad, where in [
        ("alice", "entry 1"),
        ("alice:pw,bob", "entry 2"),
        (":pw", "entry 1"),
        ("alice:", "entry 1"),
        (str(tmp_path / "missing" / "file"), "no such file"),
    ]:
        with pytest.raises(ConfigError, match=where) as caught:
            ui_auth(Settings(auth=bad))
        assert "pw" not in str(caught.value).replace("password", "")  # never echo a password
    logins.write_text("alice:pw1\nbob\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        ui_auth(Settings(auth=str(logins)))


def test_ui_login_is_enforced(store_dir: Path, library: Any) -> None:
    settings = make_settings(store_dir, auth="alice:open-sesame")
    with serving(settings, library) as served, served.client() as http:
        assert http.get("/gradio_api/login_check").status_code == 401
        assert http.get("/config").status_code == 401
        wrong = http.post("/login", data={"username": "alice", "password": "nope"})
        assert wrong.status_code == 400
        right = http.post("/login", data={"username": "alice", "password": "open-sesame"})
        assert right.status_code == 200 and right.json() == {"success": True}
        # The API is guarded by the token, not by UI logins: with no token it stays open.
        assert http.get("/api/documents").status_code == 200


def test_error_bodies_are_json_strings(http: httpx.Client) -> None:
    response = http.post("/api/documents", content=b"plain", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert "multipart/form-data" in json.loads(response.text)["detail"]
