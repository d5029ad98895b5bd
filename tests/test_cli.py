"""The real ``footnotes`` command, run as a subprocess against a store in a temporary folder.

Each run that loads the model costs seconds, so one ingest is shared by the module
and the checks are grouped into few runs; the Python API is tested in test_sync.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SAMPLE_ARTICLE

from footnotes.index.store import Store
from footnotes.settings import Settings

FOOTNOTES = Path(sys.executable).with_name("footnotes")
ARTICLE_ID = SAMPLE_ARTICLE.name
NOTES = "# Harbour notes\n\nThe ferry to the island leaves at nine and returns at six.\n"
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
ANSWER_KEYS = {"question", "answer", "answered", "citations", "mode", "notice", "sentences"}
CITATION_KEYS = {
    "n", "document", "title", "format", "page", "section", "start", "end", "quote", "passage",
    "score",
}  # fmt: skip


@dataclass(frozen=True)
class Cli:
    """A store ingested once by ``footnotes ingest``, and a way to run more commands on it."""

    env: dict[str, str]
    folder: Path
    ingest: subprocess.CompletedProcess[str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FOOTNOTES), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("footnotes: ")
    return lines[0]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("cli")
    folder = root / "docs"
    folder.mkdir()
    shutil.copy(SAMPLE_ARTICLE, folder / ARTICLE_ID)
    (folder / "notes.md").write_text(NOTES, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis file was cut short")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTES_", "OPENAI_"))}
    env |= {"FOOTNOTES_STORE": str(root / "store"), "FOOTNOTES_COLLECTION": "cli-test"}
    return Cli(env, folder, run_cli(env, "ingest", str(folder), "--json"))


def source_texts() -> dict[str, str]:
    return {ARTICLE_ID: SAMPLE_ARTICLE.read_text(encoding="utf-8-sig"), "notes.md": NOTES}


def check_answer(answer: dict[str, object], question: str) -> None:
    """The JSON contract of one answer, and that every quote is the source's exact span."""
    assert set(answer) - {"related"} == ANSWER_KEYS
    assert answer["question"] == question
    citations = answer["citations"]
    assert isinstance(citations, list)
    texts = source_texts()
    for c in [*citations, *answer.get("related", [])]:  # type: ignore[misc]
        assert set(c) == CITATION_KEYS
        assert c["format"] == ("md" if c["document"] == "notes.md" else "txt")
        assert c["quote"] == texts[c["document"]][c["start"] : c["end"]]
        assert c["quote"] in c["passage"]
    if answer["answered"]:
        assert citations
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", str(answer["answer"]))}
        assert markers, "an answer without citation markers"
        assert markers <= {c["n"] for c in citations}


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [str(FOOTNOTES), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("ingest", "docs", "remove", "ask"):
        assert re.search(rf"^\W*{command}\b", result.stdout, re.MULTILINE), command


def test_ingest_reports_json_and_fails_on_a_bad_file(cli: Cli) -> None:
    result = cli.ingest
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout must hold the JSON report only (no progress bar)"
    report = json.loads(lines[0])
    assert report["counts"] == {
        "added": 2, "updated": 0, "unchanged": 0, "removed": 0, "failed": 1, "skipped": 0,
    }  # fmt: skip
    assert report["embedded"] > 0
    statuses = {f["document"]: f["status"] for f in report["files"]}
    assert statuses == {ARTICLE_ID: "added", "notes.md": "added", "broken.pdf": "failed"}
    (failed,) = [f for f in report["files"] if f["status"] == "failed"]
    assert "broken.pdf" in failed["reason"] and "\n" not in failed["reason"]
    assert "passages/s" not in result.stdout + result.stderr


def test_ask_json_cites_exact_sentences(cli: Cli) -> None:
    result = cli("ask", QUESTION, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is True
    assert any("Oreshnik" in c["quote"] for c in answer["citations"])
    assert {c["document"] for c in answer["citations"]} == {ARTICLE_ID}
    check_answer(answer, QUESTION)


def test_ask_batch_answers_each_line_in_order(cli: Cli, tmp_path: Path) -> None:
    follow_up = "When could Russia deploy such systems in Belarus?"
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "The Oreshnik strategic missile system [1]."},
    ]
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": QUESTION})
        + "\n"
        + json.dumps({"question": follow_up, "history": history})
        + "\n",
        encoding="utf-8",
    )
    result = cli("ask", "--batch", str(batch))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [a["question"] for a in answers] == [QUESTION, follow_up]
    for answer, question in zip(answers, [QUESTION, follow_up], strict=True):
        check_answer(answer, question)
    assert any("Oreshnik" in c["quote"] for c in answers[0]["citations"])
    assert answers[1]["answered"] is True
    assert any("second half of next year" in c["quote"] for c in answers[1]["citations"])


