"""The per-sentence check of written answers (``index/verify.py``), with the real encoder."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from conftest import ROOT, SOLANA_PDF, needs_shared

from footnotes.index.coverage import WordVectors
from footnotes.index.lexical import LexicalIndex
from footnotes.index.verify import Claim, claims, verify
from footnotes.ingest.loaders import load

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

HARBOUR = "The harbour at Velmora shelters forty-two fishing boats in winter."
BUDGET = (
    "The town council approved a budget of 3.2 million euros for road repairs on 14 March 2023."
)
TREATY = "Lukashenka requested that Putin deploy the Oreshnik missile system in Belarus."
DENIED = "Lukashenka has not been granted permission to use tactical nuclear weapons."
COMMAND = (
    "In response, Putin announced that Russia could deploy such systems in Belarus and that "
    "they would fall under the command of Russia\u2019s Strategic Missile Forces."
)
PACT = "Velmora and Ostrava signed a fishing pact, and the pact gives permissioned boats a berth."


def test_markers_belong_to_the_sentence_they_close() -> None:
    written = "Boats shelter there [1]. Forty-two of them. [2] The council met [1, 3][4]."

    got = claims(written)

    assert [(c.text, c.markers) for c in got] == [
        ("Boats shelter there.", (1,)),
        ("Forty-two of them.", (2,)),
        ("The council met.", (1, 3, 4)),
    ]


@needs_shared
def test_solana_claims_cite_spans_of_the_loaders_text() -> None:
    """The Solana claims keep offsets, not the paper's text: they must still land on whole
    words of the text the loader extracts (a loader or pypdf change that shifts the text
    breaks this), and a claim that states a year must find it in its span."""
    text = load(SOLANA_PDF, "solana").text
    rows = [
        json.loads(line)
        for path in sorted((ROOT / "benchmarks" / "data").glob("claims-*solana.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(rows) >= 60
    for row in rows:
        assert row["document"] == SOLANA_PDF.name and "quotes" not in row
        for span in row["evidence"]:
            start, end = span["start"], span["end"]
            assert 0 <= start < end <= len(text), row["claim"]
            assert start == 0 or not text[start - 1].isalnum(), (row["claim"], start)
            assert end == len(text) or not text[end].isalnum(), (row["claim"], end)
        cited = " ".join(text[s["start"] : s["end"]] for s in row["evidence"])
        if row["supported"]:
            for year in re.findall(r"\b(?:19|20)\d\d\b", row["claim"]):
                assert year in cited, (row["claim"], year)


@pytest.fixture(scope="module")
def judge(embed_model: HuggingFaceEmbedding) -> object:
    words_of = WordVectors(embed_model)
    idf = LexicalIndex.of_texts([HARBOUR, BUDGET, TREATY, DENIED, COMMAND, PACT]).idf_function()
    evidence = {1: HARBOUR, 2: BUDGET, 3: TREATY, 4: DENIED, 5: COMMAND, 6: PACT}

    def run(text: str, *markers: int) -> tuple[bool, str]:
        verdict = verify(Claim(text, markers, text), evidence, words_of, idf)
        return verdict.supported, verdict.reason

    return run


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("In winter, 42 fishing boats take shelter in Velmora's harbour.", (1,)),
        ("On 14 March 2023 the council approved 3.2 million euros for repairing roads.", (2,)),
        ("The Belarusian leader asked Putin to deploy the Oreshnik system.", (3,)),
        ("Lukashenka is not allowed to use tactical nuclear weapons.", (4,)),
        ("Velmora's harbour shelters fishing boats, and the council approved a budget.", (1, 2)),
        # the same roles in other words: a passive, a coordination reordered, a fronted verb
        ("Putin was asked by Lukashenka to deploy the Oreshnik system in Belarus.", (3,)),
        ("Such systems could be deployed in Belarus by Russia.", (5,)),
        ("Ostrava and Velmora signed a fishing pact.", (6,)),
        ("Russia could deploy such systems in Belarus, Putin announced.", (5,)),
        ("The systems would be under the command of the Russian Strategic Missile Forces.", (5,)),
    ],
)
def test_paraphrases_pass(judge: object, text: str, markers: tuple[int, ...]) -> None:
    supported, reason = judge(text, *markers)  # type: ignore[operator]
    assert supported, reason


@pytest.mark.slow
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
        # swapped actors: who asked whom, who deploys where, whose forces command
        ("Putin requested that Lukashenka deploy the Oreshnik system.", (3,), "reverses"),
        ("Lukashenka was asked by Putin to deploy the Oreshnik system.", (3,), "reverses"),
        ("Such systems could be deployed in Russia by Belarus.", (5,), "reverses"),
        ("The systems would fall under the command of Belarus's Strategic Missile Forces.", (5,),
         "puts “Belarus's”"),
        # a negation by affix, and a restriction the quote does not make
        ("The pact gives permissionless boats a berth.", (6,), "permissionless"),
        ("The pact gives only permissioned boats a berth.", (6,), "restricts"),
    ],
)  # fmt: skip
def test_unsupported_sentences_fail_with_the_reason(
    judge: object, text: str, markers: tuple[int, ...], why: str
) -> None:
    supported, reason = judge(text, *markers)  # type: ignore[operator]
    assert not supported
    assert why in reason and "\n" not in reason


@pytest.mark.slow
def test_a_sentence_with_nothing_to_check_needs_no_marker(judge: object) -> None:
    assert judge("In short:")[0]  # type: ignore[operator]
