"""Conversations: do follow-ups keep their subject? Plays three-turn conversations live.

Each line of ``data/conversations-{tune,heldout,fresh}.jsonl`` is
``{"id", "turns": [{"question", "answers"}, ...]}``. The conversation is asked turn by
turn against the sample article, each turn with the history so far, whose assistant
messages are the answers Footnotes actually gave (as the chat sends them). A turn
*holds* when its answer contains one of its ``answers`` (case- and space-insensitive);
a follow-up *repeats* when it cites exactly what the previous answer cited. The
held-out set was written before any tuning; the rules for words that point back
("otherwise", "something similar") were written after reading two of its misses, so it
no longer shows that they generalise. The fresh set was written after them, by a helper
who read only the article (never Footnotes' code or answers), and is never tuned on.

    python benchmarks/conversations.py [--misses] [--sets tune,heldout,fresh]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from footnotes.index.ask import Asker, Turn
from footnotes.index.embedding import load_embedding
from footnotes.index.evaluate import normalise
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
ARTICLE = ROOT / "samples" / "belarus-russia-security-alliance.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true", help="print every turn that missed")
    parser.add_argument("--sets", default="tune,heldout,fresh")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(store=Path(folder) / "store", collection="article")
        embed = load_embedding(settings)
        replica = Replica.open(Store.from_settings(settings), settings)
        Ingestor(replica, lambda: embed, settings).sync([ARTICLE])
        asker = Asker(replica, embed, settings)
        for name in args.sets.split(","):
            play(asker, name, args.misses)


def play(asker: Asker, name: str, misses: bool) -> None:
    rows = [json.loads(line) for line in (DATA / f"conversations-{name}.jsonl").open()]
    held = {1: 0, 2: 0, 3: 0}
    counts = {1: 0, 2: 0, 3: 0}
    repeats = follow_ups = 0
    lines = []
    for row in rows:
        history: list[Turn] = []
        previous: list[tuple[int, int]] | None = None
        for i, turn in enumerate(row["turns"], 1):
            answer = asker.ask(turn["question"], history)
            text = normalise(answer.answer)
            ok = answer.answered and any(normalise(a) in text for a in turn["answers"])
            spans = [(c.start, c.end) for c in answer.citations]
            counts[i] += 1
            held[i] += ok
            if i > 1:
                follow_ups += 1
                repeats += bool(spans) and spans == previous
            if not ok:
                lines.append(
                    f"  MISS {row['id']} turn {i} {turn['question']!r}: {answer.answer[:160]}"
                )
            history += [Turn("user", turn["question"]), Turn("assistant", answer.answer)]
            previous = spans
    total = sum(held.values()), sum(counts.values())
    per_turn = ", ".join(f"turn {i} {held[i]}/{counts[i]}" for i in sorted(counts))
    print(
        f"{name:8} {len(rows)} conversations: {per_turn}; all {total[0]}/{total[1]} "
        f"({total[0] / max(1, total[1]):.3f}); follow-ups repeating the previous citations "
        f"{repeats}/{follow_ups}"
    )
    if misses:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
