"""Answers written by a language model, against fake OpenAI-compatible and Ollama servers.

The servers are real HTTP servers on loopback speaking each protocol
(``tests/fake_llm.py``); each test scripts what the model writes from the evidence
it was sent, or how it fails. One store with the sample article serves the module;
every case is checked through the core, and the main ones through the CLI, the API
(both routes) and the chat callbacks.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SAMPLE_ARTICLE, serving_app
from fake_llm import FakeLLM, Messages, fake_llm

from footnotes.index.answer import FLAG, Answer, Delta
from footnotes.index.ask import Asker
from footnotes.index.library import Library
from footnotes.index.llm import make_writer
from footnotes.settings import Settings
from footnotes.ui import chat

pytestmark = pytest.mark.slow

FOOTNOTES = Path(sys.executable).with_name("footnotes")
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
ORESHNIK = "Oreshnik"
ARTICLE = SAMPLE_ARTICLE.read_text(encoding="utf-8")
FAITHFUL = "Lukashenka asked Putin to station the Oreshnik missile system in Belarus"
INVENTED = "Putin promised forty such systems by March 2026"


def line_of(messages: Messages, needle: str) -> int:
    """The marker of the evidence line holding ``needle`` in the request's last message."""
    for match in re.finditer(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE):
        if needle in match.group(2):
            return int(match.group(1))
    raise AssertionError(f"no evidence line with {needle!r}")


def faithful(extra: Callable[[Messages], str] | None = None) -> Callable[[Messages], str]:
    """A script: the model's own wording of the Oreshnik sentence, then ``extra``."""

    def reply(messages: Messages) -> str:
        text = f"{FAITHFUL} [{line_of(messages, ORESHNIK)}]."
        return f"{text} {extra(messages)}" if extra else text

    return reply


def with_figure(messages: Messages) -> str:
    return f"{INVENTED} [{line_of(messages, 'second half of next year')}]."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with fake_llm() as server:
        yield server


@pytest.fixture(autouse=True)
def _script(fake: FakeLLM) -> Iterator[None]:
    yield
    fake.reply = lambda messages: "The documents do not say."
    fake.fail, fake.delay = None, 0.0
    fake.requests.clear()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm") / "store"


def llm_settings(store_dir: Path, fake: FakeLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "store": store_dir, "collection": "test", "llm": "openai", "llm_url": fake.openai_url,
        "llm_model": "fake-model", "llm_timeout": 3.0,
    }  # fmt: skip
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="module")
def library(store_dir: Path, fake: FakeLLM, embed_model: Any) -> Library:
    settings = llm_settings(store_dir, fake)
    lib = Library(settings, embed_model, writer=make_writer(settings))
    assert lib.ingest([SAMPLE_ARTICLE]).counts["added"] == 1
    return lib


def asker(library: Library, settings: Settings) -> Asker:
    """An asker of the module's store with other LLM settings (another protocol, policy)."""
    return Asker(library.replica(), library.embed_model, settings, make_writer(settings))


def check_offsets(answer: dict[str, Any]) -> None:
    """Every marker of the text resolves, in order of first use, to an exact quote."""
    shown = [n for s in answer["sentences"] if not s["dropped"] for n in s["citations"]]
    assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    assert sorted(set(shown)) == [c["n"] for c in answer["citations"]]
    assert [int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])] == shown
    first_use = list(dict.fromkeys(shown))
    assert first_use == sorted(first_use)
    for c in answer["citations"]:
        assert ARTICLE[c["start"] : c["end"]] == c["quote"]


# --- the core -------------------------------------------------------------------------


