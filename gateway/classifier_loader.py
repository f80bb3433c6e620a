"""Load the effort classifier named by the policy and adapt it to the gateway's ``Classifier`` callable."""

from __future__ import annotations

from typing import Any

from gateway.classifier_artifact import load_classifier
from gateway.state import Classifier
from router.classifier import choose_effort
from router.conversation import view_from_messages
from router.effort import Effort
from router.policy import Policy


def load_default_classifier(policy: Policy) -> Classifier:
    """The policy's classifier (packaged artifact unless ``classifier.artifact`` names one).

    Raises :class:`router.classifier.ArtifactError` at startup when the artifact cannot be used: a gateway
    that silently fell back to ``on_error`` for every request would hide a broken deployment.
    """
    model = load_classifier(policy.classifier.artifact)
    thresholds = policy.classifier.thresholds

    def classify(messages: list[Any], tools: bool) -> tuple[Effort, dict[str, float], str]:
        prediction = model.predict(view_from_messages(messages, tools=tools))
        effort, reason = choose_effort(prediction, thresholds)
        scores = {"p_think": round(prediction.p_think, 4)}
        scores.update({level: round(p, 4) for level, p in prediction.levels.items()})
        return effort, scores, reason

    return classify
