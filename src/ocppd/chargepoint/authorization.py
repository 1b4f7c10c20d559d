"""What a station knows about idTags without asking: the local list and the cache.

The local list (SendLocalList, GetLocalListVersion) is the central system's; the cache
is filled by every idTagInfo received for a tag that is not in the list. The list beats
the cache. Tags compare case-insensitively.
"""

from dataclasses import dataclass, field
from datetime import datetime

from msgspec import UNSET

from ocppd.chargepoint.configuration import Configuration
from ocppd.protocol.datatypes import IdTagInfo
from ocppd.protocol.enums import AuthorizationStatus, UpdateStatus, UpdateType
from ocppd.protocol.messages import SendLocalListRequest


@dataclass
class LocalList:
    version: int = 0
    """0 = the list is empty (GetLocalListVersion)."""
    entries: dict[str, IdTagInfo] = field(default_factory=dict)

    def update(self, request: SendLocalListRequest, configuration: Configuration) -> UpdateStatus:
        """SendLocalList: Full replaces, Differential upserts (idTagInfo) and deletes (none)."""
        items = request.local_authorization_list or []
        if len(items) > configuration.get_int("SendLocalListMaxLength"):
            return UpdateStatus.FAILED
        differential = request.update_type == UpdateType.DIFFERENTIAL
        if differential and request.list_version <= self.version:
            return UpdateStatus.VERSION_MISMATCH
        entries = dict(self.entries) if differential else {}
        for item in items:
            if item.id_tag_info is UNSET:
                entries.pop(item.id_tag.lower(), None)
            else:
                entries[item.id_tag.lower()] = item.id_tag_info
        if len(entries) > configuration.get_int("LocalAuthListMaxLength"):
            return UpdateStatus.FAILED
        self.entries = entries
        self.version = request.list_version if entries or differential else 0
        return UpdateStatus.ACCEPTED


@dataclass
class Authorizations:
    local_list: LocalList = field(default_factory=LocalList)
    cache: dict[str, IdTagInfo] = field(default_factory=dict)

    def known(self, id_tag: str, now: datetime, configuration: Configuration) -> IdTagInfo | None:
        """What the list or the cache says of `id_tag` now (Expired once past its expiry),
        or None when neither knows it (or both are disabled)."""
        key = id_tag.lower()
        info = None
        if configuration.get_bool("LocalAuthListEnabled"):
            info = self.local_list.entries.get(key)
        if info is None and configuration.get_bool("AuthorizationCacheEnabled"):
            info = self.cache.get(key)
        if info is None:
            return None
        if info.expiry_date is not UNSET and info.expiry_date <= now:
            return IdTagInfo(status=AuthorizationStatus.EXPIRED)
        return info

    def remember(self, id_tag: str, info: IdTagInfo, configuration: Configuration) -> None:
        """Every idTagInfo received updates the cache, unless the tag is in the list."""
        key = id_tag.lower()
        if key in self.local_list.entries:
            return
        if configuration.get_bool("AuthorizationCacheEnabled"):
            self.cache[key] = info

    def clear_cache(self) -> None:
        self.cache.clear()
