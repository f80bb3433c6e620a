"""Policy hot reload: versions, rollback, the file watch and (with Redis) fan-out to every replica.

A new policy text is validated exactly as the policy file is (:func:`gateway.config.parse_policy_text`) and
must keep ``backends`` and ``state`` as they are (pools and the Redis connection are built at startup;
changing them needs a restart). Only then is it swapped in: ``state.policy``, the API keys, and the
classifier when its section changed — swapped in as a new frozen :class:`gateway.state.GatewayState` in one
assignment, so a request sees the old or the new policy, never a mix. A bad policy never replaces a good one.

With Redis the text and version live in a hash (:class:`gateway.store.redis.RedisPolicyStore`); a change is
published, and every replica re-reads the hash when it hears of a newer version (or after reconnecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway.auth import KeyStore
from gateway.classifier_loader import load_default_classifier
from gateway.config import PolicyFileError, parse_policy_text
from gateway.errors import GatewayError
from gateway.limits import StateUnavailable
from gateway.metrics import GatewayMetrics
from gateway.state import LiveState
from gateway.store.base import StoreError
from gateway.store.redis import RedisPolicyStore
from router.limits import check_names
from router.policy import Policy

log = logging.getLogger("thinkgate.policy")


class PolicyRejected(GatewayError):
    status = 400
    code = "invalid_policy"


class PolicyConflict(GatewayError):
    status = 409
    type = "conflict_error"
    code = "policy_conflict"


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """A policy in use: its number, text, where it came from, and the validated model."""

    version: int
    text: str
    source: str
    policy: Policy

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def policy_text(policy: Policy) -> str:
    """YAML text for a policy given as an object (tests, embedding); parses back to an equal policy."""
    return yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False)


def validate(text: str, source: str, running: Policy) -> tuple[Policy, KeyStore]:
    """Parse and check a candidate; raises :class:`PolicyRejected` (400) or :class:`PolicyConflict` (409)."""
    try:
        policy = parse_policy_text(text, source)
        check_names(policy.limits, {k.name for k in policy.auth.keys}, set(policy.auth.tenants))
        keys = KeyStore(policy.auth, os.environ)
    except (PolicyFileError, ValueError) as exc:
        raise PolicyRejected(str(exc)) from None
    for section in ("backends", "state"):
        if getattr(policy, section) != getattr(running, section):
            raise PolicyConflict(
                f"the new policy changes '{section}', which is fixed at startup (pools and the Redis "
                f"connection are built then); restart the gateway to change it. Nothing was changed."
            )
    return policy, keys


class PolicyManager:
    """The current and previous policy of one gateway, and the tasks that keep it up to date."""

    def __init__(
        self,
        live: LiveState,
        current: PolicyVersion,
        path: str | None = None,
        shared: RedisPolicyStore | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.live = live
        self.metrics: GatewayMetrics = live.current.metrics
        self.current = current
        self.previous: PolicyVersion | None = None
        self.path = path
        self.shared = shared
        self.poll_interval = poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self.metrics.policy_version.set(current.version)

    # -- changes -------------------------------------------------------------------------------------------

    def _apply(
        self, version: int, text: str, source: str, policy: Policy, keys: KeyStore, origin: str
    ) -> None:
        old = self.current
        classifier = self.live.current.classifier
        if classifier is not None and policy.classifier != old.policy.classifier:
            classifier = load_default_classifier(policy)
        # no await from here on: requests see the old or the new container, swapped in one assignment
        self.previous = old
        self.current = PolicyVersion(version, text, source, policy)
        self.live.swap(policy=policy, keys=keys, classifier=classifier)
        self.metrics.policy_version.set(version)
        self.metrics.policy_reloads.labels(origin, "applied").inc()
        log.info("policy version %d applied (from %s)", version, source)

    def _failed(self, origin: str, exc: GatewayError) -> None:
        outcome = "invalid" if isinstance(exc, PolicyRejected) else "refused"
        self.metrics.policy_reloads.labels(origin, outcome).inc()

    def _renumber(self, version: int) -> None:
        cur = self.current
        self.current = PolicyVersion(version, cur.text, cur.source, cur.policy)
        self.metrics.policy_version.set(version)

    async def put(self, text: str, source: str, origin: str = "admin") -> PolicyVersion:
        """Validate ``text`` and make it the next version (everywhere, with Redis)."""
        async with self._lock:
            try:
                policy, keys = validate(text, source, self.current.policy)
            except GatewayError as exc:
                self._failed(origin, exc)
                raise
            if text == self.current.text:
                return self.current
            version = self.current.version + 1
            if self.shared is not None:
                try:
                    version, _ = await self.shared.publish(text, source)
                except StoreError as exc:
                    raise StateUnavailable(f"policy not changed: shared state unavailable ({exc})") from None
            self._apply(version, text, source, policy, keys, origin)
            return self.current

    async def rollback(self) -> PolicyVersion:
        """Make the previous policy current again, as a new version number."""
        async with self._lock:
            if self.shared is None:
                prev = self.previous
                if prev is None:
                    raise PolicyConflict("no previous policy to roll back to", code="no_previous_policy")
                text, source, expected = prev.text, f"rollback to version {prev.version}", None
            else:
                try:
                    stored = await self.shared.read()
                except StoreError as exc:
                    raise StateUnavailable(f"policy not changed: shared state unavailable ({exc})") from None
                if stored is None or stored.prev_text is None:
                    raise PolicyConflict("no previous policy to roll back to", code="no_previous_policy")
                text, source = stored.prev_text, f"rollback to version {stored.prev_version}"
                expected = stored.version
            policy, keys = validate(text, source, self.current.policy)
            version = self.current.version + 1
            if self.shared is not None:
                try:
                    version, _ = await self.shared.publish(text, source, expected=expected)
                except StoreError as exc:
                    raise StateUnavailable(f"policy not changed: shared state unavailable ({exc})") from None
                if version < 0:
                    raise PolicyConflict("the policy changed while rolling back; look at it again and retry")
            self._apply(version, text, source, policy, keys, "rollback")
            return self.current

    async def sync(self) -> None:
        """Adopt the shared policy when it is newer than ours (or, at startup, store ours if none is)."""
        if self.shared is None:
            return
        async with self._lock:
            stored = await self.shared.read()
            if stored is None:  # the first replica: our policy becomes the shared one
                version, _ = await self.shared.publish(self.current.text, self.current.source)
                self._renumber(version)
                return
            if stored.text == self.current.text:
                self._renumber(stored.version)
                return
            try:
                policy, keys = validate(stored.text, stored.source, self.current.policy)
            except GatewayError as exc:
                self._failed("pubsub", exc)
                log.error("shared policy version %d not applied here: %s", stored.version, exc.message)
                return
            self._apply(stored.version, stored.text, stored.source, policy, keys, "pubsub")

    # -- background tasks ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.shared is not None:
            try:
                await self.sync()
            except StoreError as exc:
                log.warning("shared policy not read at startup (%s); will retry", exc)
            self._tasks.append(asyncio.create_task(self._listen()))
        if self.path is not None:
            self._tasks.append(asyncio.create_task(self._watch(self.path)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _listen(self) -> None:
        assert self.shared is not None
        while True:
            try:
                async for version in self.shared.versions():
                    if version == 0 or version != self.current.version:
                        await self.sync()
            except StoreError:
                await asyncio.sleep(self.poll_interval)

    async def _watch(self, path: str) -> None:
        def stamp() -> tuple[int, int] | None:
            try:
                st = os.stat(path)
            except OSError:
                return None
            return st.st_mtime_ns, st.st_size

        seen = stamp()
        while True:
            await asyncio.sleep(self.poll_interval)
            now = stamp()
            if now is None or now == seen:
                continue
            seen = now
            try:
                text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
                await self.put(text, path, origin="file")
            except OSError as exc:
                log.error("policy file %s not read: %s", path, exc.strerror)
            except GatewayError as exc:
                log.error("policy file %s changed but was not applied: %s", path, exc.message)
