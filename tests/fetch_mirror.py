"""A local git mirror of the pinned trees, made from the shared trees, for testing `fetch` offline.

Each component becomes `<mirror>/<repo_name>.git`, one commit holding the component's files as
upstream has them (a patched component gets its patch reversed, so fetch has to apply it again),
tagged `pinned/<revision>`: its commits differ from upstream's, so fetch finds the content through
that tag and the content digest is what proves it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers.fetch.pins import Component, PinnedTree

_IDENTITY = ["-c", "user.name=mirror", "-c", "user.email=mirror@example.invalid", "-c", "init.defaultBranch=main"]


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, timeout=300)


def make_mirror(tree: PinnedTree, shared: Path, mirror: Path) -> Path:
    """Every component of `tree` as a repository under `mirror`, from the shared tree at `shared`."""
    mirror.mkdir(parents=True, exist_ok=True)
    for component in tree.components:
        make_repository(tree, component, shared, mirror / f"{component.repo_name}.git")
    return mirror


def make_repository(tree: PinnedTree, component: Component, shared: Path, repository: Path) -> None:
    source = shared / component.dest
    excluded = [f":(exclude){path}" for path in tree.excluded(component)]
    git("init", "--quiet", str(repository))
    if component.patch is None:
        # The shared files as they are, added straight from the shared tree (no copy: it is read-only
        # and large); the nested components and fetch's own files stay out.
        git("--git-dir", str(repository / ".git"), "--work-tree", str(source), "add", "--force", "--", ".",
            *excluded, cwd=source)
    else:
        work = repository.parent / f".{repository.name}-work"   # outside the repository: git apply is relative
        shutil.copytree(source, work)
        for path in work.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)   # the shared tree is read-only
        work.chmod(work.stat().st_mode | 0o200)
        git("apply", "-R", "--ignore-space-change", "--ignore-whitespace", str(shared / component.patch), cwd=work)
        git("--git-dir", str(repository / ".git"), "--work-tree", str(work), "add", "--force", "--", ".",
            cwd=work)
        shutil.rmtree(work)
    git("--git-dir", str(repository / ".git"), "commit", "--quiet", "-m", f"{component.name} {component.revision}")
    git("--git-dir", str(repository / ".git"), "tag", f"pinned/{component.revision}")


def altered_copy(repository: Path, copy: Path, component: Component, path: str) -> None:
    """`copy`: the mirror's repository with one file changed under the same `pinned/` tag. It shares
    the original's objects (git clone --shared), and the change is written with git's plumbing, so
    no tree is checked out: milliseconds, even for tflite-micro."""
    tag = f"pinned/{component.revision}"
    git("clone", "--quiet", "--shared", "--no-checkout", str(repository), str(copy))
    at = ["--git-dir", str(copy / ".git")]
    original = subprocess.run(["git", *at, "show", f"{tag}:{path}"], check=True, capture_output=True).stdout
    blob = subprocess.run(["git", *at, "hash-object", "-w", "--stdin"], input=original + b"\n/* altered */\n",
                          check=True, capture_output=True).stdout.decode().strip()
    git(*at, "read-tree", tag)
    git(*at, "update-index", "--cacheinfo", f"100644,{blob},{path}")
    tree = subprocess.run(["git", *at, "write-tree"], check=True, capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", *_IDENTITY, *at, "commit-tree", tree, "-m", "altered"], check=True,
                            capture_output=True, text=True).stdout.strip()
    git(*at, "tag", "-f", tag, commit)
