"""Optional read-only bucket state from boto3: policy, Object Ownership, ACLs, public access block, logging, and a
bounded sample of object ACLs; then what in that state still blocks BucketOwnerEnforced.

Only Get/List calls are made. Credentials come from the boto3 session the caller passes in (boto3's standard
chain); they are never printed or stored. A failing call is recorded on its bucket and the run goes on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from planner.model import Blocker

# Predefined ACL groups (facts §3d).
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUP_NAMES = {ALL_USERS: "AllUsers group (anyone)", AUTHENTICATED_USERS: "AuthenticatedUsers group (any AWS account)",
               LOG_DELIVERY: "LogDelivery group"}
# Facts §3f: CloudFront standard (legacy) logging delivers through the `awslogsdelivery` account, which is granted
# FULL_CONTROL in the log bucket's ACL under this canonical id; such a bucket cannot move to BucketOwnerEnforced.
CLOUDFRONT_LOG_DELIVERY = "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"
# Facts §3f: ElastiCache (Redis OSS) export account `aws-scs-s3-readonly`; named so the detail says what it is.
ELASTICACHE_EXPORT = "540804c33a284a299d2547575ce1010f2312ef3da9b3a053c8bc45bf233e4353"
ENFORCED = "BucketOwnerEnforced"
DEFAULT_REGION = "us-east-1"
LIST_PAGE = 10  # MaxKeys of one ListObjectsV2 sample call: a sample, never a listing
# Errors that mean "this configuration is not set", not a failure.
ABSENT = {"GetBucketPolicy": "NoSuchBucketPolicy", "GetBucketOwnershipControls": "OwnershipControlsNotFoundError",
          "GetPublicAccessBlock": "NoSuchPublicAccessBlockConfiguration",
          "GetAccountPublicAccessBlock": "NoSuchPublicAccessBlockConfiguration"}
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})


class Session(Protocol):
    """What s3plan uses of a boto3.Session: its region and its clients."""

    @property
    def region_name(self) -> str | None: ...

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Grant:
    """One ACL grant: who (canonical id, group URI or email, by grantee type) and which permission."""

    grantee_type: str
    grantee: str
    permission: str
    display_name: str | None = None


@dataclass(frozen=True)
class ObjectAclSample:
    """The ACL of one sampled object, under a key prefix that aclRequired evidence pointed at."""

    key: str
    owner_id: str | None
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class BucketState:
    """What a bucket looks like now, as far as the read calls could tell; `errors` lists the calls that failed."""

    bucket: str
    region: str | None = None
    owner_id: str | None = None
    policy: dict[str, Any] | None = None
    ownership: str | None = None
    grants: tuple[Grant, ...] = ()
    public_access_block: dict[str, bool] | None = None
    logging_target: str | None = None
    object_acls: tuple[ObjectAclSample, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    # the owner account's Block Public Access (S3 Control GetPublicAccessBlock): {} when none is set, None when
    # unknown (the account is unknown, or the call failed: `account_block_error` says why)
    account_public_access_block: dict[str, bool] | None = None
    account_block_error: str | None = None


def read_bucket_states(session: Session, buckets: Sequence[str], sample_prefixes: Mapping[str, Sequence[str]] = {},
                       sample_size: int = 20, threads: int = 8,
                       bucket_accounts: Mapping[str, str] = {}) -> dict[str, BucketState]:
    """The state of each bucket (in the order given), read in parallel, with its owner account's Block Public
    Access (`bucket_accounts`: the owners the evidence names); failures are recorded, never raised."""
    clients = _Clients(session)
    names = list(dict.fromkeys(buckets))
    if not names:
        return {}
    accounts = {a: account_public_access_block(clients, a) for a in sorted({bucket_accounts[b] for b in names
                                                                              if b in bucket_accounts})}
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(names)))) as pool:
        states = pool.map(lambda b: _read_bucket(clients, b, sample_prefixes.get(b, ()), sample_size), names)
        found = {state.bucket: state for state in states}
    for bucket, account in bucket_accounts.items():
        if bucket in found:
            block, error = accounts[account]
            found[bucket] = replace(found[bucket], account_public_access_block=block, account_block_error=error)
    return found


def account_public_access_block(clients: _Clients, account: str) -> tuple[dict[str, bool] | None, str | None]:
    """The account's Block Public Access settings (S3 Control GetPublicAccessBlock, x-amz-account-id; permission
    s3:GetAccountPublicAccessBlock): ({} when none is set, None) or (None, why it could not be read)."""
    call = _Calls()
    response = call("GetAccountPublicAccessBlock", clients.control().get_public_access_block, AccountId=account)
    if call.errors:
        return None, call.errors[0][1]
    return (_block(response) or {}), None


class _Clients:
    """One S3 client per region, made under a lock (boto3 sessions are not thread-safe; clients are)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self.default_region = session.region_name or DEFAULT_REGION

    def control(self) -> Any:
        """The S3 Control client (account-level settings), in the session's region."""
        with self._lock:
            if "s3control" not in self._clients:
                self._clients["s3control"] = self._session.client("s3control", region_name=self.default_region,
                                                                  config=RETRIES)
            return self._clients["s3control"]

    def get(self, region: str | None = None) -> Any:
        """The S3 client for `region` (the session's region when unknown), with adaptive retries."""
        name = region or self.default_region
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._session.client("s3", region_name=name, config=RETRIES)
            return self._clients[name]


