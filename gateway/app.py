"""The application factory. Nothing happens at import time: ``create_app`` builds, the lifespan connects."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import console
from gateway.api import admin, chat, completions, health, messages, models, openapi, responses, route
from gateway.classifier_loader import load_default_classifier
from gateway.config import load_policy
from gateway.errors import install_handlers
from gateway.fastpath import GatewayApp
from gateway.middleware import RequestIdMiddleware
from gateway.probes import probe_all, probe_forever
from gateway.render import check_families
from gateway.settings import Settings
from gateway.state import LiveState
from gateway.tokens import QWEN_TOKENIZER_FAMILIES, LocalCounter
from gateway.wiring import SharedState, build_state
from router.policy import Policy


def create_app(settings: Settings, policy: Policy | None = None) -> FastAPI:
    """Build the gateway app for a policy (or the file named by ``settings.config``)."""
    watch = settings.config if policy is None else None  # shared state (issue 6): hot reload of the file
    if policy is None:
        if settings.config is None:
            raise ValueError("no policy: pass one or set THINKGATE_CONFIG / --config")
        policy = load_policy(settings.config)
    check_families(policy)
    state = build_state(settings, policy)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        counter = None
        if any(spec.family in QWEN_TOKENIZER_FAMILIES for spec in policy.backends.values()):
            counter = LocalCounter.qwen3()
        live.swap(classifier=load_default_classifier(live.current.policy), local_counter=counter)
        for pool in state.pools.values():
            await pool.client.start()
        await probe_all(list(state.pools.values()), state.metrics)
        task = asyncio.create_task(
            probe_forever(list(state.pools.values()), state.metrics, settings.health_interval)
        )
        await shared.start()  # shared state (issue 6)
        # Everything loaded so far (classifier, policy, modules: ~100k objects) lives as long as the app.
        # Frozen, it is out of the collector's view: the rare full collections under load then walk only
        # what requests allocated, instead of stalling the event loop for 20-50 ms (measured on this box).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await shared.stop()  # shared state (issue 6)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for pool in state.pools.values():
                await pool.client.close()
            gc.unfreeze()

    app = GatewayApp(
        title="thinkgate", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.gateway = state
    live = LiveState(app.state)  # lifespan and policy reload swap the frozen container
    shared = SharedState.build(live, watch)  # shared state (issue 6): limits, quotas, policy reload
    app.state.shared = shared
    install_handlers(app, {messages.MESSAGES_PATH: messages.anthropic_error})
    app.add_middleware(RequestIdMiddleware)
    # The generation endpoints take the raw request and validate the body themselves, and skip the
    # framework's router and exception layers (gateway/fastpath.py): that is most of the per-request cost.
    # The middleware above runs for them exactly as for every other route.
    app.add_hot_route("/v1/chat/completions", chat.chat_completions)
    app.add_hot_route("/v1/completions", completions.completions)
    app.add_hot_route("/v1/responses", responses.create_response)
    app.add_hot_route(messages.MESSAGES_PATH, messages.messages)
    app.add_hot_route(messages.MESSAGES_PATH + "/count_tokens", messages.count_tokens)
    for module in (
        models,
        route,
        health,
        admin,
        responses,
        openapi,
    ):  # documented in gateway/openapi/operations.py
        app.include_router(module.router)
    console.install(app)  # the operator console at /console (gateway/console/)
    return app
