"""I/O for the effort classifier: read the packaged (or a given) artifact and labelled JSONL files.

The pure classifier lives in :mod:`router.classifier`; this module only reads bytes and hands the parsed data
over. Artifacts are JSON, optionally gzip-compressed (``.json.gz``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from router.classifier import ArtifactError, EffortClassifier
from router.train import DataError, Example, example_from_record
from router.word_vectors import WordVectors, WordVectorsError

#: The trained artifact shipped inside the ``router`` package.
PACKAGED_ARTIFACT = "artifacts/effort_classifier.json.gz"


def _decode(raw: bytes, name: str) -> dict[str, Any]:
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"classifier artifact {name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"classifier artifact {name} must hold a JSON object")
    return data


def read_artifact(path: str | Path | None = None) -> dict[str, Any]:
    """The parsed artifact at ``path``, or the packaged one when ``path`` is None."""
    if path is None:
        resource = resources.files("router").joinpath(PACKAGED_ARTIFACT)
        return _decode(resource.read_bytes(), f"router/{PACKAGED_ARTIFACT}")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read classifier artifact {p}: {exc.strerror or exc}") from exc
    return _decode(raw, str(p))


def load_classifier(path: str | Path | None = None) -> EffortClassifier:
    """Load the classifier from ``path`` (``None`` = the packaged artifact); raises :class:`ArtifactError`."""
    return EffortClassifier.from_artifact(read_artifact(path))


def read_word_vectors(path: str | Path) -> WordVectors:
    """Static word vectors for training from a ``.npz`` file with ``words`` (strings) and ``vectors`` (one
    row per word), as ``scripts/classifier/build_word_vectors.py`` writes it; raises :class:`DataError`."""
    import numpy as np

    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            words = tuple(str(w) for w in data["words"])
            vectors = np.asarray(data["vectors"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read word vectors {p}: {exc}") from exc
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    try:
        return WordVectors(words, vectors, source=f"{p.name} sha256:{digest[:16]}")
    except WordVectorsError as exc:
        raise DataError(f"word vectors {p}: {exc}") from exc


def write_artifact(data: dict[str, Any], path: str | Path) -> int:
    """Write an artifact (gzip when the name ends in ``.gz``); returns the number of bytes written."""
    p = Path(path)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    raw = gzip.compress(text, compresslevel=9, mtime=0) if p.name.endswith(".gz") else text
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(raw)
    return len(raw)


def _records(lines: Iterable[str], name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}:{number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise DataError(f"{name}:{number}: each line must be a JSON object")
        yield record


def _examples(records: Iterable[dict[str, Any]], name: str) -> list[Example]:
    out: list[Example] = []
    for number, record in enumerate(records, 1):
        try:
            out.append(example_from_record(record))
        except DataError as exc:
            raise DataError(f"{name}: record {number}: {exc}") from exc
    return out


def iter_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, one per non-blank line; raises :class:`DataError` with the line."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from exc
    with handle:
        yield from _records(handle, str(p))


def read_examples(path: str | Path) -> list[Example]:
    """All labelled examples of a JSONL file; a bad record raises :class:`DataError` naming its line."""
    return _examples(iter_records(path), str(path))


def examples_from_text(text: str, name: str = "upload") -> list[Example]:
    """All labelled examples of JSONL text (the console's uploads), checked like :func:`read_examples`."""
    return _examples(_records(text.splitlines(), name), name)
