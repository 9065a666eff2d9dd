"""CloudTrail log files in S3 -> a local cache the local engine reads: only the prefixes of the window are listed,
files are fetched in parallel, and a file already cached is not fetched again. Read-only (ListObjectsV2 and
GetObject); credentials come from boto3's chain and are never printed or stored."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from planner.errors import InputError, OutputError
from planner.model import SkippedFile
from planner.sources.base import Selection
from planner.sources.s3.urls import LOGS, parse_log_url, parse_s3_url

T = TypeVar("T")
K = TypeVar("K")
Progress = Callable[[int, int, int, int], None]  # files_done, files_total, bytes_done, bytes_total

THREADS = 8
RETRIES = {"mode": "adaptive", "max_attempts": 10}  # botocore backs off on SlowDown/503 and slows the client down
ATTEMPTS = 3  # our own tries per listed page or file, around botocore's (see _retrying)
BACKOFF_SECONDS = 1.0
CHUNK = 1 << 20
PART = ".part"

ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
REGION_RE = re.compile(r"^[a-z0-9-]+$")  # as the local reader takes it (files.TREE_RE)
# <acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz (facts §6); other names are not log files.
LOG_NAME_RE = re.compile(r"^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]+\.json(?:\.gz)?$")
TRANSIENT_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
                             "ThrottlingException", "RequestLimitExceeded"})
TRANSIENT_ERRORS = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, ConnectionClosedError)


@dataclass(frozen=True)
class RemoteFile:
    """One CloudTrail log file in the trail bucket."""

    key: str
    size: int


@dataclass(frozen=True)
class Download:
    """What a download left in the cache: `root` is the folder to give the local engine (with the same selection)."""

    root: Path
    prefixes_listed: tuple[str, ...]
    files: int            # log files of the window in the bucket
    fetched: int          # downloaded now
    cached: int           # already in the cache with the same size
    bytes_fetched: int
    skipped: tuple[SkippedFile, ...]  # could not be downloaded; the others went on
    ignored: int = 0      # objects in the window's day folders that are not CloudTrail log files
    local_files: tuple[Path, ...] = ()  # server access logs: the window's files in the cache


def client_config(threads: int = THREADS) -> Any:
    """Adaptive retries (SlowDown and 503 back off) and a connection pool as large as the thread pool."""
    return Config(retries=dict(RETRIES), max_pool_connections=max(10, threads))


def download_trail(url: str, cache: Path, selection: Selection, *, session: Any = None, threads: int = THREADS,
                   on_progress: Progress | None = None) -> Download:
    """Fetch the window's log files of the trail at `url` into `<cache>/<bucket>/<key>`, listing only the window."""
    if selection.since is None or selection.until is None:
        raise ValueError("download_trail needs selection.since and selection.until (the caller fills the window)")
    if selection.since > selection.until or threads < 1:
        raise ValueError("download_trail needs since <= until and threads >= 1")
    bucket, base = parse_s3_url(url)
    client = _client(session, threads)
    listed: list[str] = []
    local = Path(cache) / bucket
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3plan-s3") as pool:
        days = _day_prefixes(client, bucket, base, selection, listed)
        remote, ignored = _list_days(pool, client, bucket, days, listed)
        if not remote:
            raise InputError(_nothing_found(bucket, base, selection, bool(days)))
        result = _fetch_all(pool, client, bucket, remote, local, on_progress)
    root = local.joinpath(*base.split("/"))
    return Download(root, tuple(listed), len(remote), *result, ignored=ignored)


# The date-based access-log key format: <prefix>/<account>/<region>/<source-bucket>/YYYY/MM/DD/ (facts §8)
DATED_LOGS = re.compile(r"(?:^|/)\d{12}/[a-z]{2}(?:-[a-z]+)+-\d/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/$")