def test_a_faithful_paraphrase_is_the_answer_in_the_models_words(
    library: Library, fake: FakeLLM
) -> None:
    fake.reply = faithful()
    answer = library.ask(QUESTION)
    assert answer.mode == "llm" and answer.answered and answer.notice is None
    assert answer.answer == f"{FAITHFUL}. [1]"  # renumbered: the line it cited was [n]
    (sentence,) = answer.sentences
    assert sentence.supported and sentence.citations == [1]
    (cited,) = answer.citations
    assert ORESHNIK in cited.quote and FAITHFUL not in cited.quote
    check_offsets(answer.to_dict())
    # the model was sent the rules, the numbered evidence and the question
    sent = fake.requests[-1]
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["messages"][0]["role"] == "system" and "[1]" in sent["messages"][-1]["content"]
    assert sent["messages"][-1]["content"].endswith(f"Question: {QUESTION}")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (with_figure, "states 2026"),
        (lambda m: f"The request was backed by Viktor Orban [{line_of(m, ORESHNIK)}].", "Viktor"),
        (lambda m: "NATO has moved troops to the Polish border.", "cites nothing"),
        (lambda m: "He also asked for more systems [99].", "[99]"),
    ],
    ids=["changed-number", "invented-name", "no-marker", "marker-out-of-range"],
)
def test_an_unsupported_sentence_is_dropped_and_says_why(
    library: Library, fake: FakeLLM, extra: Callable[[Messages], str], reason: str
) -> None:
    fake.reply = faithful(extra)
    answer = library.ask(QUESTION)
    assert answer.mode == "llm" and answer.answered
    assert answer.answer == f"{FAITHFUL}. [1]"
    kept, dropped = answer.sentences
    assert kept.supported and not kept.dropped
    assert not dropped.supported and dropped.dropped and dropped.citations == []
    assert reason in (dropped.reason or ""), dropped.reason
    assert len(answer.citations) == 1
    check_offsets(answer.to_dict())


def test_flag_keeps_an_unsupported_sentence_marked(library: Library, fake: FakeLLM) -> None:
    fake.reply = faithful(with_figure)
    flagging = asker(library, llm_settings(library.settings.store, fake, llm_unsupported="flag"))
    answer = flagging.ask(QUESTION)
    assert answer.answered and len(answer.citations) == 2
    assert answer.answer == f"{FAITHFUL}. [1] {INVENTED}. [2] {FLAG}"
    assert [s.supported for s in answer.sentences] == [True, False]
    assert not any(s.dropped for s in answer.sentences)
    assert "second half of next year" in answer.citations[1].quote


def test_the_model_saying_the_documents_do_not_say_is_an_abstention(
    library: Library, fake: FakeLLM
) -> None:
    fake.reply = lambda messages: "The documents do not say."
    answer = library.ask(QUESTION)
    assert answer.mode == "llm" and not answer.answered and not answer.citations
    assert answer.answer.startswith("The documents do not say")
    assert answer.related and all(ARTICLE[c.start : c.end] == c.quote for c in answer.related)


def test_no_supported_sentence_left_is_an_abstention_with_a_notice(
    library: Library, fake: FakeLLM
) -> None:
    fake.reply = with_figure
    answer = library.ask(QUESTION)
    assert not answer.answered and answer.mode == "llm" and not answer.citations
    assert "none of the sentences" in (answer.notice or "")
    assert [s.supported for s in answer.sentences] == [False]


def test_a_question_the_documents_do_not_answer_never_reaches_the_model(
    library: Library, fake: FakeLLM
) -> None:
    fake.reply = faithful()
    answer = library.ask("What is the population of Belarus?")
    assert not answer.answered and fake.requests == []


@pytest.mark.parametrize(
    ("fail", "why"),
    [
        (500, "HTTP 500"),
        (503, "HTTP 503"),
        ("slow", "no reply within 3 s"),
        ("empty", "empty reply"),
        ("malformed", "reply"),
        ("drop", ""),
    ],
)
def test_when_the_model_fails_the_quoted_answer_is_given_with_a_notice(
    library: Library, fake: FakeLLM, fail: int | str, why: str
) -> None:
    fake.reply, fake.fail = faithful(), fail
    started = time.monotonic()
    answer = library.ask(QUESTION)
    assert time.monotonic() - started < 20
    assert answer.mode == "extractive" and answer.answered
    assert ORESHNIK in answer.citations[0].quote
    notice = answer.notice or ""
    assert notice.startswith("the language model did not answer (") and why in notice
    assert notice.endswith("showing quoted sentences instead") and "\n" not in notice


def test_a_model_server_that_is_not_there_is_a_notice(library: Library, fake: FakeLLM) -> None:
    from conftest import free_port

    gone = llm_settings(library.settings.store, fake, llm_url=f"http://127.0.0.1:{free_port()}/v1")
    answer = asker(library, gone).ask(QUESTION)
    assert answer.answered and answer.mode == "extractive"
    assert "cannot connect to the model server" in (answer.notice or "")


def test_ollama_answers_are_checked_the_same_way(library: Library, fake: FakeLLM) -> None:
    settings = llm_settings(library.settings.store, fake, llm="ollama", llm_url=fake.url)
    fake.reply = faithful(with_figure)
    answer = asker(library, settings).ask(QUESTION)
    assert fake.requests[-1]["path"] == "/api/chat"
    assert answer.mode == "llm" and answer.answer == f"{FAITHFUL}. [1]"
    assert [s.supported for s in answer.sentences] == [True, False]
    fake.fail = 500
    failed = asker(library, settings).ask(QUESTION)
    assert failed.mode == "extractive" and "HTTP 500" in (failed.notice or "")


