"""How a window of texts is cut into encoder batches: longest first, by tokens.

Each encoder batch is padded to its longest text, so batches cut in document
order cost about twice the compute of length-sorted ones. Length is counted
in the encoder's tokens: sorting by characters, as
``SentenceTransformer.encode`` does, still left ~1.7x on sentences of prose
and code (``benchmarks/ingest.py``). A window of 64 batches sorts about as
well as sorting everything, and bounds what ingest holds in memory.
"""

from __future__ import annotations

from collections.abc import Sequence


def length_sorted_batches(lengths: Sequence[int], size: int) -> list[list[int]]:
    """The indices of texts with these ``lengths``, longest first, in batches of ``size``.

    Every index appears exactly once; ties keep their order.
    """
    if size < 1:
        raise ValueError(f"batch size must be positive (got {size})")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + size] for start in range(0, len(order), size)]
