"""samconfig.toml's parameter overrides, read as SAM CLI reads them ("Key=Value", "" for an empty value)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("default", "prod")


def samconfig_overrides(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides: dict[str, str] = {}
    for item in config[env]["deploy"]["parameters"]["parameter_overrides"]:
        key, value = item.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]  # SAM unwraps quotes: Key="" is the empty value
        assert key not in overrides, f"{env}: {key} given twice"
        overrides[key] = value
    return overrides
