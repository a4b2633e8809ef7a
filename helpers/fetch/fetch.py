"""A pinned tree into the user's cache: cloned, trimmed, patched, checked, then renamed into place.

The cache holds `trees/<name>-<revision>-<pins key>/`, and only ever a complete, verified tree
there: fetch builds it in a `.partial-*` folder beside it and renames it into place as its last
step, so a fetch killed at any point leaves nothing `--tflm_dir auto` would take (the next fetch
deletes the leftover). A file lock per tree lets parallel runs (a sweep's processes) share one
fetch: the others wait for it and take its tree.

Each component is checked against the content digest its pin records (helpers/fetch/pins.py). A
commit fetched by its hash is checked by git as well; a mirror whose commits differ from upstream's
(`MCU_DEPLOY_MIRROR`) is asked for the tag `pinned/<revision>` instead, and the digest alone
decides. Opening a cached tree checks it again (about a second), so an edited tree is noticed:
it is moved aside and fetched again.
"""
from __future__ import annotations

import fcntl
import fnmatch
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.command import command_name
from helpers.errors import FetchError, FetchUnreachableError
from helpers.fetch.digest import tree_digest
from helpers.fetch.git import GitFailed, git
from helpers.fetch.pins import GENERATED, TREES, Component, PinnedTree

MIRROR_ENV = "MCU_DEPLOY_MIRROR"   # a folder (or URL) holding <repo_name>.git for every component
PARTIAL = ".partial-"
_log = logging.getLogger("mcu_deploy")


def trees_root(cache_root: Path | None = None) -> Path:
    from helpers.targets.library import default_cache_root  # lazily: helpers.config imports this module

    return (cache_root or default_cache_root()) / "trees"


def resolve_auto(path: Path | None, name: str) -> Path | None:
    """`--tflm_dir auto` / `--micropython_dir auto` (or TFLM_DIR=auto ...): the pinned tree `name` from the
    cache, fetched into it first when missing; any other path as it is."""
    return ensure_tree(name) if path is not None and str(path) == "auto" else path


def mirror_from_environment() -> str | None:
    return os.environ.get(MIRROR_ENV) or None


