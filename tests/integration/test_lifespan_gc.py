"""The app freezes what it loaded at startup out of the garbage collector's view, and thaws it at shutdown."""

from __future__ import annotations

import gc

from gateway.app import create_app
from gateway.settings import Settings
from tests.harness import free_port, make_policy


async def test_startup_objects_are_frozen_for_the_apps_lifetime() -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # probes fail fast: nothing listens
    policy = make_policy(
        {"h": {"family": "qwen3", "mode": "hybrid", "model": "sim", "endpoints": [dead]}},
        {"auto": {"thinking": ["h"], "instruct": ["h"]}},
    )
    app = create_app(Settings(health_interval=60), policy)
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, policy, classifier artifact
        assert app.state.gateway.classifier is not None
    assert gc.get_freeze_count() == 0
