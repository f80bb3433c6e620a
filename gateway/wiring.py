"""The composition root: build a gateway's parts from settings and a policy.

:func:`build_state` makes the frozen :class:`GatewayState` (pools, API keys); :class:`SharedState` wires the
shared-state pieces — the limiter, the policy manager, the runtime API keys and the stored ``/v1/responses``,
in memory or on Redis. :func:`gateway.app.create_app` calls both; nothing below this module imports it (it
sits at the top, so ``limits``, ``reload`` and ``store`` never import each other through it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.anthropic.signature import ThinkingSigner
from gateway.auth import KeyStore, RuntimeKeys
from gateway.backends.pool import Pool
from gateway.episodes import EpisodeLedger
from gateway.limits import Limiter
from gateway.metrics import GatewayMetrics
from gateway.reload import PolicyManager, PolicyVersion, policy_text
from gateway.responses.redis_store import RedisResponses
from gateway.responses.store import MemoryResponses, ResponseStore
from gateway.settings import Settings
from gateway.state import GatewayState, LiveState
from gateway.store.breaker import CircuitBreaker
from gateway.store.episodes import EpisodeStore, MemoryEpisodes, RedisEpisodes
from gateway.store.keys import KeyBackend, KeyManager, MemoryKeys, RedisKeys
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisPolicyStore, RedisStore, connect
from router.limits import check_names
from router.policy import Policy


def thinking_signer(policy: Policy) -> ThinkingSigner:
    """The signer of ``/v1/messages`` thinking blocks: the secret in the variable that
    ``messages.signing_secret_env`` names, else a random one for this process (read at startup; a policy
    reload keeps the signer)."""
    secret = os.environ.get(policy.messages.signing_secret_env)
    if not secret:
        return ThinkingSigner.ephemeral()
    try:
        return ThinkingSigner(secret.encode("utf-8"))
    except ValueError as exc:
        raise ValueError(f"${policy.messages.signing_secret_env}: {exc}") from None


def build_state(settings: Settings, policy: Policy) -> GatewayState:
    """The container a new app starts with (the classifier and token counter are added in its lifespan)."""
    return GatewayState(
        signer=thinking_signer(policy),
        settings=settings,
        policy=policy,
        metrics=GatewayMetrics(),
        pools={name: Pool.build(name, spec) for name, spec in policy.backends.items()},
        keys=KeyStore(policy.auth, os.environ),
    )


class _KeepingRuntimeKeys(PolicyManager):
    """A policy manager whose new key stores keep accepting the runtime keys."""

    def __init__(self, runtime: RuntimeKeys, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime

    def _apply(
        self, version: int, text: str, source: str, policy: Policy, keys: KeyStore, origin: str
    ) -> None:
        keys.attach(self.runtime)
        super()._apply(version, text, source, policy, keys, origin)


@dataclass
class SharedState:
    """What an app holds for limits and hot reload (``app.state.shared``)."""

    limiter: Limiter
    policies: PolicyManager
    keys: KeyManager
    responses: ResponseStore
    episodes: EpisodeLedger

    @classmethod
    def build(cls, live: LiveState, path: str | None) -> SharedState:
        """For the policy in use; ``path`` is the policy file to watch (``None``: the policy was passed in).
        Nothing connects yet: Redis is reached lazily, the tasks start in :meth:`start`."""
        state = live.current
        policy = state.policy
        check_names(policy.limits, {k.name for k in policy.auth.keys}, set(policy.auth.tenants))
        text = Path(path).read_text(encoding="utf-8") if path is not None else policy_text(policy)
        cfg = policy.state
        breaker = CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset)
        shared: RedisPolicyStore | None = None
        backend: KeyBackend
        responses: ResponseStore
        episodes: EpisodeStore
        if cfg.redis_url:
            client = connect(cfg.redis_url, cfg.timeout)
            limiter = Limiter(RedisStore(client, cfg.prefix, cfg.timeout), breaker, state.metrics)
            shared = RedisPolicyStore(client, cfg.prefix, cfg.timeout)
            backend = RedisKeys(client, cfg.prefix, cfg.timeout)
            runtime = RuntimeKeys(fail_closed=cfg.on_redis_error == "closed", loaded=False)
            responses = RedisResponses(client, cfg.prefix, cfg.timeout, cfg.responses_ttl)
            episodes = RedisEpisodes(client, cfg.prefix, cfg.timeout)
        else:
            limiter = Limiter(MemoryStore(), breaker, state.metrics)
            backend = MemoryKeys()
            runtime = RuntimeKeys()
            responses = MemoryResponses(
                cfg.responses_ttl, cfg.responses_max, max_bytes=cfg.responses_max_bytes
            )
            episodes = MemoryEpisodes()
        state.keys.attach(runtime)
        source = path or "startup"
        manager = _KeepingRuntimeKeys(runtime, live, PolicyVersion(1, text, source, policy), path, shared)
        ledger = EpisodeLedger(episodes, limiter)
        return cls(limiter, manager, KeyManager(backend, runtime), responses, ledger)

    async def start(self) -> None:
        await self.keys.start()
        await self.policies.start()

    async def stop(self) -> None:
        await self.keys.stop()
        await self.policies.stop()
        await self.responses.close()
        await self.episodes.drain()
        await self.limiter.close()
