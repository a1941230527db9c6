"""Model files fetched over HTTP(S) and checked: nothing unverified is ever put in place.

Each file streams to NAME.part while its SHA-256 is computed, is checked against the digest
its publisher gives, and only then is renamed to NAME. A folder fetched completely gets a
MANIFEST.sha256 (`sha256sum` format), so it can be checked again later without a network.
Nothing here runs by itself: a person asks for a download (manage.py voice_models fetch).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlsplit

from media_pipeline.content_keys import file_digest
from media_pipeline.errors import PipelineError

logger = logging.getLogger("media_pipeline.model_download")

HUGGINGFACE_ENDPOINT = "https://huggingface.co"
MANIFEST_NAME = "MANIFEST.sha256"
CHUNK_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 60
USER_AGENT = "slidecast-model-download/1"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")

# (file name, bytes received, bytes expected or None)
Progress = Callable[[str, int, int | None], None]


class ModelDownloadError(PipelineError):
    """A model file could not be fetched, or what arrived is not the file that was published."""

    code = "model_download_failed"
    permanent = False


@dataclass(frozen=True)
class ModelFile:
    name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    # Git's blob id, sha1("blob SIZE\0" + content): what Hugging Face publishes for files
    # kept in git itself rather than in LFS (small JSON files).
    git_blob_id: str | None = None


@dataclass(frozen=True)
class ModelManifest:
    name: str
    files: tuple[ModelFile, ...]
    source: str  # where the files come from, for people


def fetch_model(
    manifest: ModelManifest,
    target_dir: Path,
    *,
    progress: Progress | None = None,
    opener: Callable = urllib.request.urlopen,
    force: bool = False,
) -> list[Path]:
    """Return the manifest's files in target_dir, each verified; download those not there yet.

    A file already in place whose digest matches is kept (unless `force`). MANIFEST.sha256
    is removed first and written last, so it only ever describes a complete, checked folder.
    """
    unverifiable = [f.name for f in manifest.files if f.sha256 is None and f.git_blob_id is None]
    if unverifiable:
        raise ModelDownloadError(
            f"There is no published digest to check {', '.join(unverifiable)} against, so "
            "nothing was downloaded. Give each one's SHA-256 (--sha256 NAME=HEX)."
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / MANIFEST_NAME).unlink(missing_ok=True)
    digests: dict[str, str] = {}
    for file in manifest.files:
        path = target_dir / file.name
        digest = None if force or not path.is_file() else _digest_if_matching(path, file)
        if digest is None:
            digest = _download(file, path, progress=progress, opener=opener)
        else:
            logger.info("%s is already in %s and matches its digest", file.name, target_dir)
            if progress is not None:
                size = path.stat().st_size
                progress(file.name, size, size)
        digests[file.name] = digest
    _write_atomically(
        target_dir / MANIFEST_NAME,
        "".join(f"{digest}  {name}\n" for name, digest in digests.items()),
    )
    return [target_dir / file.name for file in manifest.files]


def read_manifest(target_dir: Path) -> dict[str, str]:
    """Return the SHA-256 of each file MANIFEST.sha256 lists, by file name."""
    digests: dict[str, str] = {}
    for number, line in enumerate((target_dir / MANIFEST_NAME).read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.lstrip(" *")  # sha256sum marks binary mode with '*'
        if not _SHA256.fullmatch(digest) or not name or "/" in name:
            raise ModelDownloadError(
                f"{target_dir / MANIFEST_NAME} line {number} is not 'SHA256  NAME': {line!r}."
            )
        digests[name] = digest
    return digests


def verify_model_dir(target_dir: Path, required: Iterable[str]) -> list[str]:
    """Return what is wrong with a fetched model folder (an empty list when nothing is).

    Offline: every file MANIFEST.sha256 lists must be there with that digest, and every
    `required` file must be among them.
    """
    if not target_dir.is_dir():
        return [f"{target_dir} is not a folder."]
    if not (target_dir / MANIFEST_NAME).is_file():
        return [
            f"{target_dir} has no {MANIFEST_NAME}: it was not fetched with voice_models fetch, "
            "or the fetch did not finish. Run the fetch again."
        ]
    try:
        digests = read_manifest(target_dir)
    except ModelDownloadError as exc:
        return [exc.message]
    problems = [
        f"{name} is not listed in {MANIFEST_NAME}." for name in required if name not in digests
    ]
    for name, expected in digests.items():
        path = target_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing from {target_dir}.")
            continue
        actual = file_digest(path)
        if actual != expected:
            problems.append(
                f"{name} is damaged or was replaced: sha256 expected {expected}, got {actual}."
            )
    return problems


def hub_manifest(
    *,
    name: str,
    repo: str,
    revision: str,
    files: Iterable[str],
    endpoint: str = HUGGINGFACE_ENDPOINT,
    opener: Callable = urllib.request.urlopen,
) -> ModelManifest:
    """Return a manifest of files at a revision of a Hugging Face model repository.

    The revision (tag, branch or commit) is resolved to its commit once, so every file comes
    from the same commit; each file carries the digest the Hub publishes for it there: the
    SHA-256 of an LFS file, the git blob id of a file kept in git.
    """
    endpoint = _checked_endpoint(endpoint)
    api = f"{endpoint}/api/models/{repo}/revision/{quote(revision, safe='')}?blobs=true"
    try:
        with opener(_request(api), timeout=TIMEOUT_SECONDS) as response:
            info = json.loads(response.read())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise ModelDownloadError(
            f"Could not read the file list of {repo} at {revision!r} from {api}: {_reason(exc)}."
        ) from exc
    commit = info.get("sha") if isinstance(info, dict) else None
    if not isinstance(commit, str) or not _SHA1.fullmatch(commit):
        raise ModelDownloadError(f"{api} did not name the commit of {revision!r}.")
    siblings = {s.get("rfilename"): s for s in info.get("siblings") or [] if isinstance(s, dict)}
    entries = []
    for file_name in files:
        sibling = siblings.get(file_name)
        if sibling is None:
            raise ModelDownloadError(f"{repo} has no {file_name} at {revision!r} ({commit}).")
        lfs = sibling.get("lfs") or {}
        sha256 = lfs.get("sha256")
        blob_id = None if lfs else sibling.get("blobId")
        if not (_SHA256.fullmatch(str(sha256)) or _SHA1.fullmatch(str(blob_id))):
            raise ModelDownloadError(f"{api} gave no usable digest for {file_name}.")
        entries.append(
            ModelFile(
                name=file_name,
                url=f"{endpoint}/{repo}/resolve/{commit}/{quote(file_name)}",
                sha256=sha256 if lfs else None,
                size=lfs.get("size", sibling.get("size")),
                git_blob_id=blob_id,
            )
        )
    return ModelManifest(
        name=name, files=tuple(entries), source=f"{endpoint}/{repo} at {revision} ({commit})"
    )


def with_pinned_digests(manifest: ModelManifest, pins: Mapping[str, str]) -> ModelManifest:
    """Return the manifest with the SHA-256 of some files given by a person (NAME -> hex)."""
    known = {file.name: file for file in manifest.files}
    unknown = sorted(set(pins) - set(known))
    if unknown:
        raise ModelDownloadError(
            f"{manifest.name} has no file named {', '.join(unknown)}; "
            f"its files are {', '.join(known)}."
        )
    files = []
    for file in manifest.files:
        pin = pins.get(file.name)
        if pin is not None:
            pin = pin.strip().lower()
            if not _SHA256.fullmatch(pin):
                raise ModelDownloadError(f"The SHA-256 given for {file.name} is not 64 hex digits.")
            if file.sha256 is not None and file.sha256 != pin:
                raise ModelDownloadError(
                    f"The SHA-256 given for {file.name} ({pin}) is not the one "
                    f"{manifest.source} publishes ({file.sha256}); nothing was downloaded."
                )
            file = replace(file, sha256=pin)
        files.append(file)
    return replace(manifest, files=tuple(files))


def _download(file: ModelFile, path: Path, *, progress: Progress | None, opener: Callable) -> str:
    part = path.with_name(f"{path.name}.part")
    try:
        digest, size = _stream(file, part, progress=progress, opener=opener)
        _check(file, part, digest, size)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    logger.info("stored %s (%d bytes, sha256 %s)", path, size, digest)
    return digest


def _stream(
    file: ModelFile, part: Path, *, progress: Progress | None, opener: Callable
) -> tuple[str, int]:
    hasher = hashlib.sha256()
    received = 0
    try:
        with opener(_request(file.url), timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else file.size
            with part.open("wb") as out:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(file.name, received, total)
                out.flush()
                os.fsync(out.fileno())
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise ModelDownloadError(
            f"Could not download {file.name} from {file.url}: {_reason(exc)}. Nothing was "
            "kept; run the command again (or use a mirror) once the host can reach it."
        ) from exc
    return hasher.hexdigest(), received


def _check(file: ModelFile, path: Path, sha256: str, size: int) -> None:
    if file.size is not None and size != file.size:
        raise ModelDownloadError(
            f"{file.name} from {file.url} has {size} bytes where {file.size} were published: "
            "the download was cut short or the file is not the published one. Nothing was kept."
        )
    if file.sha256 is not None and sha256 != file.sha256:
        raise ModelDownloadError(
            f"{file.name} from {file.url} is not the published file: sha256 expected "
            f"{file.sha256}, got {sha256}. Nothing was kept."
        )
    if file.git_blob_id is not None and (blob_id := _git_blob_id(path)) != file.git_blob_id:
        raise ModelDownloadError(
            f"{file.name} from {file.url} is not the published file: git blob id expected "
            f"{file.git_blob_id}, got {blob_id}. Nothing was kept."
        )


def _digest_if_matching(path: Path, file: ModelFile) -> str | None:
    """Return the SHA-256 of a file already in place when it is the published one."""
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        return None
    digest = file_digest(path)
    if file.sha256 is not None and digest != file.sha256:
        return None
    if file.git_blob_id is not None and _git_blob_id(path) != file.git_blob_id:
        return None
    return digest


def _git_blob_id(path: Path) -> str:
    hasher = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    part = path.with_name(f"{path.name}.part")
    part.write_text(text)
    os.replace(part, path)


def _request(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT})


def _checked_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelDownloadError(f"{endpoint!r} is not an http(s) address.")
    return endpoint.rstrip("/")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
