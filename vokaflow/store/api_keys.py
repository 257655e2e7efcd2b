"""API keys: only their SHA-256 digests are stored, never the keys themselves.

Ownership goes by a principal's name and rights by its credential, so a name holds one role
for good: the first key or token seen with a name binds it, and credentials of the other
role with that name are refused. The built-in admin's name is an admin's from the start.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, replace

import redis.asyncio as aioredis

from vokaflow.domain.principal import Principal
from vokaflow.domain.priority import Priority
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

KEY_PREFIX = "vf_"
KEY_ID_CHARS = 12  # the shown id: a prefix of the key's digest, never the key itself
ADMIN_NAME = "admin"  # the built-in admin's principal, whose key `vokaflow up` keeps
MAX_NAME_CHARS = 128
# characters that do not show, or show as something else: "admin\u200b" would pass for admin
UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


class NameRefused(ValueError):
    """A principal's name that a credential of this role may not have."""


def check_principal(name: str, role: str) -> None:
    """Raises NameRefused for a name no credential of ``role`` may carry."""
    if not name.strip() or len(name) > MAX_NAME_CHARS or name != name.strip():
        raise NameRefused(
            f"a principal's name has 1 to {MAX_NAME_CHARS} characters, no space at its ends"
        )
    if any(unicodedata.category(char) in UNSEEN_CATEGORIES for char in name):
        raise NameRefused(
            "a principal's name may not hold control, format (zero-width, direction) or "
            "private-use characters"
        )
    if name == ADMIN_NAME and role != "admin":
        raise NameRefused(f"'{ADMIN_NAME}' is the built-in admin's name")


@dataclass(frozen=True)
class KeyInfo:
    """What `vokaflow keys list` shows of a key."""

    key_hash: str
    name: str
    role: str
    created_at: float
    revoked_at: float | None
    max_priority: Priority | None = None

    @property
    def key_id(self) -> str:
        return self.key_hash[:KEY_ID_CHARS]

    @classmethod
    def from_record(cls, key_hash: str, record: dict[str, str]) -> KeyInfo:
        revoked = record.get("revoked_at")
        return cls(
            key_hash=key_hash,
            name=record.get("name", ""),
            role=record.get("role", "user"),
            created_at=float(record.get("created_at") or 0.0),
            revoked_at=float(revoked) if revoked else None,
            max_priority=priority_cap(record.get("max_priority")),
        )


def priority_cap(stored: str | None) -> Priority | None:
    return Priority(stored) if stored else None


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    @redis_boundary
    async def create(
        self, name: str, role: str, created_at: float, max_priority: Priority | None = None
    ) -> str:
        api_key = new_api_key()
        await self.store(api_key, name, role, created_at, max_priority)
        return api_key

    @redis_boundary
    async def bound_role(self, name: str, role: str) -> str:
        """The role ``name`` holds: ``role`` when the name is new (it is bound now)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hsetnx(self.keys.principal_roles, name, role)
        pipe.hget(self.keys.principal_roles, name)
        _, bound = await pipe.execute()
        return str(bound)

    @redis_boundary
    async def bind_names_of_existing_keys(self) -> None:
        """Keys made before names held one role: bind each key's name, admins' first, so a
        user key that shares an admin's name is refused from now on."""
        infos = sorted(await self.all(), key=lambda info: info.role != "admin")
        pipe = self.redis.pipeline(transaction=False)
        for info in infos:
            pipe.hsetnx(self.keys.principal_roles, info.name, info.role)
        await pipe.execute()

    @redis_boundary
    async def principal_named(self, name: str) -> Principal:
        """The principal ``name`` is: its bound role; a user when no credential with that
        name was ever seen, but for the built-in admin's name."""
        bound = await self.redis.hget(self.keys.principal_roles, name)
        default = "admin" if name == ADMIN_NAME else "user"
        return Principal(name, str(bound or default))

    async def check_name(self, name: str, role: str) -> None:
        """Raises NameRefused unless a credential of ``role`` may be named ``name``."""
        check_principal(name, role)
        bound = await self.bound_role(name, role)
        if bound != role:
            raise NameRefused(f"'{name}' is already the name of a {bound} principal")

    @redis_boundary
    async def store(
        self,
        api_key: str,
        name: str,
        role: str,
        created_at: float,
        max_priority: Priority | None = None,
    ) -> None:
        await self.check_name(name, role)
        key_hash = digest(api_key)
        pipe = self.redis.pipeline(transaction=False)  # spans slots: record, then index
        pipe.hset(
            self.keys.api_key(key_hash),
            mapping={
                "name": name,
                "role": role,
                "created_at": repr(created_at),
                "max_priority": max_priority.value if max_priority else "",  # "": no cap
            },
        )
        pipe.sadd(self.keys.api_key_index, key_hash)
        await pipe.execute()

    @redis_boundary
    async def lookup(self, api_key: str) -> Principal | None:
        """The key's principal; None for an unknown or revoked key."""
        return await self.lookup_digest(digest(api_key))

    @redis_boundary
    async def lookup_digest(self, key_hash: str) -> Principal | None:
        """The principal of the key with this digest (what a console session keeps)."""
        fields = ["name", "role", "revoked_at", "max_priority"]
        record = self.keys.api_key(key_hash)
        name, role, revoked_at, max_priority = await self.redis.hmget(record, fields)
        if name is None or revoked_at:
            return None
        cap = priority_cap(str(max_priority)) if max_priority else None
        principal = Principal(str(name), str(role or "user"), cap)
        try:
            await self.check_name(principal.name, principal.role)
        except NameRefused:
            return None  # a key made before names held one role, on the losing side
        return principal

    @redis_boundary
    async def is_revoked(self, api_key: str) -> bool:
        return bool(await self.redis.hget(self.keys.api_key(digest(api_key)), "revoked_at"))

    @redis_boundary
    async def all(self) -> list[KeyInfo]:
        """Every key, revoked ones included, oldest first."""
        hashes = sorted(str(h) for h in await self.redis.smembers(self.keys.api_key_index))
        pipe = self.redis.pipeline(transaction=False)
        for key_hash in hashes:
            pipe.hgetall(self.keys.api_key(key_hash))
        records = await pipe.execute()
        infos = [KeyInfo.from_record(h, r) for h, r in zip(hashes, records, strict=True) if r]
        return sorted(infos, key=lambda info: info.created_at)

    @redis_boundary
    async def revoke(self, id_or_name: str, now_s: float) -> list[KeyInfo]:
        """Revoke the key with this id, or every live key with this name. The record stays,
        marked, so that `keys list` shows what was revoked and when."""
        hits = [
            info
            for info in await self.all()
            if info.revoked_at is None and id_or_name in (info.key_id, info.name)
        ]
        pipe = self.redis.pipeline(transaction=False)
        for info in hits:
            pipe.hset(self.keys.api_key(info.key_hash), "revoked_at", repr(now_s))
        await pipe.execute()
        return [replace(info, revoked_at=now_s) for info in hits]
