"""How much of a reStructuredText file's prose the loader keeps (issue #11).

The loader's text is the file's own; what it keeps is what lies in its blocks (only
blocks become passages, so only they can be retrieved or cited). This script reads each
file a second way, line by line, independently of ``ingest/loaders.py``: every word
(``\\w+``) of the source is given a kind, and a word *survives* when its characters lie
inside one of the loaded document's blocks. The last column counts the other way: words
that are not prose (below) but are in the blocks, where they can be retrieved and cited.

Not prose, left out of the count: comments, targets, substitution definitions,
directive options, adornment lines, and the directives whose body or argument is a
path, a name list or markup for a builder (``toctree``, ``include``, ``image``,
``index``, ``raw``, ``highlight``, ``kernel-doc``...: :data:`NOT_PROSE`), and the
argument of a ``code-block`` (its language), an ``only`` (a condition), a ``figure`` (a
path) and the like. Everything else counts, by kind: ``paragraph``, ``list``
item, ``field`` list, ``table`` row, ``literal`` block (after ``::``), a directive's
``body:NAME`` (a note's text, a versionadded's sentence, a figure's caption...),
its ``arg:NAME`` (a function's signature, "3.2"...), and ``footnote``.

    python benchmarks/rst_prose.py [FILES...]   # default: a fixed sample of Debian's docs
    python benchmarks/rst_prose.py --kinds       # also the figures per kind
    python benchmarks/rst_prose.py --dropped N   # also up to N dropped lines per file
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from footnotes.ingest.loaders import load
from footnotes.ingest.model import Document

PYTHON = Path("/usr/share/doc/python3.11/html/_sources")
KERNEL = Path("/usr/share/doc/linux-doc-6.1/html/_sources")
_TUTORIAL = (
    "appetite classes controlflow datastructures errors floatingpoint inputoutput "
    "interpreter introduction modules stdlib venv"
)
_PYTHON_PAGES = (
    "library/os.path library/json library/functools library/venv howto/logging "
    "faq/programming reference/compound_stmts using/cmdline glossary"
)
_KERNEL_PAGES = (
    "admin-guide/README admin-guide/sysrq process/submitting-patches process/coding-style "
    "core-api/kobject filesystems/proc dev-tools/kasan networking/bonding doc-guide/sphinx "
    "kbuild/kconfig userspace-api/media/v4l/vidioc-g-fmt admin-guide/cgroup-v2 "
    "filesystems/ext4/journal RCU/Design/Data-Structures/Data-Structures core-api/kernel-api"
)
SAMPLE = [
    *(PYTHON / "tutorial" / f"{n}.rst.txt" for n in _TUTORIAL.split()),
    *(PYTHON / f"{n}.rst.txt" for n in _PYTHON_PAGES.split()),
    *(KERNEL / f"{n}.rst.txt" for n in _KERNEL_PAGES.split()),
]
"""36 files: the whole tutorial but its index pages, library reference, how-to, FAQ,
language reference, command line and glossary pages, and kernel guides of each kind
(tables in list-table, figures with captions among them)."""

NOT_PROSE = frozenset(
    [
        "toctree",
        "include",
        "literalinclude",
        "kernel-include",
        "image",
        "raw",
        "index",
        "highlight",
        "tabularcolumns",
        "meta",
        "contents",
        "sectnum",
        "kernel-doc",
        "kernel-abi",
        "kernel-feat",
        "cssclass",
        "currentmodule",
        "module",
        "moduleauthor",
        "sectionauthor",
        "title",
        "default-role",
        "role",
        "c:namespace",
    ]
)
"""Directives whose argument and body are not prose a reader reads."""
# Directives whose argument is a language, a condition, a path or a group name.
_NAME_ARGUMENT = frozenset(
    [
        "code-block",
        "code",
        "sourcecode",
        "only",
        "ifconfig",
        "figure",
        "kernel-figure",
        "kernel-render",
        "productionlist",
        "doctest",
        "testcode",
        "testsetup",
        "testcleanup",
        "testoutput",
    ]
)
# Directives with no argument: text on their first line is the start of the body.
_NO_ARGUMENT = frozenset(
    [
        "note",
        "warning",
        "tip",
        "important",
        "attention",
        "caution",
        "danger",
        "error",
        "hint",
        "seealso",
        "admonition",
    ]
)
_EXPLICIT = re.compile(r"(\s*)\.\.(?:\s|$)")
_DIRECTIVE = re.compile(r"(\s*)\.\.\s+([\w:+.-]+)::")
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+\s*")
_WORD = re.compile(r"\w+")
_LIST = re.compile(r"\s*(?:[-*+\u2022]|\d+[.)]|#\.|\(?[a-zA-Z0-9]\))\s")
_FIELD = re.compile(r"\s*:[^:\s][^:]*:(?:\s|$)")
_TABLE = re.compile(r"\s*(?:[+|]|=+\s+=)")


@dataclass
class _Explicit:
    """An open explicit markup block: its indentation and what its lines are."""

    indent: int
    kind: str  # "skip", or the kind its body lines count as ("body:note", "footnote")
    name: str = ""
    state: str = "body"  # directive: "arg", "options", then "body"


def classify(text: str) -> list[tuple[int, int, str]]:
    """Every word of ``text`` as ``(start, end, kind)``; kind "" is not prose."""
    out: list[tuple[int, int, str]] = []
    stack: list[_Explicit] = []
    literal_indent: int | None = None  # inside a literal block: the paragraph's indent
    pos = 0
    for raw in text.splitlines(keepends=True):
        start, pos = pos, pos + len(raw)
        line = raw.rstrip("\r\n")
        indent = len(line) - len(line.lstrip())
        blank = not line.strip()
        if not blank:
            while stack and indent <= stack[-1].indent:
                stack.pop()
            if literal_indent is not None and indent <= literal_indent:
                literal_indent = None
        kind = ""
        explicit = _EXPLICIT.match(line)
        if blank:
            if stack and stack[-1].state in ("arg", "options"):
                stack[-1].state = "body"
            continue
        if explicit:
            directive = _DIRECTIVE.match(line)
            outer_skip = any(e.kind == "skip" for e in stack)
            if directive:
                name = directive.group(2).lower()
                skip = outer_skip or name in NOT_PROSE
                block = _Explicit(indent, "skip" if skip else f"body:{name}", name, "arg")
                stack.append(block)
                rest = start + directive.end()
                if not skip and name not in _NAME_ARGUMENT:
                    kind = f"body:{name}" if name in _NO_ARGUMENT else f"arg:{name}"
                _words(text, rest, pos, kind, out)
                continue
            after = line[explicit.end() :]
            if re.match(r"\[[^\]]+\]\s", after) and not outer_skip:
                stack.append(_Explicit(indent, "footnote"))
                label = start + explicit.end() + after.index("]") + 1
                _words(text, label, pos, "footnote", out)
            else:  # a comment, target, or substitution definition
                stack.append(_Explicit(indent, "skip"))
            continue
        if stack:
            block = stack[-1]
            if any(e.kind == "skip" for e in stack):
                kind = ""
            elif block.state in ("arg", "options") and _FIELD.match(line):
                block.state = "options"
                kind = ""
            elif block.state == "options":
                kind = ""  # an option's value continued
            elif block.state == "arg" and block.name not in _NO_ARGUMENT:
                kind = "" if block.name in _NAME_ARGUMENT else f"arg:{block.name}"
            else:
                block.state = "body"
                kind = _shape(line, literal_indent, block.kind)
        else:
            kind = _shape(line, literal_indent, "paragraph")
        if _ADORNMENT.fullmatch(line):
            kind = ""
        if literal_indent is None and line.rstrip().endswith("::") and kind:
            literal_indent = indent
        _words(text, start, pos, kind, out)
    return out


def _shape(line: str, literal_indent: int | None, default: str) -> str:
    if literal_indent is not None:
        return "literal"
    if _LIST.match(line):
        return "list"
    if _TABLE.match(line):
        return "table"
    if _FIELD.match(line):
        return "field"
    return default


def _words(text: str, start: int, end: int, kind: str, out: list[tuple[int, int, str]]) -> None:
    out.extend((m.start(), m.end(), kind) for m in _WORD.finditer(text, start, end))


def kept(document: Document) -> bytearray:
    """1 for each character of the document's text that lies in a block."""
    inside = bytearray(len(document.text))
    for b in document.blocks:
        inside[b.start : b.end] = b"\x01" * (b.end - b.start)
    return inside


