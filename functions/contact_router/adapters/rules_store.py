"""Where the rules come from: the bundled file, a local file, SSM Parameter Store or AppConfig.

Remote sources are cached for ``RULES_CACHE_SECONDS`` (Powertools Parameters). A reload that fails or
yields an invalid document keeps the last good rules in force: one ERROR line ``rules reload failed`` naming
the source and each problem, and one ``RulesReloadFailed`` metric, per failed fetch or per distinct rejected
document (a rejected document is not parsed again for every record). Only the first load may fail the start.
Size limits: SSM standard parameters hold 4 KB, advanced 8 KB; AppConfig hosted configurations 2 MB; the
loader's own limits (``rules/loader.py``) are lower still.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import BotoCoreError, ClientError

from contact_router.config import RulesSource, RulesSourceKind
from contact_router.errors import ConfigurationError
from contact_router.observability import logger, metrics
from contact_router.rules.loader import (
    BUNDLED_RULES,
    RulesError,
    check_deployment,
    load_bundled_rules,
    load_rules_file,
    parse_rules,
    rules_version,
)
from contact_router.rules.model import RulesFile

if TYPE_CHECKING:
    from types_boto3_appconfigdata import AppConfigDataClient
    from types_boto3_ssm import SSMClient

RELOAD_FAILED_METRIC = "RulesReloadFailed"


class RulesProvider:
    """Implements ``RulesProviderPort``."""

    def __init__(
        self, source: RulesSource, fetch: Callable[[], str | bytes] | None = None, *, allow_barge: bool | None = None
    ) -> None:
        self._source = source
        self._fetch = fetch
        self._allow_barge = allow_barge
        self._lock = threading.Lock()
        self._text: str | bytes | None = None
        self._rejected: str | bytes | None = None  # the last document refused on reload
        self._rules: RulesFile | None = None
        self._version: str | None = None  # of the rules in force

    @property
    def source(self) -> str:
        return self._source.describe()

    @property
    def version(self) -> str | None:
        """The first 12 hex digits of the sha256 of the rules document in force (its text as loaded), the
        answer to "which rules decided this?"; None before the first load."""
        return self._version

    def current(self) -> RulesFile:
        if self._fetch is None:  # bundled or local file: read once
            if self._rules is None:
                rules = (
                    load_rules_file(self._source.file)
                    if self._source.kind is RulesSourceKind.FILE and self._source.file
                    else load_bundled_rules()
                )
                self._rules = self._check(rules)
                self._version = rules_version(self._local_text())
            return self._rules
        with self._lock:
            return self._refresh()

    def _local_text(self) -> bytes:
        if self._source.kind is RulesSourceKind.FILE and self._source.file:
            return Path(self._source.file).read_bytes()
        return resources.files("contact_router.rules").joinpath(BUNDLED_RULES).read_bytes()

    def _check(self, rules: RulesFile) -> RulesFile:
        """Deployment checks (BARGE allowed?) only where the deployment is known: the supervision function."""
        if self._allow_barge is None:
            return rules
        return check_deployment(rules, self.source, allow_barge=self._allow_barge)

    def _refresh(self) -> RulesFile:
        try:
            text = self._fetch() if self._fetch else None
            if text is None:
                raise RulesError([f"{self.source}: no rules found"])
            if self._rules is not None and text in (self._text, self._rejected):
                return self._rules
            rules = self._check(parse_rules(text, self.source))
        except (RulesError, GetParameterError, TransformParameterError, ClientError, BotoCoreError) as exc:
            problems = exc.problems if isinstance(exc, ConfigurationError) else [f"{self.source}: {exc}"]
            if self._rules is None:
                if isinstance(exc, ConfigurationError):
                    raise
                raise RulesError([f"{self.source}: cannot load rules: {exc}"]) from exc
            if isinstance(exc, RulesError):
                self._rejected = text
            logger.error(
                "rules reload failed; keeping the last good rules", rules_source=self.source, problems=problems
            )
            metrics.add_metric(name=RELOAD_FAILED_METRIC, unit=MetricUnit.Count, value=1)
            return self._rules
        self._text, self._rules, self._rejected = text, rules, None
        self._version = rules_version(text)
        return rules


def remote_fetcher(
    source: RulesSource, ssm_client: SSMClient | None = None, appconfig_client: AppConfigDataClient | None = None
) -> Callable[[], Any] | None:
    """A cached fetch function for SSM or AppConfig sources; None for bundled and file sources."""
    if source.kind is RulesSourceKind.SSM:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        ssm = SSMProvider(boto3_client=ssm_client)
        name = source.ssm_parameter or ""
        return lambda: ssm.get(name, max_age=source.cache_seconds, decrypt=True)
    if source.kind is RulesSourceKind.APPCONFIG:
        from aws_lambda_powertools.utilities.parameters import AppConfigProvider

        appconfig = AppConfigProvider(
            environment=source.appconfig_environment or "",
            application=source.appconfig_application,
            boto3_client=appconfig_client,
        )
        profile = source.appconfig_profile or ""
        return lambda: appconfig.get(profile, max_age=source.cache_seconds)
    return None
