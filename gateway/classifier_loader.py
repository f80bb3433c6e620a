"""Load the packaged effort classifier and adapt it to the gateway's ``Classifier`` callable."""

from __future__ import annotations

import logging

from gateway.state import Classifier
from router.policy import Policy

log = logging.getLogger("thinkgate.classifier")


def load_default_classifier(policy: Policy) -> Classifier | None:
    """The packaged classifier, or ``None`` (then ``classifier.on_error`` decides) if none is available."""
    return None