@dataclass
class Figures:
    words: Counter[str]
    survived: Counter[str]
    dropped_lines: list[str]
    noise: int  # words that are not prose, in the loaded blocks


def measure(path: Path) -> Figures:
    """The prose words of ``path`` by kind, those in the loaded blocks, and the lines that
    hold dropped ones."""
    document = load(path, path.name)
    inside = kept(document)
    words: Counter[str] = Counter()
    survived: Counter[str] = Counter()
    lost_lines: dict[int, None] = {}
    noise = 0
    for a, b, kind in classify(document.text):
        if not kind:
            noise += all(inside[a:b])
            continue
        words[kind] += 1
        if all(inside[a:b]):
            survived[kind] += 1
        else:
            lost_lines[document.text.rfind("\n", 0, a) + 1] = None
    text = document.text
    lines = [text[s : (text.find("\n", s) + 1 or len(text) + 1) - 1] for s in lost_lines]
    return Figures(words, survived, lines, noise)


def _share(survived: int, words: int) -> str:
    return f"{survived / words:.3f}" if words else "  -  "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--kinds", action="store_true", help="figures per kind of text")
    parser.add_argument("--dropped", type=int, default=0, metavar="N", help="dropped lines")
    args = parser.parse_args(argv)
    files = args.files or [p for p in SAMPLE if p.exists()]
    if not files:
        print("no files: install python3.11-doc and linux-doc-6.1, or name files", file=sys.stderr)
        return 2
    total_words: Counter[str] = Counter()
    total_survived: Counter[str] = Counter()
    noise = 0
    print(f"{'file':52} {'prose words':>11} {'kept':>7} {'share':>6} {'not prose kept':>14}")
    for path in files:
        figures = measure(path)
        total_words.update(figures.words)
        total_survived.update(figures.survived)
        noise += figures.noise
        w, s = sum(figures.words.values()), sum(figures.survived.values())
        name = "/".join(path.parts[-3:]).removesuffix(".rst.txt")
        print(f"{name[-52:]:52} {w:11} {s:7} {_share(s, w):>6} {figures.noise:14}")
        for line in figures.dropped_lines[: args.dropped]:
            print(f"    dropped: {line.strip()[:100]}")
    w, s = sum(total_words.values()), sum(total_survived.values())
    print(f"{f'all {len(files)} files':52} {w:11} {s:7} {_share(s, w):>6} {noise:14}")
    if args.kinds:
        print(f"\n{'kind':30} {'prose words':>11} {'kept':>7} {'share':>6}")
        for kind, n in total_words.most_common():
            print(f"{kind:30} {n:11} {total_survived[kind]:7} {_share(total_survived[kind], n):>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