def download_access_logs(url: str, cache: Path, since: date, until: date, *, session: Any = None,
                         threads: int = THREADS, on_progress: Progress | None = None) -> Download:
    """Fetch the server access logs of the window under `url` into `<cache>/<bucket>/<key>`, listing only the
    window's days: `<prefix>YYYY/MM/DD/` in the date-based key format, `<prefix>YYYY-MM-DD` in the simple one,
    whose object names start with the delivery time (facts §8)."""
    bucket, prefix = parse_log_url(url)
    dated = bool(DATED_LOGS.search(prefix))
    # the next day too: objects are named by delivery time, which can lag the requests by hours
    days = [f"{prefix}{day:%Y/%m/%d}/" if dated else f"{prefix}{day:%Y-%m-%d}"
            for day in _days(Selection(since, until + timedelta(days=1)))]
    client = _client(session, threads)
    local = Path(cache) / bucket
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3plan-s3") as pool:
        found = _in_pool({pool.submit(_list, client, bucket, p): p for p in days})
        remote = sorted((obj for _, (_, objects) in found for obj in objects if not obj.key.endswith("/")),
                        key=lambda f: f.key)  # a "folder" object is not a log file
        if not remote:
            raise InputError(f"s3://{bucket}/{prefix}: no server access log object from {since} to {until}; check "
                             "the prefix (the bucket's logging target prefix) and --since/--until (UTC days)")
        result = _fetch_all(pool, client, bucket, remote, local, on_progress)
    files = tuple(_local_path(local, f.key) for f in remote
                  if f"s3://{bucket}/{f.key}" not in {s.path for s in result[3]})
    return Download(local, tuple(days), len(remote), *result, local_files=files)


def _client(session: Any, threads: int) -> Any:
    """One S3 client shared by every thread (clients are thread-safe, sessions are not)."""
    if session is None:
        import boto3  # imported here: only S3 runs need it

        session = boto3.session.Session()
    return session.client("s3", config=client_config(threads))


def _day_prefixes(client: Any, bucket: str, base: str, selection: Selection, listed: list[str]) -> list[str]:
    """`.../CloudTrail/<region>/YYYY/MM/DD/` of every selected account, region and day of the window."""
    days = list(_days(selection))
    prefixes = []
    for account in _account_prefixes(client, bucket, base, selection, listed):
        trail = f"{account}CloudTrail/"
        for region in _folders(client, bucket, trail, listed):
            if REGION_RE.match(region) and (not selection.regions or region in selection.regions):
                prefixes += [f"{trail}{region}/{day:%Y/%m/%d}/" for day in days]
    return prefixes


def _account_prefixes(client: Any, bucket: str, base: str, selection: Selection, listed: list[str]) -> list[str]:
    """`<base>AWSLogs/[o-id/]<account>/` of every selected account, organisation trails included."""
    top = f"{base}{LOGS}/"
    accounts = []
    for name in _folders(client, bucket, top, listed):
        if ORG_RE.match(name):
            org = f"{top}{name}/"
            accounts += [f"{org}{acct}/" for acct in _folders(client, bucket, org, listed) if ACCOUNT_RE.match(acct)]
        elif ACCOUNT_RE.match(name):
            accounts.append(f"{top}{name}/")
    return [a for a in accounts if not selection.accounts or a.rstrip("/").rsplit("/", 1)[-1] in selection.accounts]


def _days(selection: Selection) -> Iterator[date]:
    """Every UTC day from since to until, both included."""
    assert selection.since is not None and selection.until is not None
    for n in range((selection.until - selection.since).days + 1):
        yield selection.since + timedelta(days=n)


def _folders(client: Any, bucket: str, prefix: str, listed: list[str]) -> list[str]:
    """The names of the sub-folders directly under `prefix`."""
    listed.append(prefix)
    return [p[len(prefix):].rstrip("/") for p in _list(client, bucket, prefix)[0]]


def _list_days(pool: ThreadPoolExecutor, client: Any, bucket: str, prefixes: list[str],
               listed: list[str]) -> tuple[list[RemoteFile], int]:
    """The log files of every day folder, listed in parallel; other objects are counted as ignored."""
    listed += prefixes
    files: list[RemoteFile] = []
    ignored = 0
    for _, (_, objects) in _in_pool({pool.submit(_list, client, bucket, p): p for p in prefixes}):
        for obj in objects:
            if LOG_NAME_RE.match(obj.key.rsplit("/", 1)[-1]):
                files.append(obj)
            else:
                ignored += 1
    return sorted(files, key=lambda f: f.key), ignored


