"""What an S3 Inventory report says about a bucket's objects: who owns them and what their ACLs grant, aggregated
(an inventory lists every object; these are its counts per owner and per grant, with a few sample keys)."""

from __future__ import annotations

from dataclasses import dataclass

from planner.model.evidence import SkippedFile

# The predefined groups (facts §3d): AllUsers and AuthenticatedUsers make an object public.
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})


@dataclass(frozen=True)
class OwnerCount:
    """Objects of a bucket owned by one canonical id (the report's ObjectOwner)."""

    owner: str
    objects: int
    sample_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class GrantCount:
    """Objects whose ACL grants `permission` to one grantee other than the object's own owner (the owner's
    FULL_CONTROL on its own object is every ACL's default, not a grant to anyone else)."""

    grantee_type: str   # CanonicalUser | Group (the Object ACL field's grantee types)
    grantee: str        # canonical id or group URI
    permission: str     # READ | READ_ACP | WRITE_ACP | FULL_CONTROL (WRITE does not apply to objects, facts §3a)
    objects: int
    sample_keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()   # the first key segments of its objects (folder/, or '' for top-level keys)
    prefixes_complete: bool = False  # `prefixes` lists them all (not cut at the limit)

    @property
    def public(self) -> bool:
        return self.grantee_type == "Group" and self.grantee in PUBLIC_GROUPS


@dataclass(frozen=True)
class InventoryReport:
    """One bucket's latest inventory report, aggregated."""

    bucket: str
    manifest: str          # where the manifest was read (a path, or s3://...)
    file_format: str       # CSV | ORC | Parquet
    created: str | None    # the report's creationTimestamp, ISO 8601 UTC
    objects: int           # rows read (object versions when the report lists all versions; delete markers left out)
    acl_unavailable: int   # objects whose Object ACL field is UNAVAILABLE (their owner is UNAVAILABLE too)
    acl_unreadable: int    # objects whose Object ACL field is empty or not the documented base64 JSON
    owners: tuple[OwnerCount, ...] = ()
    grants: tuple[GrantCount, ...] = ()
    has_acl_fields: bool = True  # the report has the ObjectOwner and ObjectAccessControlList fields


@dataclass(frozen=True)
class InventoryFailure:
    """A report that could not be used (bad checksum, missing or corrupt data file): its bucket is not read."""

    bucket: str | None
    manifest: str
    reason: str  # one line naming the file and what to do


@dataclass(frozen=True)
class InventoryResult:
    """Every report read, and every one that could not be: the others still count."""

    reports: tuple[InventoryReport, ...] = ()
    failures: tuple[InventoryFailure, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()  # reports passed over (an older one, another configuration's)


NO_INVENTORY = InventoryResult()
