"""The ``footnotes`` command. Builds :class:`Settings`, wires the services, and
turns :class:`FootnotesError` into a one-line message and a non-zero exit.

Heavy libraries (torch, chromadb, llama-index) load inside the commands that
need them, so ``footnotes --help`` answers at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from footnotes.errors import FootnotesError, InputError
from footnotes.settings import Settings

app = typer.Typer(
    name="footnotes",
    help="Answers from your documents, every claim cited to the exact sentence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="Store folder (env FOOTNOTES_STORE).")
]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", help="Collection (env FOOTNOTES_COLLECTION).")
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--chroma-url", help="Chroma server URL; empty = embedded (env FOOTNOTES_CHROMA_URL)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EmbedOpt = Annotated[
    str | None,
    typer.Option(
        "--embed-model", help="sentence-transformers name or folder (env FOOTNOTES_EMBED_MODEL)."
    ),
]

LlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="Who writes answers: openai (any OpenAI-compatible server), ollama, or '' for "
        "quoted sentences (env FOOTNOTES_LLM). The key comes from FOOTNOTES_LLM_API_KEY.",
    ),
]
LlmUrlOpt = Annotated[
    str | None,
    typer.Option("--llm-url", help="Model server: base URL ending in /v1, or Ollama's (env "
                 "FOOTNOTES_LLM_URL)."),
]  # fmt: skip
LlmModelOpt = Annotated[
    str | None, typer.Option("--llm-model", help="Model name (env FOOTNOTES_LLM_MODEL).")
]
LlmTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--llm-timeout", help="Seconds for the model's answer (env FOOTNOTES_LLM_TIMEOUT)."
    ),
]
LlmUnsupportedOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-unsupported",
        help="A written sentence its sources do not support: drop or flag "
        "(env FOOTNOTES_LLM_UNSUPPORTED).",
    ),
]


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI options given taking precedence."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        _fail(f"invalid setting {field}: {first['msg']}")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"footnotes: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (walked recursively).")],
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
    embed_model: EmbedOpt = None,
    passage_words: Annotated[
        int | None, typer.Option("--passage-words", help="Target passage size in words.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync files into the store: add new, update changed, remove deleted; embed only changes."""
    settings = build_settings(
        store=store,
        collection=collection,
        chroma_url=chroma_url,
        passage_words=passage_words,
        embed_model=embed_model,
    )
    try:
        from footnotes.index.embedding import load_embedding
        from footnotes.index.replica import Replica
        from footnotes.index.store import Store
        from footnotes.index.sync import Ingestor
        from footnotes.ingest.worker import make_parser

        replica = Replica.open(Store.from_settings(settings), settings)
        with make_parser(settings) as parser:
            ingestor = Ingestor(replica, lambda: load_embedding(settings), settings, parser)
            with _progress(enabled=not as_json and sys.stderr.isatty()) as progress:
                report = ingestor.sync(paths, progress=progress)
    except FootnotesError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "counts": report.counts,
                    "embedded": report.embedded,
                    "files": [asdict(o) for o in report.outcomes],
                },
                ensure_ascii=False,
            )
        )
    else:
        for o in report.outcomes:
            if o.status in ("failed", "skipped"):
                typer.echo(f"{o.status}: {o.reason}", err=True)
        typer.echo(
            ", ".join(f"{n} {k}" for k, n in report.counts.items())
            + f"; {report.embedded} sentences embedded"
        )
    if not report.ok:
        raise typer.Exit(1)


