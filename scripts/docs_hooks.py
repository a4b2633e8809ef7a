"""mkdocs hook (mkdocs.yml `hooks:`): the site's Benchmarks page is BENCHMARKS.md itself, read at build time.

BENCHMARKS.md stays at the repository root, where bench/run_benchmarks.py writes it and other tools
and the issues name it; mkdocs reads pages only from docs/, and a copy there would drift.
"""
from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "benchmarks.md"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add docs/benchmarks.md to the site with BENCHMARKS.md's text."""
    source = Path(config.config_file_path).parent / "BENCHMARKS.md"
    files.append(File.generated(config, PAGE, content=source.read_text(encoding="utf-8")))
    return files
