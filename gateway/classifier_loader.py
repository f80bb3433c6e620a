"""Load the effort classifier named by the policy and adapt it to the gateway's ``Classifier`` callable."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from gateway.classifier_artifact import load_classifier
from gateway.state import Classifier
from router.classifier import Reading, choose_effort, follow_alpha, reading_of
from router.conversation import leaning, read_latest
from router.effort import Effort
from router.policy import Policy

# Answers (effort, scores, reason) kept per classifier, by what the classifier reads (what
# router.conversation.read_latest returns, from which router.classifier.reading_of makes the Reading;
# read_latest reads only the messages it comes from). The steps of an agent task resend the same
# latest user turn and context, so every step after the first skips the classifier (~0.25 ms of the ~1.2 ms
# of gateway CPU an 85 KB trajectory step costs, benchmarks/RESULTS.md).
# Bounded twice: this many entries, and only readings up to _CACHED_CHARS characters (so at most a few MB).
_CACHED_READINGS = 1024
_CACHED_CHARS = 8192


def load_default_classifier(policy: Policy) -> Classifier:
    """The policy's classifier (packaged artifact unless ``classifier.artifact`` names one).

    Raises :class:`router.classifier.ArtifactError` at startup when the artifact cannot be used: a gateway
    that silently fell back to ``on_error`` for every request would hide a broken deployment.
    """
    model = load_classifier(policy.classifier.artifact)
    thresholds = policy.classifier.thresholds

    def answer(reading: Reading) -> tuple[Effort, dict[str, float], str]:
        prediction = model.predict_reading(reading)
        effort, reason = choose_effort(prediction, thresholds)
        scores = {"p_think": round(prediction.p_think, 4)}
        scores.update({level: round(p, 4) for level, p in prediction.levels.items()})
        return effort, scores, reason

    # the whole answer is kept, not only the prediction: choose_effort and the rounded scores were ~8 us of
    # the ~15 us a cached step still spent here (2026-12-07). The key is the Reading's fields as a plain
    # tuple: the record is built only on a miss, and a hit hashes and compares the tuple in C (no record,
    # generated __hash__ and __eq__ per request: benchmarks/RESULTS.md "Hot path, session 12, request side").
    @lru_cache(maxsize=_CACHED_READINGS)
    def cached(latest: str, context: str, alpha: float, tools: bool) -> tuple[Effort, dict[str, float], str]:
        return answer(Reading(latest, context, alpha, tools))

    lean = lru_cache(maxsize=_CACHED_READINGS)(leaning)  # ~3 us of regex and sets per step otherwise

    def classify(messages: list[Any], tools: bool) -> tuple[Effort, dict[str, float], str]:
        latest, context, other_turns = read_latest(messages)
        if len(latest) + len(context) > _CACHED_CHARS:
            return answer(reading_of(latest, context, other_turns, bool(tools)))
        alpha = follow_alpha(latest, context, other_turns, lean)  # reading_of's, the weight kept by text
        effort, scores, reason = cached(latest, context, alpha, bool(tools))
        return effort, dict(scores), reason  # the caller's own dict: the kept one stays as computed

    return classify