def test_docs_remove_and_errors_as_one_line(cli: Cli) -> None:
    listed = cli("docs", "--json")
    assert listed.returncode == 0, listed.stderr
    docs = {d["id"]: d for d in json.loads(listed.stdout)}
    assert set(docs) == {ARTICLE_ID, "notes.md"}
    assert docs[ARTICLE_ID]["passages"] > 1 and docs["notes.md"]["passages"] == 1
    assert set(docs[ARTICLE_ID]) == {
        "id", "title", "format", "pages", "passages", "content_hash", "ingested_at",
    }  # fmt: skip

    removed = cli("remove", "notes.md", "never-ingested.txt")
    assert removed.stdout.strip() == "removed 1"
    message = assert_one_line_error(removed)
    assert "never-ingested.txt" in message and "notes.md" not in message

    unknown = cli("ask", QUESTION, "--json", "--collection", "nothing-here")
    assert unknown.stdout == ""
    assert "nothing-here" in assert_one_line_error(unknown)

    # The removal reached the store on disk: the document and every passage of it are gone.
    store = Store.from_settings(
        Settings(store=cli.env["FOOTNOTES_STORE"], collection="cli-test"), create=False
    )
    assert [r.id for r in store.list_documents()] == [ARTICLE_ID]
    assert {p.document_id for p in list(store.iter_passages())} == {ARTICLE_ID}


def test_batch_and_eval_name_a_bad_line_in_one_line(cli: Cli, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(
        json.dumps({"question": QUESTION}).encode()
        + b'\n{"question": "caf\xe9?"}\n{"question": 1}\n'
    )
    undecodable = cli("ask", "--batch", str(batch))
    assert [json.loads(line)["question"] for line in undecodable.stdout.splitlines()] == [QUESTION]
    assert assert_one_line_error(undecodable) == (
        f"footnotes: {batch}:2: not UTF-8 text (byte 18 of the line)"
    )

    batch.write_text(
        "\n" + json.dumps({"question": "x" * 5000}) + "\n" + json.dumps({"question": QUESTION}),
        encoding="utf-8",
    )
    too_long = cli("ask", "--batch", str(batch))
    assert too_long.stdout == ""  # stopped at line 2, before answering anything after it
    assert assert_one_line_error(too_long) == (
        f"footnotes: {batch}:2: the question is 5,000 characters long; at most 4,000 are "
        "allowed (FOOTNOTES_MAX_QUESTION_CHARS)"
    )

    batch.write_text('{"question": "ok?"}\n[1, 2]\n', encoding="utf-8")
    not_a_row = cli("eval", str(batch))
    assert assert_one_line_error(not_a_row).startswith(f"footnotes: {batch}:2: not an eval row")
    batch.write_text('{"question": "ok?"}\n{"question": \n', encoding="utf-8")
    broken = cli("eval", str(batch))
    assert assert_one_line_error(broken).startswith(f"footnotes: {batch}:2: invalid JSON")

    single = cli("ask", "y" * 4001)
    assert "4,001 characters long" in assert_one_line_error(single)
