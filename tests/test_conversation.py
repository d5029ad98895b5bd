"""Three-turn conversations keep their subject, through the core, the CLI, the API and the chat.

The conversations are ``benchmarks/data/conversations-tune.jsonl`` (the held-out ones
are for ``benchmarks/conversations.py`` only): short follow-ups ("Why?", "When?",
"Where?", "Is that true?") and pronoun-only ones ("What did he claim?"). Each turn is
asked with the conversation so far, whose answers are the ones Footnotes gave.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, SAMPLE_ARTICLE, serving_app

from footnotes.index.ask import Turn
from footnotes.index.evaluate import normalise
from footnotes.index.library import Library
from footnotes.index.retrieve import clauses
from footnotes.settings import Settings
from footnotes.ui import chat

FOOTNOTES = Path(sys.executable).with_name("footnotes")
CONVERSATIONS = [
    json.loads(line)
    for line in (ROOT / "benchmarks" / "data" / "conversations-tune.jsonl").open(encoding="utf-8")
]
ARTICLE = SAMPLE_ARTICLE.read_text(encoding="utf-8")


def holds(answer: str, expected: list[str]) -> bool:
    return any(normalise(e) in normalise(answer) for e in expected)


def test_a_long_sentence_is_cut_into_clauses_that_keep_an_apposition_with_its_name() -> None:
    sentence = (
        "Contrary to the declarations by Alexander Volfovich, the Secretary of the Security "
        "Council, who claimed that he has his own button, the authority remains with the Kremlin."
    )
    pieces = clauses(sentence)
    assert "Contrary to the declarations by Alexander Volfovich" in pieces
    assert (
        "Contrary to the declarations by Alexander Volfovich, the Secretary of the Security "
        "Council" in pieces
    )
    assert clauses("The ferry leaves at nine each day.") == []  # one clause: none
    assert all(len(p.split()) >= 5 for p in clauses("A, b c d e f, g h i j k."))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embed_model: Any) -> Library:
    settings = Settings(store=tmp_path_factory.mktemp("talk") / "store", collection="talk")
    lib = Library(settings, embed_model)
    assert lib.ingest([SAMPLE_ARTICLE]).counts["added"] == 1
    return lib


@pytest.mark.slow
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=[c["id"] for c in CONVERSATIONS])
def test_every_turn_of_a_conversation_keeps_its_subject(
    library: Library, conversation: dict[str, Any]
) -> None:
    history: list[Turn] = []
    for turn in conversation["turns"]:
        answer = library.ask(turn["question"], history)
        assert answer.answered and holds(answer.answer, turn["answers"]), (
            turn["question"],
            answer.answer,
        )
        assert all(ARTICLE[c.start : c.end] == c.quote for c in answer.citations)
        history += [Turn("user", turn["question"]), Turn("assistant", answer.answer)]


@pytest.mark.slow
def test_a_follow_up_adds_to_the_previous_answer(library: Library) -> None:
    first = library.ask("Which missile system did Lukashenka ask Putin to deploy?")
    history = [Turn("user", first.question), Turn("assistant", first.answer)]
    why = library.ask("Why?", history)
    assert why.answered and holds(why.answer, ["NATO units", "defence spending"])
    assert [c.quote for c in why.citations] != [c.quote for c in first.citations]


@pytest.mark.slow
def test_cli_batch_with_history_keeps_the_subject(library: Library, tmp_path: Path) -> None:
    volfovich = next(c for c in CONVERSATIONS if c["id"] == "volfovich")
    questions = [t["question"] for t in volfovich["turns"]]
    first = library.ask(questions[0])
    second = library.ask(
        questions[1], [Turn("user", questions[0]), Turn("assistant", first.answer)]
    )
    history: list[dict[str, str]] = []
    lines = []
    for question, answer in zip(questions, [first.answer, second.answer, ""]):
        lines.append(json.dumps({"question": question, "history": list(history)}))
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    batch = tmp_path / "talk.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTNOTES_")}
    env.update(FOOTNOTES_STORE=str(library.settings.store), FOOTNOTES_COLLECTION="talk")
    done = subprocess.run(
        [str(FOOTNOTES), "ask", "--batch", str(batch)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    for answer, turn in zip(answers, volfovich["turns"], strict=True):
        assert answer["answered"] and holds(answer["answer"], turn["answers"]), answer["answer"]


@pytest.mark.slow
def test_api_conversation_keeps_the_subject(library: Library) -> None:
    signing = next(c for c in CONVERSATIONS if c["id"] == "signing")
    history: list[dict[str, str]] = []
    with serving_app(library.settings, library) as url:
        for turn in signing["turns"]:
            got = httpx.post(
                f"{url}/api/ask", json={"question": turn["question"], "history": history},
                timeout=60,
            )  # fmt: skip
            assert got.status_code == 200, got.text
            answer = got.json()["answer"]
            assert holds(answer, turn["answers"]), (turn["question"], answer)
            history += [
                {"role": "user", "content": turn["question"]},
                {"role": "assistant", "content": answer},
            ]


@pytest.mark.slow
def test_chat_conversation_keeps_the_subject(library: Library) -> None:
    missile = next(c for c in CONVERSATIONS if c["id"] == "missile")
    conversation: list[Any] = []
    for turn in missile["turns"]:
        *_, (_, conversation, _, _) = chat.respond(library, turn["question"], conversation, None)
        answer = conversation[-1].answer
        assert answer.answered and holds(answer.answer, turn["answers"]), answer.answer
    assert len(conversation) == 3