def _list(client: Any, bucket: str, prefix: str) -> tuple[list[str], list[RemoteFile]]:
    """Sub-folders and objects directly under `prefix`, every page; listing errors are one InputError line."""
    folders: list[str] = []
    objects: list[RemoteFile] = []
    params: dict[str, str] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    while True:
        try:
            page = _retrying(lambda: client.list_objects_v2(**params))
        except (ClientError, BotoCoreError) as err:
            raise InputError(_listing_error(err, bucket, prefix)) from err
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        objects += [RemoteFile(o["Key"], int(o["Size"])) for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return folders, objects
        params["ContinuationToken"] = page["NextContinuationToken"]


def _listing_error(err: Exception, bucket: str, prefix: str) -> str:
    """One line naming the place and what to do."""
    where = f"s3://{bucket}/{prefix}"
    if isinstance(err, NoCredentialsError):
        return f"{where}: no AWS credentials found; use --profile or the AWS_* variables (boto3's standard chain)"
    code, message = _code(err), _message(err)
    if code == "NoSuchBucket":
        return f"s3://{bucket}: no such bucket; check the trail's bucket name in s3://BUCKET/PREFIX/"
    if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return (f"{where}: {code} on ListObjectsV2; the credentials need s3:ListBucket on arn:aws:s3:::{bucket} "
                f"({message})")
    return f"{where}: cannot list: {code} ({message})"


def _fetch_all(pool: ThreadPoolExecutor, client: Any, bucket: str, remote: list[RemoteFile], local: Path,
               on_progress: Progress | None) -> tuple[int, int, int, tuple[SkippedFile, ...]]:
    """(fetched, cached, bytes fetched, skipped): cached files first, the rest in parallel; progress as files end."""
    meter = _Meter(len(remote), sum(f.size for f in remote), on_progress)
    todo = []
    for file in remote:
        if _is_cached(_local_path(local, file.key), file.size):
            meter.done(file.size)
        else:
            todo.append(file)
    stop = threading.Event()
    futures = {pool.submit(_fetch, client, bucket, f, _local_path(local, f.key), stop): f for f in todo}
    skipped: list[SkippedFile] = []
    fetched_bytes = 0
    try:
        for file, outcome in _in_pool(futures):
            if outcome is None:
                fetched_bytes += file.size
            else:
                skipped.append(outcome)
            meter.done(file.size)
    except BaseException:  # Ctrl-C or a failure: the downloads under way stop at their next chunk
        stop.set()
        raise
    cached = len(remote) - len(todo)
    return len(todo) - len(skipped), cached, fetched_bytes, tuple(sorted(skipped, key=lambda s: s.path))


def _local_path(local: Path, key: str) -> Path:
    """`<cache>/<bucket>/<key>`: the local tree keeps the AWSLogs/... layout the local reader knows."""
    return local.joinpath(*key.split("/"))


def _is_cached(path: Path, size: int) -> bool:
    """True when the file is in the cache with the object's size (a partial download is only ever a .part file)."""
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _fetch(client: Any, bucket: str, file: RemoteFile, path: Path, stop: threading.Event) -> SkippedFile | None:
    """Download one object to `<name>.part`, then rename it; an S3 error skips the file, a local one stops the run,
    and so does `stop` (no .part file is left behind)."""
    part = path.with_name(path.name + PART)
    try:
        if stop.is_set():
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        _retrying(lambda: _write(client, bucket, file, part, stop))
        os.replace(part, path)
    except (ClientError, BotoCoreError) as err:
        part.unlink(missing_ok=True)
        return SkippedFile(f"s3://{bucket}/{file.key}", _download_error(err, bucket, file))
    except _Stopped:
        part.unlink(missing_ok=True)
    except OSError as err:
        part.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write to the cache ({err.strerror or err}); "
                          "free some space or choose another cache folder") from err
    return None


class _Stopped(Exception):
    """The run is stopping (Ctrl-C, or another download failed): leave this one."""


def _write(client: Any, bucket: str, file: RemoteFile, part: Path, stop: threading.Event) -> None:
    """GetObject into `part` (overwriting a leftover one); a body shorter or longer than listed is an error."""
    body = client.get_object(Bucket=bucket, Key=file.key)["Body"]
    written = 0
    with part.open("wb") as out:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            if stop.is_set():
                raise _Stopped
            out.write(chunk)
            written += len(chunk)
    if written != file.size:
        raise IncompleteReadError(actual_bytes=written, expected_bytes=file.size)


