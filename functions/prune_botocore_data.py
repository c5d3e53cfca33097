"""Keep only the botocore service models the functions use (run by functions/Makefile's layer build).

botocore ships a model for every AWS service (about 440 folders, 28 MB of the 47 MB of dependencies); a client
reads only its own service's folder, plus the shared files at the top of botocore/data (endpoints.json,
partitions.json, _retry.json, sdk-default-configuration.json), which are all kept.

KEEP is every service a function creates a client for: its own adapters (adapters/aws.Clients: connect,
dynamodb, sqs, customer-profiles, secretsmanager), what Powertools makes for the rules sources (ssm,
appconfigdata) and the X-Ray SDK when tracing is on (xray); what botocore's credential chain may create (sts,
sso, sso-oidc, signin); and appconfig, lambda and events, cheap to keep for operators' diagnostics.
tests/integration/test_built_package.py creates every one of them from the pruned tree, and fails if the
functions' code asks for a client outside this list.

Usage: python prune_botocore_data.py SITE_PACKAGES
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

KEEP = frozenset(
    {
        "connect",
        "dynamodb",
        "sqs",
        "customer-profiles",
        "secretsmanager",
        "ssm",
        "appconfigdata",
        "appconfig",
        "xray",
        "sts",
        "sso",
        "sso-oidc",
        "signin",
        "lambda",
        "events",
    }
)


def prune(site_packages: Path) -> list[str]:
    """Delete every service folder of ``site_packages``/botocore/data not in KEEP; the names deleted."""
    data = site_packages / "botocore" / "data"
    if not data.is_dir():
        raise SystemExit(f"prune_botocore_data: no botocore/data under {site_packages}")
    missing = sorted(name for name in KEEP if not (data / name).is_dir())
    if missing:  # a kept service botocore does not have: a typo here, or a botocore that renamed it
        raise SystemExit(f"prune_botocore_data: botocore has no model for {', '.join(missing)}")
    removed = sorted(p.name for p in data.iterdir() if p.is_dir() and p.name not in KEEP)
    for name in removed:
        shutil.rmtree(data / name)
    return removed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: prune_botocore_data.py SITE_PACKAGES")
    removed = prune(Path(sys.argv[1]))
    sys.stdout.write(f"prune_botocore_data: kept {len(KEEP)} service models, removed {len(removed)}\n")