class _Calls:
    """Runs one bucket's read calls, recording each failure as (API call, "Code: message")."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.gone = False

    def __call__(self, operation: str, method: Callable[..., Any], **params: Any) -> dict[str, Any] | None:
        """The response, or None when the setting is absent or the call failed (then the error is recorded)."""
        if self.gone:  # NoSuchBucket was recorded once; the other calls would only repeat it
            return None
        try:
            response: dict[str, Any] = method(**params)
            return response
        except ClientError as err:
            error = err.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            if code == ABSENT.get(operation):
                return None
            self.gone = code == "NoSuchBucket"
            self.errors.append((operation, f"{code}: {error.get('Message') or err}"))
        except BotoCoreError as err:  # no credentials, endpoint unreachable, retries exhausted, ...
            self.errors.append((operation, f"{type(err).__name__}: {err}"))
        return None


def _read_bucket(clients: _Clients, bucket: str, prefixes: Sequence[str] = (),
                      sample_size: int = 20) -> BucketState:
    """One bucket's state: its region first, so the other calls go to a client in that region."""
    call = _Calls()
    located = call("GetBucketLocation", clients.get().get_bucket_location, Bucket=bucket)
    region = _region(located) if located is not None else None
    s3 = clients.get(region)
    policy = _policy(call, s3, bucket)
    ownership = _ownership(call("GetBucketOwnershipControls", s3.get_bucket_ownership_controls, Bucket=bucket))
    acl = call("GetBucketAcl", s3.get_bucket_acl, Bucket=bucket)
    block = call("GetPublicAccessBlock", s3.get_public_access_block, Bucket=bucket)
    logging = call("GetBucketLogging", s3.get_bucket_logging, Bucket=bucket)
    # Under BucketOwnerEnforced object ACLs show the bucket owner only: sampling them would tell nothing.
    samples = () if ownership == ENFORCED else _sample_object_acls(call, s3, bucket, prefixes, sample_size)
    return BucketState(
        bucket=bucket, region=region, owner_id=_owner(acl), policy=policy, ownership=ownership,
        grants=_grants(acl), public_access_block=_block(block), logging_target=_logging_target(logging),
        object_acls=samples, errors=tuple(call.errors))


def _region(response: Mapping[str, Any]) -> str:
    """GetBucketLocation's answer as a region name: empty means us-east-1, the legacy `EU` means eu-west-1."""
    location = response.get("LocationConstraint") or DEFAULT_REGION
    return "eu-west-1" if location == "EU" else str(location)


def _policy(call: _Calls, s3: Any, bucket: str) -> dict[str, Any] | None:
    """The current bucket policy, parsed; a policy that is not a JSON object is recorded as an error."""
    response = call("GetBucketPolicy", s3.get_bucket_policy, Bucket=bucket)
    if response is None:
        return None
    try:
        document = json.loads(response.get("Policy") or "")
    except json.JSONDecodeError as err:
        call.errors.append(("GetBucketPolicy", f"InvalidPolicyJSON: {err.msg} at line {err.lineno}"))
        return None
    if not isinstance(document, dict):
        call.errors.append(("GetBucketPolicy", "InvalidPolicyJSON: not a JSON object"))
        return None
    return document


def _ownership(response: Mapping[str, Any] | None) -> str | None:
    """The Object Ownership setting (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter), None when unset."""
    rules = ((response or {}).get("OwnershipControls") or {}).get("Rules") or []
    return str(rules[0]["ObjectOwnership"]) if rules and rules[0].get("ObjectOwnership") else None


def _owner(acl: Mapping[str, Any] | None) -> str | None:
    """The canonical id of the ACL's owner."""
    owner_id = ((acl or {}).get("Owner") or {}).get("ID")
    return str(owner_id) if owner_id else None