def _download_error(err: Exception, bucket: str, file: RemoteFile) -> str:
    """Why a file was skipped: the key, the error code and, for access errors, the permission needed."""
    code = _code(err)
    hint = ("; the credentials need s3:GetObject (and kms:Decrypt when the trail uses SSE-KMS)"
            if "AccessDenied" in code else "")
    return f"cannot download s3://{bucket}/{file.key}: {code} ({_message(err)}){hint}"


def _retrying(call: Callable[[], T]) -> T:
    """`call()`, tried again after a pause on errors that may pass: a body broken mid-download, which botocore
    does not retry, and throttling that outlasts botocore's own adaptive retries."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except (ClientError, *TRANSIENT_ERRORS) as err:
            if attempt == ATTEMPTS or not _transient(err):
                raise
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random() / 2))  # noqa: S311 (jitter)
    raise AssertionError("unreachable")


def _transient(err: Exception) -> bool:
    """Throttling, a 5xx answer, or a broken connection or body."""
    if isinstance(err, ClientError):
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return _code(err) in TRANSIENT_CODES or int(status) >= 500
    return isinstance(err, TRANSIENT_ERRORS)


def _code(err: Exception) -> str:
    """The S3 error code of a ClientError, else the exception's class name."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or type(err).__name__)
    return type(err).__name__


def _message(err: Exception) -> str:
    """The first line of the service's message (never credentials: botocore does not put them in errors)."""
    text = str(err.response.get("Error", {}).get("Message") or "") if isinstance(err, ClientError) else str(err)
    return (text.splitlines() or ["no message"])[0]


def _in_pool(futures: dict[Future[T], K]) -> Iterator[tuple[K, T]]:
    """(what each future was for, its result) as futures complete; on any error the remaining work is cancelled."""
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise


class _Meter:
    """Calls on_progress(files_done, files_total, bytes_done, bytes_total) from the calling thread as files end."""

    def __init__(self, files: int, size: int, on_progress: Progress | None) -> None:
        self.files, self.size, self.on_progress = files, size, on_progress
        self.files_done = self.bytes_done = 0
        self._say()

    def done(self, size: int) -> None:
        """One more file handled (fetched, cached or skipped)."""
        self.files_done += 1
        self.bytes_done += size
        self._say()

    def _say(self) -> None:
        """Report the counts so far."""
        if self.on_progress is not None:
            self.on_progress(self.files_done, self.files, self.bytes_done, self.size)


def _nothing_found(bucket: str, base: str, selection: Selection, any_folder: bool) -> str:
    """One line saying what was looked for and where, and what to check."""
    where = f"s3://{bucket}/{base}{LOGS}/"
    scope = []
    if selection.accounts:
        scope.append(f"accounts {', '.join(sorted(selection.accounts))}")
    if selection.regions:
        scope.append(f"regions {', '.join(sorted(selection.regions))}")
    scoped = f" for {'; '.join(scope)}" if scope else ""
    if not any_folder:
        return (f"{where}: no <account>/CloudTrail/<region>/ folder{scoped}; check the URL "
                "(s3://BUCKET/PREFIX/ where PREFIX stands before AWSLogs/), --accounts and --regions")
    return (f"{where}: no CloudTrail log file from {selection.since} to {selection.until}{scoped}; "
            "check --since/--until (UTC days)")


__all__ = ["Download", "RemoteFile", "client_config", "download_trail", "parse_s3_url"]


def s3_client(session: Any = None, threads: int = THREADS) -> Any:
    """The S3 client the downloads use (adaptive retries, one connection per thread), for other sources' listings."""
    return _client(session, threads)


def list_folder(client: Any, bucket: str, prefix: str) -> tuple[list[str], list[RemoteFile]]:
    """Sub-folders and objects directly under `prefix` (ListObjectsV2 with a delimiter, every page)."""
    return _list(client, bucket, prefix)


def fetch_objects(client: Any, bucket: str, remote: list[RemoteFile], cache: Path, *, threads: int = THREADS,
                  on_progress: Progress | None = None) -> tuple[int, int, int, tuple[SkippedFile, ...]]:
    """(fetched, cached, bytes fetched, skipped): the objects into `<cache>/<bucket>/<key>`, those already cached
    with the same size left as they are."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3plan-s3") as pool:
        return _fetch_all(pool, client, bucket, remote, Path(cache) / bucket, on_progress)
