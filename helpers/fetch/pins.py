"""The pinned source trees: every component's git URL, revision, place, trimming, patch and digest.

These are the revisions `../shared/tflm/PINNED.md` and `../shared/micropython/PINNED.md` name, so a
tree `fetch` writes is the tree the tests prove against, file for file (tests/unit/test_fetch.py
compares them). The digests were computed from those trees (helpers/fetch/digest.py); a pin whose
revision changes must have its digest recomputed, or every fetch of it is refused.

TFLM's own make build downloads the third-party code as GitHub archives of these revisions;
fetch clones the same revisions with git instead, checks out only the paths `keep` lists (the
trimming of PINNED.md) and applies the patches TFLM's download scripts apply.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
GENERATED = "PINNED.md"          # written by fetch at the tree's root: what was fetched, from where


@dataclass(frozen=True)
class Component:
    """One git repository placed into a tree."""

    name: str                       # as PINNED.md's table names it
    url: str                        # the upstream repository
    revision: str                   # a commit, or a tag where TFLM downloads a tagged release
    dest: str                       # where it goes, relative to the tree's root ("." is the root)
    keep: tuple[str, ...]           # the paths checked out (git pathspecs); everything else is trimmed
    digest: str                     # helpers.fetch.digest.tree_digest of `dest` once fetched
    drop: tuple[str, ...] = ()      # file-name globs deleted anywhere (as TFLM's scripts delete Bazel BUILD files)
    patch: str | None = None        # a patch file in the tree, applied as TFLM's download script applies it

    @property
    def repo_name(self) -> str:
        """The repository's name: a mirror holds this component at <mirror>/<repo_name>.git."""
        return self.url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")

    @property
    def is_commit(self) -> bool:
        """Whether `revision` is a commit hash (then git itself checks what arrives) or a tag."""
        return re.fullmatch(r"[0-9a-f]{40}", self.revision) is not None

    @property
    def upstream_ref(self) -> str:
        return self.revision if self.is_commit else f"refs/tags/{self.revision}"

    @property
    def mirror_ref(self) -> str:
        """The tag a mirror whose commits differ from upstream's carries at the pinned content."""
        return f"refs/tags/pinned/{self.revision}"


@dataclass(frozen=True)
class PinnedTree:
    """A tree made of components, in fetch order: a component's `dest` lies inside an earlier one's."""

    name: str                                   # `fetch --<name>`, `--<name>_dir auto`
    title: str
    components: tuple[Component, ...]
    placeholders: tuple[tuple[str, str], ...] = ()  # (path, text) files fetch writes so make skips a download

    @property
    def key(self) -> str:
        """Changes with any pin: the cache folder of one set of pins, so new pins never reuse old trees."""
        text = "\n".join(f"{c.name} {c.revision} {c.dest} {c.digest} {c.keep} {c.patch}" for c in self.components)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def folder_name(self) -> str:
        return f"{self.name}-{self.components[0].revision[:12]}-{self.key}"

    def excluded(self, component: Component) -> tuple[str, ...]:
        """What inside `component.dest` is not its own: nested components, placeholders, PINNED.md."""
        base = PurePosixPath(component.dest)
        inner = [c.dest for c in self.components if c is not component and _inside(c.dest, base)]
        inner += [path for path, _ in self.placeholders if _inside(path, base)]
        inner += [GENERATED] if component.dest == "." else []
        return tuple(str(PurePosixPath(path).relative_to(base)) for path in inner)


def _inside(path: str, base: PurePosixPath) -> bool:
    candidate = PurePosixPath(path)
    return candidate != base and (str(base) == "." or base in candidate.parents)


