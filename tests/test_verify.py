"""The per-sentence check of written answers (``index/verify.py``), with the real encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from footnotes.index.coverage import WordVectors
from footnotes.index.lexical import LexicalIndex
from footnotes.index.verify import Claim, claims, verify

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

HARBOUR = "The harbour at Velmora shelters forty-two fishing boats in winter."
BUDGET = (
    "The town council approved a budget of 3.2 million euros for road repairs on 14 March 2023."
)
TREATY = "Lukashenka requested that Putin deploy the Oreshnik missile system in Belarus."
DENIED = "Lukashenka has not been granted permission to use tactical nuclear weapons."


def test_markers_belong_to_the_sentence_they_close() -> None:
    written = "Boats shelter there [1]. Forty-two of them. [2] The council met [1, 3][4]."

    got = claims(written)

    assert [(c.text, c.markers) for c in got] == [
        ("Boats shelter there.", (1,)),
        ("Forty-two of them.", (2,)),
        ("The council met.", (1, 3, 4)),
    ]


@pytest.fixture(scope="module")
def judge(embed_model: HuggingFaceEmbedding) -> object:
    words_of = WordVectors(embed_model)
    idf = LexicalIndex.of_texts([HARBOUR, BUDGET, TREATY, DENIED]).idf_function()
    evidence = {1: HARBOUR, 2: BUDGET, 3: TREATY, 4: DENIED}

    def run(text: str, *markers: int) -> tuple[bool, str]:
        verdict = verify(Claim(text, markers, text), evidence, words_of, idf)
        return verdict.supported, verdict.reason

    return run


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("In winter, 42 fishing boats take shelter in Velmora's harbour.", (1,)),
        ("On 14 March 2023 the council approved 3.2 million euros for repairing roads.", (2,)),
        ("The Belarusian leader asked Putin to deploy the Oreshnik system.", (3,)),
        ("Lukashenka is not allowed to use tactical nuclear weapons.", (4,)),
        ("Velmora's harbour shelters fishing boats, and the council approved a budget.", (1, 2)),
    ],
)
def test_paraphrases_pass(judge: object, text: str, markers: tuple[int, ...]) -> None:
    supported, reason = judge(text, *markers)  # type: ignore[operator]
    assert supported, reason


@pytest.mark.parametrize(
    ("text", "markers", "why"),
    [
        ("In winter, 24 fishing boats take shelter in Velmora's harbour.", (1,), "states 24"),
        ("On 14 May 2023 the council approved the road budget.", (2,), "names May"),
        ("The council approved 3.2 million euros for road repairs.", (1,), "states 3.2"),
        ("Lukashenka asked Putin to deploy the Iskander system.", (3,), "names Iskander"),
        ("Lukashenka has been granted permission to use nuclear weapons.", (4,), "negates"),
        ("Lukashenka did not request the Oreshnik system.", (3,), "negated"),
        ("The harbour shelters boats and a ferry to the island of Tarn.", (1,), "names Tarn"),
        ("The boats pay a mooring fee to the harbour.", (1,), "not in its quotes"),
        ("Forty-two fishing boats shelter at Velmora in winter.", (7,), "[7]"),
        ("Forty-two fishing boats shelter at Velmora in winter.", (), "cites nothing"),
    ],
)
def test_unsupported_sentences_fail_with_the_reason(
    judge: object, text: str, markers: tuple[int, ...], why: str
) -> None:
    supported, reason = judge(text, *markers)  # type: ignore[operator]
    assert not supported
    assert why in reason and "\n" not in reason


def test_a_sentence_with_nothing_to_check_needs_no_marker(judge: object) -> None:
    assert judge("In short:")[0]  # type: ignore[operator]
