"""The prompt a language model answers from: the rules, the numbered evidence, the
conversation. The one place its wording lives; change :data:`VERSION` with it.

The model sees evidence as numbered lines ``[n] sentence`` under the title of
the document they come from (its section and page, when it has them), and is
asked to answer only from them, to end every sentence with the markers of the
lines it used, and to say :data:`DO_NOT_SAY` when they do not answer. Earlier
answers are given back without their markers, whose numbers meant other evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage

    from footnotes.index.answer import Citation
    from footnotes.index.ask import Turn

VERSION = "1"
DO_NOT_SAY = "The documents do not say."

SYSTEM = f"""You answer questions using only the evidence given with each question: \
numbered sentences from the user's documents, each line starting with its marker, \
such as [1].

Rules:
1. Use only what the evidence states. Do not add facts, numbers, dates or names \
from anywhere else, and do not guess.
2. End every sentence of your answer with the markers of the evidence lines it \
uses, for example: "The treaty was signed in 1999 [2]." or "... [1][3]."
3. Write a short, direct answer: one to three sentences, the answer first.
4. If the evidence does not answer the question, reply exactly: "{DO_NOT_SAY}"
5. Answer in plain sentences: no headings, lists, or quotes longer than a few words."""


def evidence_block(evidence: Sequence[Citation]) -> str:
    """The evidence as the model reads it: ``[n] quote`` lines under each document's title
    (and section, when it has one of its own), so that a line can be read alone."""
    from footnotes.index.answer import display

    lines: list[str] = []
    where: str | None = None
    for citation in evidence:
        heading = f"From \u201c{citation.title}\u201d"
        if citation.section and citation.section != citation.title:
            heading += f", section \u201c{citation.section}\u201d"
        if citation.page is not None:
            heading += f", page {citation.page}"
        if heading != where:
            where = heading
            lines.append(("\n" if lines else "") + heading + ":")
        lines.append(f"[{citation.n}] {' '.join(display(citation.quote, citation.format).split())}")
    return "\n".join(lines)


def messages(
    question: str, history: Sequence[Turn], evidence: Sequence[Citation]
) -> list[ChatMessage]:
    """The chat to send: rules, earlier turns (markers removed), evidence and question."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    from footnotes.index.verify import without_markers

    out = [ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM)]
    for turn in history:
        role = MessageRole.USER if turn.role == "user" else MessageRole.ASSISTANT
        text = without_markers(turn.content) if turn.role == "assistant" else turn.content
        if text.strip():
            out.append(ChatMessage(role=role, content=text.strip()))
    out.append(
        ChatMessage(
            role=MessageRole.USER,
            content=f"Evidence:\n{evidence_block(evidence)}\n\nQuestion: {question}",
        )
    )
    return out
