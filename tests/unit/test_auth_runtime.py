"""Runtime API keys in the key store: accepted like policy keys, compared in constant time, and the store's
bookkeeping (names and keys never taken twice) in memory."""

from __future__ import annotations

import contextlib
import hmac

import pytest

from gateway.auth import KeyStore, KeysUnavailable, RuntimeKey, RuntimeKeys, Unauthorized, digest
from gateway.store.keys import KeyConflict, KeyManager, KeyNotFound, MemoryKeys
from router.auth import AuthPolicy, KeySpec, TenantPolicy

POLICY_KEY = "sk-policy-0123456789abcdef"
RUNTIME_KEY = "sk-runtime-0123456789abcdef"
ORPHAN_KEY = "sk-orphan-0123456789abcdef"


def auth_policy() -> AuthPolicy:
    return AuthPolicy(
        enabled=True,
        keys=(KeySpec(name="file-key", tenant="team", sha256=digest(POLICY_KEY).hex()),),
        tenants={"team": TenantPolicy(), "small": TenantPolicy(max_budget=64)},
    )


def runtime_keys(**kwargs: bool) -> RuntimeKeys:
    runtime = RuntimeKeys(**kwargs)
    runtime.replace(
        (
            RuntimeKey("added", "small", digest(RUNTIME_KEY)),
            RuntimeKey("orphan", "gone", digest(ORPHAN_KEY)),  # its tenant left the policy
        )
    )
    return runtime


@pytest.mark.parametrize(
    ("key", "name", "tenant"),
    [(POLICY_KEY, "file-key", "team"), (RUNTIME_KEY, "added", "small")],
)
def test_policy_and_runtime_keys_are_accepted(key: str, name: str, tenant: str) -> None:
    store = KeyStore(auth_policy(), {}, runtime_keys())
    principal = store.authenticate(f"Bearer {key}")
    assert (principal.key_name, principal.tenant) == (name, tenant)


@pytest.mark.parametrize("key", [ORPHAN_KEY, "sk-unknown-0123456789abcdef", ""])
def test_unknown_keys_and_orphans_are_refused(key: str) -> None:
    store = KeyStore(auth_policy(), {}, runtime_keys())
    with pytest.raises(Unauthorized):
        store.authenticate(f"Bearer {key}")


def test_without_runtime_keys_only_policy_keys_work() -> None:
    store = KeyStore(auth_policy(), {})
    assert store.authenticate(f"Bearer {POLICY_KEY}").key_name == "file-key"
    with pytest.raises(Unauthorized):
        store.authenticate(f"Bearer {RUNTIME_KEY}")
    store.attach(runtime_keys())
    assert store.authenticate(f"Bearer {RUNTIME_KEY}").key_name == "added"


def test_every_candidate_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    store = KeyStore(auth_policy(), {}, runtime_keys())
    for key in (POLICY_KEY, RUNTIME_KEY, "sk-unknown-0123456789abcdef"):
        calls.clear()
        with contextlib.suppress(Unauthorized):
            store.authenticate(f"Bearer {key}")
        assert len(calls) == 3, key  # one policy key + two runtime keys, found or not


@pytest.mark.parametrize(
    ("fail_closed", "loaded", "error"),
    [(True, False, KeysUnavailable), (False, False, Unauthorized), (True, True, Unauthorized)],
)
def test_never_loaded_runtime_keys_follow_on_redis_error(
    fail_closed: bool, loaded: bool, error: type[Exception]
) -> None:
    runtime = RuntimeKeys(fail_closed=fail_closed, loaded=loaded)
    store = KeyStore(auth_policy(), {}, runtime)
    with pytest.raises(error):
        store.authenticate("Bearer sk-unknown-0123456789abcdef")
    assert store.authenticate(f"Bearer {POLICY_KEY}").key_name == "file-key"  # policy keys still work


def test_known_digest_covers_both_kinds() -> None:
    store = KeyStore(auth_policy(), {}, runtime_keys())
    assert store.known_digest(digest(POLICY_KEY)) and store.known_digest(digest(RUNTIME_KEY))
    assert not store.known_digest(digest("sk-unknown-0123456789abcdef"))
    assert store.policy_names == frozenset({"file-key"})


async def test_memory_manager_adds_lists_and_removes() -> None:
    cache = RuntimeKeys()
    manager = KeyManager(MemoryKeys(), cache)
    await manager.start()
    await manager.add(RuntimeKey("one", "team", digest("k1")))
    assert [k.name for k in cache.keys] == ["one"]
    with pytest.raises(KeyConflict, match="named 'one'"):
        await manager.add(RuntimeKey("one", "team", digest("k2")))
    with pytest.raises(KeyConflict, match="already in use"):
        await manager.add(RuntimeKey("two", "team", digest("k1")))
    await manager.remove("one")
    assert cache.keys == ()
    with pytest.raises(KeyNotFound):
        await manager.remove("one")
    await manager.stop()