class _progress:
    """A rich progress bar on a terminal, nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("files"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[embedded]} sentences embedded, {task.fields[rate]}/s"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("ingest", total=None, embedded=0, rate="-")
        return self.update

    def update(self, files_done: int, files: int, embedded: int) -> None:
        task = self._bar.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = f"{embedded / elapsed:.1f}" if elapsed > 0 and embedded else "-"
        self._bar.update(
            self._task, completed=files_done, total=files, embedded=embedded, rate=rate
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


@app.command()
def docs(
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the documents in the collection."""
    settings = build_settings(store=store, collection=collection, chroma_url=chroma_url)
    try:
        from footnotes.index.store import Store

        records = Store.from_settings(settings, create=False).list_documents()
    except FootnotesError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([r.public() for r in records], ensure_ascii=False))
        return
    for r in records:
        pages = f"{r.pages} pages, " if r.pages else ""
        typer.echo(
            f"{r.id}\t{r.title}\t{r.format}\t{pages}{r.passages} passages\t"
            f"{r.content_hash[:12]}\t{r.ingested_at}"
        )


@app.command()
def remove(
    ids: Annotated[list[str], typer.Argument(help="Document ids, as `footnotes docs` lists them.")],
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
) -> None:
    """Remove documents and all their passages."""
    settings = build_settings(store=store, collection=collection, chroma_url=chroma_url)
    try:
        from footnotes.index.replica import Replica
        from footnotes.index.store import Store

        target = Replica.open(Store.from_settings(settings, create=False), settings)
        missing = [i for i in ids if not target.remove(i)]
    except FootnotesError as exc:
        _fail(str(exc))
    typer.echo(f"removed {len(ids) - len(missing)}")
    if missing:
        _fail(f"not in collection {settings.collection!r}: {', '.join(missing)}", code=1)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch", help="JSON lines of {question, history?}; one answer per line out."
        ),
    ] = None,
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
    embed_model: EmbedOpt = None,
    llm: LlmOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_unsupported: LlmUnsupportedOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the documents, citing the sentences used.

    With a language model (--llm), its words show as it writes them on a terminal,
    then the checked answer replaces them."""
    if (question is None) == (batch is None):
        _fail("give a QUESTION or --batch FILE (one of them)")
    settings = build_settings(
        store=store, collection=collection, chroma_url=chroma_url, embed_model=embed_model,
        llm=llm, llm_url=llm_url, llm_model=llm_model, llm_timeout=llm_timeout,
        llm_unsupported=llm_unsupported,
    )  # fmt: skip
    try:
        from footnotes.index.ask import Asker, parse_request
        from footnotes.index.jsonl import at, read_json_lines

        asker = Asker.from_settings(settings)
        if batch is None:
            assert question is not None
            events = asker.ask_stream(question)
            answer = _answer_of(events, live=not as_json and sys.stdout.isatty())
            if as_json:
                typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
            else:
                typer.echo(render_text(answer.to_dict()))
            return
        # Read a line, answer it, print it: a bad line stops the batch with FILE:N: reason.
        for number, row in read_json_lines(batch, settings.max_body_kb * 1024):
            try:
                answer = asker.ask(*parse_request(row))
            except InputError as exc:
                raise at(batch, number, exc) from exc
            typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    except FootnotesError as exc:
        _fail(str(exc))


def _answer_of(events: Iterator[Any], live: bool) -> Any:
    """The final answer of ``events``; on a terminal (``live``), the model's words are shown
    as they arrive and cleared when the checked answer is ready."""
    from footnotes.index.answer import Answer, Delta

    if not live:
        return next(e for e in events if isinstance(e, Answer))
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    written = Text(style="dim")
    answer = None
    with Live(written, console=Console(), transient=True, refresh_per_second=12) as view:
        for event in events:
            if isinstance(event, Delta):
                written.append(event.text)
                view.update(written)
            else:
                answer = event
    return answer


@app.command("eval")
def evaluate(
    questions: Annotated[
        Path,
        typer.Argument(help="JSON lines: question, answers?, gold?, answerable?, history?, pages?"),
    ],
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
    embed_model: EmbedOpt = None,
    llm: LlmOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_unsupported: LlmUnsupportedOpt = None,
    as_json: JsonOpt = False,
    show_misses: Annotated[
        bool, typer.Option("--misses", help="List the rows that missed.")
    ] = False,
) -> None:
    """Measure answers against a question set (ingests nothing)."""
    settings = build_settings(
        store=store, collection=collection, chroma_url=chroma_url, embed_model=embed_model,
        llm=llm, llm_url=llm_url, llm_model=llm_model, llm_timeout=llm_timeout,
        llm_unsupported=llm_unsupported,
    )  # fmt: skip
    try:
        from footnotes.index.ask import Asker
        from footnotes.index.evaluate import evaluate as run_eval
        from footnotes.index.evaluate import load_rows

        rows = load_rows(questions, settings)
        report = run_eval(Asker.from_settings(settings), rows)
    except FootnotesError as exc:
        _fail(str(exc))
    summary = report.summary()
    if as_json:
        summary["rows"] = [
            {
                "question": r.row.question,
                "answered": r.answer.answered,
                "answerable": r.row.answerable,
                "contains": r.contains,
                "cited": r.cited,
                "page_hit": r.page_hit,
                "latency_ms": round(r.latency_ms, 1),
                "answer": r.answer.answer,
            }
            for r in report.rows
        ]
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        typer.echo(f"{key:<{width}}  {'-' if value is None else value}")
    if show_misses:
        for r in report.rows:
            wrong = (r.row.answerable != r.answer.answered) or False in (
                r.contains,
                r.cited,
                r.page_hit,
            )
            if wrong:
                typer.echo(
                    f"MISS {r.row.question!r} answered={r.answer.answered}: {r.answer.answer[:200]}"
                )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (env FOOTNOTES_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env FOOTNOTES_PORT).")] = None,
    root_path: Annotated[
        str | None,
        typer.Option("--root-path", help="Sub-path, e.g. /qa (env FOOTNOTES_ROOT_PATH)."),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(help="UI logins user:password[,...] or a file of them (env FOOTNOTES_AUTH)."),
    ] = None,
    allow_unauthenticated: Annotated[
        bool | None,
        typer.Option("--allow-unauthenticated", help="Allow a non-loopback bind with no auth."),
    ] = None,
    store: StoreOpt = None,
    collection: CollectionOpt = None,
    chroma_url: UrlOpt = None,
    embed_model: EmbedOpt = None,
    llm: LlmOpt = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_unsupported: LlmUnsupportedOpt = None,
) -> None:
    """Serve the chat and the HTTP API (FOOTNOTES_API_TOKEN protects /api)."""
    import os

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    settings = build_settings(
        store=store,
        collection=collection,
        chroma_url=chroma_url,
        embed_model=embed_model,
        host=host,
        port=port,
        root_path=root_path,
        auth=auth,
        allow_unauthenticated=allow_unauthenticated,
        llm=llm,
        llm_url=llm_url,
        llm_model=llm_model,
        llm_timeout=llm_timeout,
        llm_unsupported=llm_unsupported,
    )
    try:
        from footnotes.ui.server import serve as run_server

        run_server(settings)
    except FootnotesError as exc:
        _fail(str(exc))


def render_text(answer: dict[str, Any]) -> str:
    """The answer and its sources, for a terminal: a notice first, sentences left out
    (not supported by their sources) after the answer."""
    lines = [f"note: {answer['notice']}", ""] if answer.get("notice") else []
    lines += [answer["answer"], ""]
    for s in answer.get("sentences", []):
        if s["dropped"] and answer["answered"]:
            lines.append(f"left out, not supported: \u201c{s['text']}\u201d ({s['reason']})")
    if lines[-1] != "":
        lines.append("")
    for c in answer["citations"] or answer.get("related", []):
        where = f", p. {c['page']}" if c["page"] else (f", {c['section']}" if c["section"] else "")
        label = f"[{c['n']}]" if answer["answered"] else "related:"
        lines.append(
            f"{label} {c['title']} ({c['document']}{where}, chars {c['start']}-{c['end']})"
        )
        lines.append(f"    \u201c{c['quote'][:300]}\u201d")
    return "\n".join(lines).rstrip()


def main() -> None:
    """Console entry point. pypdf logs a warning for each oddity of a malformed PDF (which
    then fails with its one-line reason, or reads fine): only its errors are shown."""
    import logging

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
