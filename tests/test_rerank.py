"""The answering order: which fused candidates an answer cites first."""

from __future__ import annotations

from footnotes.index.rerank import LEADING, answering_order
from footnotes.index.store import SentenceHit


def _hit(i: int, text: str, dense: float, section: str | None = None) -> SentenceHit:
    return SentenceHit(
        f"s{i}", "doc", "p", i, "Doc", section, None, 0, len(text), text, dense=dense
    )


def _idf(stem: str) -> float:
    return 1.0


def test_the_sentence_stating_the_question_moves_first_and_the_rest_keep_fused_order() -> None:
    question = "How often is the key function called for each record?"
    fused = [
        _hit(0, "Records are sorted in place.", 0.40),
        _hit(1, "A key function may be any callable.", 0.45),
        _hit(2, "Unrelated words about sorting stability.", 0.30),
        _hit(3, "The key function is called exactly once for each record.", 0.55),
        _hit(4, "Key functions are also used by min and max.", 0.35),
    ]
    ordered = answering_order(question, fused, _idf)
    assert ordered[0].id == "s3"
    assert len(ordered) == len(fused) and {h.id for h in ordered} == {h.id for h in fused}
    # Only the LEADING best move; everything after them is in fused order.
    rest = [h.id for h in ordered[LEADING:]]
    assert rest == [h.id for h in fused if h.id in rest]


def test_a_sections_heading_counts_toward_what_a_sentence_states() -> None:
    question = "Who is the author of the regular expression guide?"
    fused = [
        _hit(0, "The author of this guide thanks the readers.", 0.40, "Sorting guide"),
        _hit(1, "The author: A. Writer.", 0.40, "Regular expression guide"),
    ]
    assert answering_order(question, fused, _idf)[0].id == "s1"
    assert answering_order(question, [], _idf) == []