def _grants(acl: Mapping[str, Any] | None) -> tuple[Grant, ...]:
    """The grants of a GetBucketAcl/GetObjectAcl answer, grantee by id, URI or email as its type says."""
    grants = []
    for item in (acl or {}).get("Grants") or []:
        grantee = item.get("Grantee") or {}
        kind = str(grantee.get("Type") or "")
        who = grantee.get("ID") or grantee.get("URI") or grantee.get("EmailAddress") or ""
        grants.append(Grant(kind, str(who), str(item.get("Permission") or ""), grantee.get("DisplayName")))
    return tuple(grants)


def _block(response: Mapping[str, Any] | None) -> dict[str, bool] | None:
    """The bucket's public access block settings, None when the bucket has none."""
    if response is None:
        return None
    settings = response.get("PublicAccessBlockConfiguration") or {}
    return {str(name): bool(value) for name, value in settings.items()}


def _logging_target(response: Mapping[str, Any] | None) -> str | None:
    """The bucket that receives this bucket's server access logs, None when logging is off."""
    target = ((response or {}).get("LoggingEnabled") or {}).get("TargetBucket")
    return str(target) if target else None


def _sample_object_acls(call: _Calls, s3: Any, bucket: str, prefixes: Sequence[str],
                        sample_size: int) -> tuple[ObjectAclSample, ...]:
    """The ACLs of at most `sample_size` objects, spread over the prefixes (a few keys each, one list call each)."""
    wanted = sorted(set(prefixes))
    if not wanted or sample_size <= 0:
        return ()
    per_prefix = max(1, min(LIST_PAGE, -(-sample_size // len(wanted))))
    keys: list[str] = []
    for prefix in wanted:
        room = min(per_prefix, sample_size - len(keys))
        if room <= 0:
            break
        listed = call("ListObjectsV2", s3.list_objects_v2, Bucket=bucket, Prefix=prefix, MaxKeys=room)
        found = [str(o["Key"]) for o in (listed or {}).get("Contents") or []]
        keys.extend(k for k in found[:room] if k not in keys)
    samples = []
    for key in keys:
        acl = call("GetObjectAcl", s3.get_object_acl, Bucket=bucket, Key=key)
        if acl is not None:
            samples.append(ObjectAclSample(key, _owner(acl), _grants(acl)))
    return tuple(samples)


def accounts_from_owners(states: Mapping[str, BucketState] | Iterable[BucketState],
                         bucket_accounts: Mapping[str, str]) -> dict[str, str]:
    """Bucket owners' canonical id -> account id (known from evidence), so grants to them can be named by account.
    A canonical id that evidence ties to two accounts is left out rather than guessed."""
    values = states.values() if isinstance(states, Mapping) else states
    found: dict[str, set[str]] = {}
    for state in values:
        account = bucket_accounts.get(state.bucket)
        if state.owner_id and account:
            found.setdefault(state.owner_id, set()).add(account)
    return {owner: next(iter(accounts)) for owner, accounts in sorted(found.items()) if len(accounts) == 1}


def state_blockers(state: BucketState, accounts_by_canonical: Mapping[str, str]) -> list[Blocker]:
    """What in the bucket's ACLs still blocks (or will break at) BucketOwnerEnforced; nothing once it is enforced."""
    if state.ownership == ENFORCED:
        return []
    blockers = [_bucket_grant_blocker(grantee, permissions, accounts_by_canonical)
                for grantee, permissions in _by_grantee(state.grants, state.owner_id)]
    for sample in state.object_acls:
        blockers.extend(_object_grant_blocker(sample, grantee, permissions, accounts_by_canonical)
                        for grantee, permissions in _by_grantee(sample.grants, state.owner_id))
    return blockers


def _object_grant_blocker(sample: ObjectAclSample, grant: Grant, permissions: str,
                          accounts: Mapping[str, str]) -> Blocker:
    """A sampled object's grant to another account or a group: access that ends when ACLs are disabled."""
    owner = " (the object's owner)" if grant.grantee == sample.owner_id else ""
    return Blocker("bucket-acl-grant", (
        f"object ACL on {sample.key} grants {permissions} to {grantee_name(grant, accounts)}{owner}: that access "
        "ends when ACLs are disabled; grant it in the bucket policy first (object ACLs do not stop the switch "
        "itself: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-migrating-acls-prerequisites.html)"))


def _by_grantee(grants: Iterable[Grant], owner: str | None) -> list[tuple[Grant, str]]:
    """Grants to anyone but the bucket owner, one entry per grantee with its permissions joined. With the owner
    unknown (GetBucketAcl failed) canonical-user grants cannot be told apart, so only groups and emails count."""
    merged: dict[tuple[str, str], tuple[Grant, list[str]]] = {}
    for grant in grants:
        if grant.grantee_type == "CanonicalUser" and (owner is None or grant.grantee == owner):
            continue
        _, permissions = merged.setdefault((grant.grantee_type, grant.grantee), (grant, []))
        if grant.permission not in permissions:
            permissions.append(grant.permission)
    return [(grant, ", ".join(sorted(permissions))) for grant, permissions in merged.values()]


def _bucket_grant_blocker(grant: Grant, permissions: str, accounts: Mapping[str, str]) -> Blocker:
    """The blocker for one bucket-ACL grantee: log delivery, CloudFront log delivery, or any other grant."""
    if grant.grantee_type == "Group" and grant.grantee == LOG_DELIVERY:
        return Blocker("log-delivery-acl", (
            f"bucket ACL grants {permissions} to the LogDelivery group: move server access log delivery to the "
            "logging.s3.amazonaws.com service principal in the bucket policy, then reset the ACL to private"))
    if grant.grantee_type == "CanonicalUser" and grant.grantee == CLOUDFRONT_LOG_DELIVERY:
        return Blocker("cloudfront-log-delivery", (
            f"bucket ACL grants {permissions} to CloudFront's awslogsdelivery account (canonical id {grant.grantee}): "
            "CloudFront standard (legacy) logs need ACLs, so this bucket cannot enforce until the distributions "
            "log elsewhere or use standard logging v2"))
    return Blocker("bucket-acl-grant", (
        f"bucket ACL grants {permissions} to {grantee_name(grant, accounts)}: grant it in the bucket policy, "
        "then reset the bucket ACL to private (otherwise InvalidBucketAclWithObjectOwnership)"))


def grantee_name(grant: Grant, accounts: Mapping[str, str]) -> str:
    """A reader's name for a grantee: the account id when known, the group's name, or the raw id or email."""
    if grant.grantee_type == "Group":
        return GROUP_NAMES.get(grant.grantee, f"group {grant.grantee}")
    if grant.grantee_type == "AmazonCustomerByEmail":
        return f"email grantee {grant.grantee}"
    if grant.grantee == ELASTICACHE_EXPORT:
        return f"ElastiCache's export account aws-scs-s3-readonly (canonical id {grant.grantee})"
    if grant.grantee in accounts:
        return f"account {accounts[grant.grantee]} (canonical id {grant.grantee})"
    shown = f", {grant.display_name}" if grant.display_name else ""
    return f"canonical id {grant.grantee} (account unknown{shown})"


def block_settings(state: BucketState) -> dict[str, bool] | None:
    """The Block Public Access settings in force: bucket and account combined, the most restrictive of each (S3 User
    Guide, Blocking public access: "Amazon S3 applies the most restrictive combination"); None when either level
    is unknown (a call failed, or the owner account is unknown)."""
    bucket_unread = any(call == "GetPublicAccessBlock" for call, _ in state.errors)
    if bucket_unread or state.account_public_access_block is None:
        return None
    bucket, account = state.public_access_block or {}, state.account_public_access_block
    return {name: bool(bucket.get(name)) or bool(account.get(name)) for name in set(bucket) | set(account)}


def public_access_blockers(state: BucketState, public_statement: bool, cross_account: bool = False) -> list[Blocker]:
    """The Block Public Access settings (bucket or account) that would refuse or neutralise the draft: a public
    statement refused or limited, and, once the policy is public, every cross-account statement in it too."""
    if not public_statement:
        return []
    settings = block_settings(state)
    if settings is None:
        why = state.account_block_error or ("the owner account is unknown" if state.account_public_access_block
                                            is None else "GetPublicAccessBlock failed")
        return [Blocker("public-access-block", f"the policy has a public (Principal \"*\") statement and the bucket's "
                                               f"Block Public Access state is unknown ({why}): check BlockPublicPolicy "
                                               "and RestrictPublicBuckets on the bucket and its account")]
    effects = {
        "BlockPublicPolicy": "S3 refuses a bucket policy with a public statement",
        "RestrictPublicBuckets": "a public policy only reaches AWS services and the bucket owner's account"
                                 + (", so every cross-account statement of the draft stops working too"
                                    if cross_account else ""),
    }
    return [Blocker("public-access-block", f"the policy has a public (Principal \"*\") statement and "
                                           f"{setting} is on (bucket or account): {effect}; review the public "
                                           f"access, then change {setting} or drop the statement")
            for setting, effect in effects.items() if settings.get(setting)]
