"""The sweep's spreadsheet: one sheet per model, and a summary sheet that ranks the combinations
within tolerance by flash (the linked firmware where targets ran, else the model's size) and by
the instructions per inference the targets counted."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

SUMMARY_SHEET = "summary"


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Combinations within tolerance, best first: smallest flash, then fewest instructions."""
    if table.empty or "within_tolerance" not in table:
        return pd.DataFrame(columns=["rank", "model"])
    within = table[table["within_tolerance"].fillna(False).astype(bool)].copy()
    if "error" in within:
        within = within[within["error"].isna()]
    within["flash_bytes"] = within.get("target_flash_bytes", pd.Series(dtype=float)).fillna(within["size_bytes"])
    keys = ["flash_bytes"] + (["target_instructions"] if "target_instructions" in within else [])
    within = within.sort_values(keys, na_position="last", kind="stable")
    within.insert(0, "rank", range(1, len(within) + 1))
    return within.reset_index(drop=True)


def _sheet_name(model: str, taken: set[str]) -> str:
    """OpenDocument sheet names: at most 31 characters, unique, no []:*?/\\."""
    name = "".join("_" if c in "[]:*?/\\" else c for c in model)[:31] or "model"
    base, number = name, 2
    while name in taken or name == SUMMARY_SHEET:
        suffix = f"_{number}"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name)
    return name


def write_tables(table: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """config_combinations.ods (the summary sheet, then one sheet per model) and .csv (every row,
    with its model)."""
    ods, csv = folder / "config_combinations.ods", folder / "config_combinations.csv"
    table.to_csv(csv, index=False)
    taken: set[str] = set()
    with pd.ExcelWriter(ods, engine="odf") as writer:
        summary(table).to_excel(writer, sheet_name=SUMMARY_SHEET, index=False)
        for model, rows in table.groupby("model", sort=False):
            rows.drop(columns=["model"]).to_excel(writer, sheet_name=_sheet_name(str(model), taken), index=False)
    return ods, csv
