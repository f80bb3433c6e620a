"""The pinned public repositories the effort classifier's corpus is read from.

Each is a snapshot under ``/work/.mirror`` (brought there with the session's ``fetch`` tool), read at one
fixed commit through ``git`` (``PINS``): nothing is downloaded here, and the same commits give the same
corpus.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

MIRRORS = Path("/work/.mirror")

#: repository -> pinned commit
PINS = {
    "kojima-takeshi188/zero_shot_cot": "5ef330fcdeec0cd26aee27943504f91f8ec1c33c",
    "openai/human-eval": "6d43fb980f9fee3c892a914eda09951f772ad10d",
    "YJiangcm/FollowBench": "6278f4c1377b4eafab737267b8b21acd52ea0e52",
    "allenai/fermi": "dfd4ceec41ef5fa0fe63e24c6027f13730d39a36",
    "zhongwanjun/AR-LSAT": "41f78ca7be3e24602b694b9d6b78105fc0c8bfc6",
    "1171-jpg/BrainTeaser": "4d164df75ba95682758248727bfc9d2746e598b7",
    "clinc/oos-eval": "828f8093932c8fe6ca7936c3d2e52903b1c523de",
    "gunthercox/chatterbot-corpus": "a01efece26661309b870af0251d96f94ee09fb19",
    "zhangir-azerbayev/ProofNet": "509ad79710ed4f46ff5c282ed5640c1aa9ac3f30",
    "neenza/leetcode-problems": "16c26d1bcfdc17a0290f7083e86c4e9387b2e248",
    "cglez/winograd": "4b72afc25466f78d5600b388ddcb8ed3a02fc993",
    "aiwaves-cn/agents": "e8c4e3c2d19739d3dff59e577d1c97090cc15f59",
    "Yale-LILY/FeTaQA": "bbc441be807212d736c8c35a18146b530dde11d0",
    "princeton-nlp/Collie": "efce1c882e995cca65e1244545167a95dba72df9",
    "google-research-datasets/natural-questions": "fb26a3073b1fe636c97302890a27b491d6530130",
    "frankxwang/probing-experiments": "b7eb5a9f55e266503b18778bd3b9c1c6b314aea1",
    "HaeChan0305/MLILAB-FedLLM": "d92730e8bacd7b3a61e551e015e40588e10234b4",
    # reserved evaluation sets, read only for de-duplication
    "suzgunmirac/BIG-Bench-Hard": "9ee07bd481feebf959a6b59d61ea57bdcf30964d",
    "lm-sys/FastChat": "0e6d3e4beaab66f4d3f93db72541a4abab8af28d",
    "ShotaSato0916/google-research-IFEval": "cd938816c8cf746207b9c60c303b0eacf45f506c",
    "deepseek-ai/DeepSeek-Coder": "2f9fd85927c669dae3c0fbb2d607274023af243e",
}


def show(repo: str, path: str) -> bytes:
    """The bytes of ``path`` at the pinned commit of ``repo``'s snapshot."""
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    if not git_dir.exists():
        raise SystemExit(f"missing snapshot of {repo} (bring it with the fetch tool): {git_dir}")
    out = subprocess.run(
        ["git", "-C", str(git_dir), "show", f"{PINS[repo]}:{path}"], capture_output=True, check=True
    )
    raw = out.stdout
    return gzip.decompress(raw) if path.endswith(".gz") else raw


def show_many(repo: str, paths: list[str]) -> list[bytes]:
    """The bytes of many files at the pinned commit, through one ``git cat-file --batch``."""
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    if not git_dir.exists():
        raise SystemExit(f"missing snapshot of {repo} (bring it with the fetch tool): {git_dir}")
    query = "".join(f"{PINS[repo]}:{path}\n" for path in paths).encode()
    out = subprocess.run(
        ["git", "-C", str(git_dir), "cat-file", "--batch"], input=query, capture_output=True, check=True
    ).stdout
    blobs: list[bytes] = []
    pos = 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) != 3:
            raise SystemExit(f"{repo}: {path} not found at {PINS[repo]}")
        size = int(header[2])
        blobs.append(out[end + 1 : end + 1 + size])
        pos = end + 1 + size + 1
    return blobs


def ls(repo: str, folder: str, recursive: bool = True) -> list[str]:
    """The paths under ``folder`` at the pinned commit (``recursive=False``: its direct entries only)."""
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    flags = ["-r"] if recursive else []
    return subprocess.run(
        ["git", "-C", str(git_dir), "ls-tree", *flags, "--name-only", PINS[repo], folder],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")[:-1]  # fmt: skip


def load_json(repo: str, path: str) -> Any:
    return json.loads(show(repo, path))


def load_jsonl(repo: str, path: str) -> list[Any]:
    return [json.loads(line) for line in show(repo, path).decode().splitlines() if line.strip()]