def test_the_models_words_arrive_as_it_writes_them(library: Library, fake: FakeLLM) -> None:
    fake.reply, fake.delay = faithful(with_figure), 0.05
    arrivals: list[tuple[float, Delta | Answer]] = []
    for event in library.ask_stream(QUESTION):
        arrivals.append((time.monotonic(), event))
    deltas = [(t, e) for t, e in arrivals if isinstance(e, Delta)]
    assert len(deltas) > 10 and isinstance(arrivals[-1][1], Answer)
    assert deltas[-1][0] - deltas[0][0] > 0.4  # spread over the stream, not all at the end
    written = "".join(e.text for _, e in deltas)
    assert INVENTED in written  # the words as written; the checked answer drops the figure
    final = arrivals[-1][1]
    assert isinstance(final, Answer) and INVENTED not in final.answer


def test_history_reaches_the_model_without_old_markers(library: Library, fake: FakeLLM) -> None:
    from footnotes.index.ask import Turn

    fake.reply = faithful()
    history = [Turn("user", "Who asked?"), Turn("assistant", "Lukashenka did. [1] [2]")]
    library.ask(QUESTION, history)
    sent = fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "Lukashenka did."


# --- the CLI --------------------------------------------------------------------------


def cli_env(store_dir: Path, fake: FakeLLM, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTNOTES_")}
    env.update(
        FOOTNOTES_STORE=str(store_dir), FOOTNOTES_COLLECTION="test", FOOTNOTES_LLM="openai",
        FOOTNOTES_LLM_URL=fake.openai_url, FOOTNOTES_LLM_MODEL="fake-model",
        FOOTNOTES_LLM_TIMEOUT="3", **extra,
    )  # fmt: skip
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FOOTNOTES), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_ask_json_gives_the_checked_answer_and_a_notice_when_the_model_fails(
    library: Library, fake: FakeLLM
) -> None:
    env = cli_env(library.settings.store, fake)
    fake.reply = faithful(with_figure)
    done = run(env, "ask", QUESTION, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["mode"] == "llm" and answer["notice"] is None
    assert answer["answer"] == f"{FAITHFUL}. [1]"
    assert [(s["supported"], s["dropped"]) for s in answer["sentences"]] == [
        (True, False), (False, True),
    ]  # fmt: skip
    assert ORESHNIK in answer["citations"][0]["quote"]
    check_offsets(answer)

    fake.fail = 500
    failed = run(env, "ask", QUESTION)
    assert failed.returncode == 0 and "Traceback" not in failed.stderr
    assert failed.stdout.startswith("note: the language model did not answer (HTTP 500)")
    assert ORESHNIK in failed.stdout


def test_cli_prints_the_models_words_as_they_arrive_on_a_terminal(
    library: Library, fake: FakeLLM
) -> None:
    import pty

    fake.reply, fake.delay = faithful(with_figure), 0.05
    env = {**cli_env(library.settings.store, fake), "COLUMNS": "200", "TERM": "xterm"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: footnotes on a terminal
        os.execve(str(FOOTNOTES), [str(FOOTNOTES), "ask", QUESTION], env)
    chunks: list[tuple[float, bytes]] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append((time.monotonic(), data))
    os.waitpid(pid, 0)
    output = b"".join(d for _, d in chunks).decode("utf-8", "replace")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert "forty such systems" in plain  # shown while written...
    final = plain[plain.rindex(FAITHFUL) :]
    assert "forty such systems by March 2026 [" not in final.split("\n")[0]  # ...not in the answer
    assert "left out, not supported" in plain
    seen = [t for t, d in chunks if b"such" in d]
    assert seen and seen[0] < chunks[-1][0] - 0.2  # the words came before the end


def test_cli_eval_reports_kept_and_dropped_sentences(
    library: Library, fake: FakeLLM, tmp_path: Path
) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [{"question": QUESTION, "answers": ["Oreshnik"]}] * 2
    questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    fake.reply = faithful(with_figure)
    done = run(cli_env(library.settings.store, fake), "eval", str(questions), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["llm_answers"] == 2 and summary["llm_fallbacks"] == 0
    assert summary["llm_sentences_kept"] == 0.5 and summary["llm_sentences_dropped"] == 0.5
    assert summary["llm_sentences_flagged"] == 0.0
    assert summary["answer_containment"] == 1.0


# --- the API --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(library: Library) -> Iterator[str]:
    with serving_app(library.settings, library) as url:
        yield url


def events_of(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in response.text.split("\n\n"):
        if block.strip():
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_api_ask_gives_the_checked_answer(api: str, fake: FakeLLM) -> None:
    fake.reply = faithful(with_figure)
    got = httpx.post(f"{api}/api/ask", json={"question": QUESTION}, timeout=60)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["mode"] == "llm" and body["answer"] == f"{FAITHFUL}. [1]"
    assert [s["supported"] for s in body["sentences"]] == [True, False]
    check_offsets(body)
    fake.fail = 500
    failed = httpx.post(f"{api}/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert failed["mode"] == "extractive" and "HTTP 500" in failed["notice"]


def test_api_stream_sends_the_words_then_the_checked_answer(api: str, fake: FakeLLM) -> None:
    fake.reply, fake.delay = faithful(with_figure), 0.03
    arrivals: list[float] = []
    with httpx.stream(
        "POST", f"{api}/api/ask/stream", json={"question": QUESTION}, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = ""
        for piece in response.iter_text():
            arrivals.append(time.monotonic())
            body += piece
    events = events_of(httpx.Response(200, text=body))
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"} and len(names) > 10
    written = "".join(data["text"] for name, data in events if name == "delta")
    assert FAITHFUL in written and INVENTED in written
    answer = events[-1][1]
    assert answer["mode"] == "llm" and answer["answer"] == f"{FAITHFUL}. [1]"
    check_offsets(answer)
    assert arrivals[-1] - arrivals[0] > 0.3  # streamed, not sent whole at the end


def test_api_stream_refuses_a_bad_request_before_streaming(api: str, fake: FakeLLM) -> None:
    empty = httpx.post(f"{api}/api/ask/stream", json={"question": "  "}, timeout=60)
    assert empty.status_code == 400 and empty.json()["detail"] == "the question is empty"
    missing = httpx.post(
        f"{api}/api/ask/stream", json={"question": QUESTION, "collection": "nope"}, timeout=60
    )
    assert missing.status_code == 404
    fake.fail = "malformed"
    failed = httpx.post(f"{api}/api/ask/stream", json={"question": QUESTION}, timeout=60)
    ((name, answer),) = events_of(failed)
    assert name == "answer" and answer["mode"] == "extractive" and answer["notice"]


def test_api_extractive_stream_is_one_answer_event(api: str, library: Library) -> None:
    quoted = Library(library.settings.model_copy(update={"llm": ""}), library.embed_model)
    with serving_app(quoted.settings, quoted) as url:
        got = httpx.post(f"{url}/api/ask/stream", json={"question": QUESTION}, timeout=60)
    ((name, answer),) = events_of(got)
    assert name == "answer" and answer["mode"] == "extractive" and answer["notice"] is None
    assert [s["citations"] for s in answer["sentences"]] == [[c["n"]] for c in answer["citations"]]


# --- the chat -------------------------------------------------------------------------


def test_chat_shows_the_words_as_written_then_the_checked_answer(
    library: Library, fake: FakeLLM
) -> None:
    from test_chat import Parsed

    fake.reply = faithful(with_figure)
    yields = list(chat.respond(library, QUESTION, [], None))
    assert len(yields) > 10
    shown = [Parsed(messages[-1]["content"]).text for messages, *_ in yields[:-1]]
    assert all(b.startswith(a.split(" \u2026")[0]) for a, b in itertools.pairwise(shown))
    assert INVENTED in shown[-1]  # the words as they were written
    assert yields[0][3] == "" and all(y[3] != "" for y in yields[1:])  # typing stays
    messages, conversation, sources, _ = yields[-1]
    final = Parsed(messages[-1]["content"])
    assert final.text.startswith(f"{FAITHFUL}. [1]")
    assert "left out" in final.text and "#source-0-1" in final.attrs("href")
    assert conversation[0].answer.mode == "llm" and "source-0-1" in Parsed(sources).attrs("id")


def test_chat_shows_the_notice_when_the_model_fails(library: Library, fake: FakeLLM) -> None:
    from test_chat import Parsed

    fake.fail = 500
    ((messages, conversation, _, _),) = list(chat.respond(library, QUESTION, [], None))
    text = Parsed(messages[-1]["content"]).text
    assert text.startswith("the language model did not answer (HTTP 500)")
    assert ORESHNIK in text and conversation[0].answer.notice