def ensure_tree(name: str, cache_root: Path | None = None, mirror: str | None = None) -> Path:
    """The verified tree `name` ("tflm" or "micropython") in the cache, fetched first when missing."""
    tree = TREES[name]
    mirror = mirror if mirror is not None else mirror_from_environment()
    root = trees_root(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / tree.folder_name()
    with _locked(root / f".{tree.folder_name()}.lock"):
        for leftover in root.glob(f"{PARTIAL}{tree.folder_name()}-*"):  # a killed fetch's; we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        if final.is_dir():
            differing = differing_components(tree, final)
            if not differing:
                return final
            _log.warning("note: the cached %s tree differs from its pins (%s); fetching it again",
                         tree.name, ", ".join(differing))
            final.rename(root / f"{PARTIAL}{tree.folder_name()}-stale")
            shutil.rmtree(root / f"{PARTIAL}{tree.folder_name()}-stale", ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{tree.folder_name()}-", dir=root))
        try:
            _fetch_into(tree, work / "tree", work / "git", mirror)
            (work / "tree").rename(final)   # the one step that makes the tree visible
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def differing_components(tree: PinnedTree, folder: Path) -> list[str]:
    """The components of a fetched tree whose files no longer match their pinned digest."""
    return [c.name for c in tree.components
            if tree_digest(folder / c.dest, tree.excluded(c)) != c.digest]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # released by the kernel if this process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_into(tree: PinnedTree, dest: Path, gits: Path, mirror: str | None) -> None:
    sources: list[str] = []
    for component in tree.components:
        _log.info("fetching %s %s%s", component.name, component.revision[:12],
                  f" from the mirror {mirror}" if mirror else "")
        sources.append(_fetch_component(tree, component, dest, gits / component.repo_name, mirror))
    for path, text in tree.placeholders:
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_text(text, encoding="utf-8")
    (dest / GENERATED).write_text(_pinned_text(tree, sources), encoding="utf-8")


def _url(component: Component, mirror: str | None) -> str:
    if mirror is None:
        return component.url
    if "://" in mirror:
        return f"{mirror.rstrip('/')}/{component.repo_name}.git"
    return (Path(mirror).expanduser().resolve() / f"{component.repo_name}.git").as_uri()


def _fetch_component(tree: PinnedTree, component: Component, dest: Path, gitdir: Path, mirror: str | None) -> str:
    """Clone one component into dest/component.dest, trimmed and patched; checked; its source line."""
    url = _url(component, mirror)
    target = dest / component.dest
    target.mkdir(parents=True, exist_ok=True)
    git(["init", "--quiet", str(gitdir)])
    repository = ["--git-dir", str(gitdir / ".git"), "--work-tree", str(target)]
    ref = _fetch_ref(tree, component, url, repository, mirror)
    fetched = git([*repository, "rev-parse", "FETCH_HEAD^{commit}"]).strip()   # a tag peeled to its commit
    if ref == component.upstream_ref and component.is_commit and fetched != component.revision:
        raise FetchError(f"{url} answered {component.revision} with commit {fetched}",
                         f"fetch from the upstream repository ({component.url}) or a faithful mirror")
    try:
        git([*repository, "checkout", "--quiet", "FETCH_HEAD", "--", *component.keep], cwd=target)
    except GitFailed as exc:   # a kept path the revision lacks: the pin and the repository disagree
        raise FetchError(f"{component.name} at {component.revision} from {url} lacks a pinned path ({exc})",
                         "fetch from the upstream repository or a faithful mirror") from None
    _drop(target, component.drop)
    if component.patch is not None:
        _apply(tree, component, dest, repository, target)
    digest = tree_digest(target, tree.excluded(component))
    if digest != component.digest:
        raise FetchError(f"{component.name} from {url} ({ref}) is not the pinned content (digest {digest[:16]}, "
                         f"pinned {component.digest[:16]})",
                         "fetch from the upstream repository or a faithful mirror; nothing was added to the cache")
    return f"{url} {ref} ({fetched[:12]})"


def _fetch_ref(tree: PinnedTree, component: Component, url: str, repository: list[str], mirror: str | None) -> str:
    """Fetch the pinned revision (depth 1); from a mirror, its `pinned/<revision>` tag if it lacks the
    upstream ref. The ref that answered."""
    refs = [component.upstream_ref] + ([component.mirror_ref] if mirror else [])
    failure = ""
    for ref in refs:
        try:
            git([*repository, "fetch", "--quiet", "--depth", "1", "--no-tags", url, ref])
            return ref
        except GitFailed as exc:
            failure = str(exc)
    source = f"the mirror ({mirror}, set by {MIRROR_ENV})" if mirror else "the internet"
    raise FetchUnreachableError(f"cannot fetch {component.name} {component.revision} from {url}: {failure}",
                     f"connect to {source} and run `{command_name()} fetch --{tree.name}` again, or pass "
                     f"--{tree.name}_dir DIR with a tree you have (docs/fetch.md)")


def _drop(target: Path, patterns: tuple[str, ...]) -> None:
    if not patterns:
        return
    for directory, _subdirs, files in os.walk(target):
        for name in files:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
                os.remove(os.path.join(directory, name))


def _apply(tree: PinnedTree, component: Component, dest: Path, repository: list[str], target: Path) -> None:
    # As TFLM's download scripts apply it (bash_helpers.sh: apply_patch_to_folder).
    patch = dest / str(component.patch)
    try:
        git([*repository, "apply", "--ignore-space-change", "--ignore-whitespace", str(patch)], cwd=target)
    except GitFailed as exc:
        raise FetchError(f"{component.patch} does not apply to {component.name} {component.revision} ({exc})",
                         "fetch from the upstream repository or a faithful mirror") from None


def _pinned_text(tree: PinnedTree, sources: list[str]) -> str:
    """PINNED.md of a fetched tree; helpers/targets/tree.py reads TFLM's revision from its table."""
    rows = [f"| {c.name} | `{c.dest}` | {c.revision} | {source} |" for c, source in zip(tree.components, sources)]
    return "\n".join([
        f"# {tree.title}, fetched by mcu-deploy", "",
        "Each component was checked out at its pinned revision, trimmed to the paths and patched as",
        "helpers/fetch/pins.py records, and its files checked against the content digest recorded there.", "",
        "| component | where | revision | fetched from |", "| --- | --- | --- | --- |", *rows, "",
    ])
