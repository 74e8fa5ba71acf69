"""The users and user groups of a workspace (with team managers), read from Clockify and cached briefly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..clockify.payloads import raw_of, short_text
from ..extensions import BoundedCache
from ..platform.models import Installation

DIRECTORY_TTL_SECONDS = 60.0


@dataclass
class Directory:
    """Users and user groups of a workspace, read once and shared by the queue's filters and visibility."""

    users: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]

    def name(self, user_id: str) -> str | None:
        return short_text(self.users.get(user_id, {}).get("name"))

    def is_active(self, user_id: str) -> bool:
        user = self.users.get(user_id, {})
        status = user.get("status")
        if status is None:
            memberships = [m for m in user.get("memberships") or [] if isinstance(m, dict)]
            status = next((m.get("membershipStatus") for m in memberships), "ACTIVE")
        return str(status or "ACTIVE").upper() == "ACTIVE"

    def groups_of(self, user_id: str) -> list[dict[str, Any]]:
        return [g for g in self.groups if user_id in (g.get("userIds") or [])]

    def managers_of(self, user_id: str) -> list[dict[str, Any]]:
        managers: dict[str, dict[str, Any]] = {}
        for group in self.groups_of(user_id):
            for manager in group.get("teamManagers") or []:
                if isinstance(manager, dict) and manager.get("id") and manager["id"] != user_id:
                    managers[manager["id"]] = manager
        return list(managers.values())

    def managed_by(self, manager_id: str) -> set[str]:
        members: set[str] = set()
        for group in self.groups:
            ids = {m.get("id") for m in group.get("teamManagers") or [] if isinstance(m, dict)}
            if manager_id in ids:
                members.update(u for u in group.get("userIds") or [] if isinstance(u, str))
        members.discard(manager_id)
        return members

    def all_managers(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for group in self.groups:
            for manager in group.get("teamManagers") or []:
                if isinstance(manager, dict) and manager.get("id"):
                    seen[manager["id"]] = manager
        return sorted(seen.values(), key=lambda m: str(m.get("name") or ""))


# Kept per process for a minute, for the most recently used workspaces (and API hosts) only.
_directory_cache: BoundedCache[tuple[str, str], Directory] = BoundedCache(
    256, DIRECTORY_TTL_SECONDS, workspace_of=lambda key, _value: key[1]
)


def cache_key_for(installation: Installation) -> str:
    """Cached reads belong to one installation: a reinstall (or another API host) reads afresh."""
    return f"{installation.api_url}|{installation.installed_at.isoformat() if installation.installed_at else ''}"


def load_directory(workspace_id: str, client: Any, cache_key: str = "", *, fresh: bool = False) -> Directory:
    """Users and groups (with their team managers), cached for a minute per workspace and API host."""
    key = (cache_key, workspace_id)
    cached = None if fresh else _directory_cache.get(key)
    if cached is not None:
        return cached
    users: dict[str, dict[str, Any]] = {}
    for user in client.iter_users(memberships="WORKSPACE"):
        raw = raw_of(user)
        if isinstance(raw.get("id"), str):
            users[raw["id"]] = raw
    groups = [raw_of(g) for g in client.iter_user_groups(include_team_managers=True)]
    directory = Directory(users=users, groups=groups)
    _directory_cache.put(key, directory)
    return directory


def forget_directory(workspace_id: str) -> None:
    """Drop the cached users and groups of a workspace (they are read again on next use)."""
    _directory_cache.forget_workspace(workspace_id)
