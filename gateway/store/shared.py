"""Wire the shared-state pieces for one app: the limiter and the policy manager, in memory or on Redis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.limits import Limiter
from gateway.reload import PolicyManager, PolicyVersion, policy_text
from gateway.state import GatewayState
from gateway.store.breaker import CircuitBreaker
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisPolicyStore, RedisStore, connect
from router.limits import check_names


@dataclass
class SharedState:
    """What an app holds for limits and hot reload (``app.state.shared``)."""

    limiter: Limiter
    policies: PolicyManager

    @classmethod
    def build(cls, state: GatewayState, path: str | None) -> SharedState:
        """For ``state.policy``; ``path`` is the policy file to watch (``None``: the policy was passed in).
        Nothing connects yet: Redis is reached lazily, the tasks start in :meth:`start`."""
        policy = state.policy
        check_names(policy.limits, {k.name for k in policy.auth.keys}, set(policy.auth.tenants))
        text = Path(path).read_text(encoding="utf-8") if path is not None else policy_text(policy)
        cfg = policy.state
        breaker = CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset)
        shared: RedisPolicyStore | None = None
        if cfg.redis_url:
            client = connect(cfg.redis_url, cfg.timeout)
            limiter = Limiter(RedisStore(client, cfg.prefix, cfg.timeout), breaker, state.metrics)
            shared = RedisPolicyStore(client, cfg.prefix, cfg.timeout)
        else:
            limiter = Limiter(MemoryStore(), breaker, state.metrics)
        source = path or "startup"
        manager = PolicyManager(state, PolicyVersion(1, text, source, policy), path, shared)
        return cls(limiter, manager)

    async def start(self) -> None:
        await self.policies.start()

    async def stop(self) -> None:
        await self.policies.stop()
        await self.limiter.close()