TFLM = PinnedTree(
    name="tflm",
    title="TensorFlow Lite Micro with its make downloads",
    components=(
        Component(
            name="tflite-micro", url="https://github.com/tensorflow/tflite-micro",
            revision="90b983c2b3f1480642e040bbd2ddb37b998f3424", dest=".",
            # TFLM's docs/ (all but three pages) and its CI folders trimmed
            keep=(".bazelignore", ".bazelrc", ".bazelversion", ".clang-format", ".editorconfig", ".style.yapf",
                  "AUTHORS", "BUILD", "CODEOWNERS", "CONTRIBUTING.md", "LICENSE", "MODULE.bazel",
                  "MODULE.bazel.lock", "README.md", "SECURITY.md", "data", "debugging_output.md",
                  "docs/automatically_generated_files.md", "docs/continuous_integration.md", "docs/python.md",
                  "python", "signal", "tensorflow", "tflite_micro.py", "third_party", "tools"),
            digest="be8d780a7003962f5d51386d672642afd6c16a56a5fb481b74faed422e7bed9f"),
        Component(
            name="flatbuffers", url="https://github.com/google/flatbuffers", revision="v25.9.23",
            dest=f"{DOWNLOADS}/flatbuffers",
            keep=(".bazelci", ".bazelignore", ".bazelrc", ".clang-format", ".clang-tidy", ".editorconfig", ".github",
                  ".npmrc", "CMakeLists.txt", "LICENSE", "include"),
            drop=("BUILD", "BUILD.bazel"), patch="tensorflow/lite/micro/tools/make/flatbuffers.patch",
            digest="aaf12c6c3f68c97f250476d90e3e58fb32022a7e79e472f606749870c0c67e54"),
        Component(
            name="gemmlowp", url="https://github.com/google/gemmlowp",
            revision="719139ce755a0f31cbf1c37f7f98adcc7fc9f425", dest=f"{DOWNLOADS}/gemmlowp", keep=(".",),
            drop=("*BUILD",),  # download_and_extract.sh's `find -name '*BUILD' -delete`
            digest="0632c479561f05333c840d9a65ed6972e230f158cf1ae0ceb34f3a56f12c9b96"),
        Component(
            name="ruy", url="https://github.com/google/ruy",
            revision="d37128311b445e758136b8602d1bbd2a755e115d", dest=f"{DOWNLOADS}/ruy", keep=(".",), drop=("*BUILD",),
            digest="e6320b594907bb15f73b1e33694a4cb9070b40a081f29b482e8c6d9e6411ae6d"),
        Component(
            name="kissfft", url="https://github.com/mborgerding/kissfft", revision="v130",
            dest=f"{DOWNLOADS}/kissfft", keep=(".",), patch="third_party/kissfft/kissfft.patch",
            digest="96084437ec0f8b4d759afc293e641020e27194d488d918d967260a623bd9ad4e"),
        Component(
            name="CMSIS 6", url="https://github.com/ARM-software/CMSIS_6",
            revision="5782d6f8057906d360f4b95ec08a2354afe5c9b9", dest=f"{DOWNLOADS}/cmsis",
            # Core only: the documentation, validation, driver and RTOS folders trimmed
            keep=(".devcontainer", ".github", "ARM.CMSIS.pdsc", "CMSIS/Core", "LICENSE", "README.md", "gen_pack.sh"),
            digest="05356269b7dc94888016800e1bb7c730279472b96a147da5777191c3b6648184"),
        Component(
            name="Cortex_DFP", url="https://github.com/ARM-software/Cortex_DFP",
            revision="c2c70a97a20fb355815e2ead3d4a40e35a4a3cdf", dest=f"{DOWNLOADS}/cmsis/Cortex_DFP", keep=(".",),
            digest="d60625341d5481404a104409e25ccd915029996ba28b5544c8fa4458a2127013"),
        Component(
            name="CMSIS-NN", url="https://github.com/ARM-software/CMSIS-NN",
            revision="4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae", dest=f"{DOWNLOADS}/cmsis_nn",
            # no Tests/ and no documentation
            keep=(".clang-format", ".github", "ARM.CMSIS-NN.pdsc", "CMakeLists.txt", "Examples/README.md", "Include",
                  "LICENSE", "README.md", "Source", "check_pdsc.sh", "check_version_and_date.sh", "gen_pack.sh",
                  "pyproject.toml", "python", "vcpkg-configuration.json"),
            digest="306d80da34547c1af040c77e939c11cf5c87b688e99dfd06784edd064df50efb"),
    ),
    placeholders=(
        (f"{DOWNLOADS}/pigweed/README.keep",
         "Present so that TFLM's make build skips cloning pigweed, which the make build does not use.\n"),
        (f"{DOWNLOADS}/gcc_embedded/bin/README.keep",
         "Present so that TFLM's make build skips downloading an Arm toolchain: it then uses arm-none-eabi-gcc "
         "from PATH (Debian's gcc-arm-none-eabi).\n"),
    ),
)

MICROPYTHON = PinnedTree(
    name="micropython",
    title="MicroPython (the qemu port, native modules)",
    components=(
        Component(
            name="micropython", url="https://github.com/micropython/micropython",
            revision="1c3c201149f37fe8d81246191b3127bb198d6306", dest=".",
            # the qemu port and native modules only; no submodules, other ports, tests or docs
            keep=("LICENSE", "README.md", "drivers", "examples/natmod", "extmod", "lib/README.md",
                  "lib/crypto-algorithms", "lib/libm", "lib/libm_dbl", "lib/littlefs", "lib/mbedtls_errors",
                  "lib/oofatfs", "lib/re1.5", "lib/uzlib", "mpy-cross", "ports/qemu", "py", "shared", "tools"),
            digest="00fe5a51bf41f4c0ebb8206596ce0100f0c8f3c9418feafedce1464705a3e3c5"),
    ),
)

TREES = {tree.name: tree for tree in (TFLM, MICROPYTHON)}
