"""Settings: one validated object read from the environment at the entry point.

Logic and adapters receive plain values from here; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from contact_router.customers.keys import is_supported_region
from contact_router.errors import ConfigurationError

INSTANCE_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):instance/(?P<id>[A-Za-z0-9-]{1,100})$"
)

# DomainName in the customer-profiles botocore model.
PROFILES_DOMAIN_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class InstanceArn:
    arn: str
    instance_id: str
    region: str
    account: str


def parse_instance_arn(env: Mapping[str, str], problems: list[str]) -> InstanceArn | None:
    """CONNECT_INSTANCE_ARN and its parts; None (and a problem for the operator) when it is not one."""
    raw = env.get("CONNECT_INSTANCE_ARN", "").strip()
    match = INSTANCE_ARN_RE.match(raw)
    if match is None:
        problems.append(
            "CONNECT_INSTANCE_ARN must be an Amazon Connect instance ARN "
            f"(arn:aws:connect:REGION:ACCOUNT:instance/ID), got {raw!r}"
        )
        return None
    return InstanceArn(raw, match.group("id"), match.group("region"), match.group("account"))


# Operations CONNECT_API_QUOTAS may name (the ones the functions call; SearchProfiles is Customer Profiles').
PACEABLE = frozenset(
    {
        "AssociateContactWithUser",
        "DescribeContact",
        "DescribeUser",
        "GetContactAttributes",
        "GetCurrentUserData",
        "ListRoutingProfileQueues",
        "MonitorContact",
        "SearchContacts",
        "SearchProfiles",
        "SearchUsers",
        "UpdateContactRoutingData",
    }
)


def parse_quotas(text: str) -> dict[str, float]:
    """``"AssociateContactWithUser=2,GetCurrentUserData=2"`` -> {operation: requests per second}."""
    quotas: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in PACEABLE:
            raise ValueError(f"{item!r}: expected Operation=rate with an operation among {sorted(PACEABLE)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"{item!r}: the rate must be a number of requests per second") from None
        if rate <= 0:
            raise ValueError(f"{item!r}: the rate must be above 0")
        quotas[name] = rate
    return quotas


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class RulesSourceKind(StrEnum):
    BUNDLED = "bundled"
    FILE = "file"
    SSM = "ssm"
    APPCONFIG = "appconfig"


@dataclass(frozen=True)
class RulesSource:
    kind: RulesSourceKind
    file: str | None = None
    ssm_parameter: str | None = None
    appconfig_application: str | None = None
    appconfig_environment: str | None = None
    appconfig_profile: str | None = None
    cache_seconds: int = 300

    def describe(self) -> str:
        match self.kind:
            case RulesSourceKind.FILE:
                return f"file:{self.file}"
            case RulesSourceKind.SSM:
                return f"ssm:{self.ssm_parameter}"
            case RulesSourceKind.APPCONFIG:
                return f"appconfig:{self.appconfig_application}/{self.appconfig_environment}/{self.appconfig_profile}"
            case _:
                return "bundled"


@dataclass(frozen=True)
class Settings:
    instance_arn: str
    instance_id: str
    region: str
    account: str
    rules: RulesSource
    dry_run: bool = False
    route_voice: bool = False
    allowed_agent_arn_pattern: str = ""
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = 86_400
    dead_letter_queue_url: str | None = None
    router_queue_url: str | None = None  # the router's own queue, for delayed re-checks (fallback: wait)
    user_cache_seconds: int = 300
    affinity_table: str | None = None
    customer_key_secret_arn: str | None = None
    customer_profile_attribute: str | None = "customerProfileId"
    customer_profiles_domain: str | None = None  # Customer Profiles domain of the customer_profile source; None = off
    phone_default_region: str | None = None  # country of numbers written without one; None = such numbers are no key
    affinity_retention_days: int = 90
    connect_quotas: Mapping[str, float] = field(default_factory=dict)  # account quotas to pace by
    max_concurrency: int = 1  # concurrent executions sharing those quotas
    # The source queue's redrive maxReceiveCount: the last receive dead-letters a failure with its reason.
    max_receive_count: int | None = None
    allow_barge: bool = False
    supervised_channels: frozenset[str] = frozenset({"VOICE", "CHAT"})

    @property
    def pacing_rates(self) -> dict[str, float]:
        """Each execution's share of the account's quotas."""
        return {op: quota / self.max_concurrency for op, quota in self.connect_quotas.items()}

    @classmethod
    def for_instance(cls, instance_arn: str, **overrides: object) -> Settings:
        """Settings for code and tests that already know their instance (no environment involved)."""
        env = {"CONNECT_INSTANCE_ARN": instance_arn}
        settings = cls.from_env(env)
        return _replace(settings, overrides)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate every setting; report all problems at once."""
        problems: list[str] = []

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name, "true" if default else "false").strip().lower()
            if raw in _TRUE:
                return True
            if raw in _FALSE:
                return False
            problems.append(f"{name} must be true or false, got {raw!r}")
            return default

        def number(name: str, default: int, minimum: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name} must be a whole number, got {raw!r}")
                return default
            if value < minimum:
                problems.append(f"{name} must be >= {minimum}, got {value}")
            return value

        def optional(name: str) -> str | None:
            return env.get(name, "").strip() or None

        instance_arn = env.get("CONNECT_INSTANCE_ARN", "").strip()
        parsed = parse_instance_arn(env, problems)

        kind_raw = env.get("RULES_SOURCE", "bundled").strip().lower() or "bundled"
        try:
            kind = RulesSourceKind(kind_raw)
        except ValueError:
            problems.append(f"RULES_SOURCE must be one of bundled, file, ssm, appconfig; got {kind_raw!r}")
            kind = RulesSourceKind.BUNDLED
        rules = RulesSource(
            kind=kind,
            file=optional("RULES_FILE"),
            ssm_parameter=optional("RULES_SSM_PARAMETER"),
            appconfig_application=optional("RULES_APPCONFIG_APPLICATION"),
            appconfig_environment=optional("RULES_APPCONFIG_ENVIRONMENT"),
            appconfig_profile=optional("RULES_APPCONFIG_PROFILE"),
            cache_seconds=number("RULES_CACHE_SECONDS", 300, 0),
        )
        required_by_kind = {
            RulesSourceKind.FILE: ["RULES_FILE"],
            RulesSourceKind.SSM: ["RULES_SSM_PARAMETER"],
            RulesSourceKind.APPCONFIG: [
                "RULES_APPCONFIG_APPLICATION",
                "RULES_APPCONFIG_ENVIRONMENT",
                "RULES_APPCONFIG_PROFILE",
            ],
        }
        problems.extend(
            f"{name} is required when RULES_SOURCE={kind.value}"
            for name in required_by_kind.get(kind, [])
            if not optional(name)
        )

        quotas: dict[str, float] = {}
        try:
            quotas = parse_quotas(env.get("CONNECT_API_QUOTAS", ""))
        except ValueError as exc:
            problems.append(f"CONNECT_API_QUOTAS: {exc}")
        if optional("AFFINITY_TABLE") and not optional("CUSTOMER_KEY_SECRET_ARN"):
            problems.append("CUSTOMER_KEY_SECRET_ARN is required with AFFINITY_TABLE (customer keys are keyed hashes)")
        channels = frozenset(
            c.strip().upper() for c in env.get("SUPERVISED_CHANNELS", "VOICE,CHAT").split(",") if c.strip()
        )
        unknown = sorted(channels - {"VOICE", "CHAT", "TASK", "EMAIL"})
        if unknown:
            problems.append(f"SUPERVISED_CHANNELS has unknown channels {unknown}; use VOICE, CHAT, TASK, EMAIL")

        profiles_domain = optional("CUSTOMER_PROFILES_DOMAIN")
        if profiles_domain is not None and not PROFILES_DOMAIN_RE.match(profiles_domain):
            problems.append(
                "CUSTOMER_PROFILES_DOMAIN must be a Customer Profiles domain name (1-64 letters, digits, _ or -), "
                f"got {profiles_domain!r}"
            )

        phone_region = (optional("PHONE_DEFAULT_REGION") or "").upper() or None
        if phone_region is not None and not is_supported_region(phone_region):
            problems.append(
                "PHONE_DEFAULT_REGION must be an ISO 3166-1 alpha-2 country code such as GB or US, "
                f"got {phone_region!r}"
            )

        settings = cls(
            instance_arn=instance_arn,
            instance_id=parsed.instance_id if parsed else "",
            region=parsed.region if parsed else "",
            account=parsed.account if parsed else "",
            rules=rules,
            dry_run=flag("DRY_RUN", False),
            route_voice=flag("ROUTE_VOICE", False),
            allowed_agent_arn_pattern=env.get("ALLOWED_AGENT_ARN_PATTERN", "").strip()
            or (f"{instance_arn}/agent/*" if parsed else ""),
            idempotency_table=optional("IDEMPOTENCY_TABLE"),
            idempotency_ttl_seconds=number("IDEMPOTENCY_TTL_SECONDS", 86_400, 60),
            dead_letter_queue_url=optional("DEAD_LETTER_QUEUE_URL"),
            router_queue_url=optional("ROUTER_QUEUE_URL"),
            user_cache_seconds=number("USER_CACHE_SECONDS", 300, 0),
            affinity_table=optional("AFFINITY_TABLE"),
            customer_key_secret_arn=optional("CUSTOMER_KEY_SECRET_ARN"),
            customer_profile_attribute=env.get("CUSTOMER_PROFILE_ATTRIBUTE", "customerProfileId").strip() or None,
            customer_profiles_domain=profiles_domain,
            phone_default_region=phone_region,
            affinity_retention_days=number("AFFINITY_RETENTION_DAYS", 90, 1),
            connect_quotas=quotas,
            max_concurrency=number("MAX_CONCURRENCY", 1, 1),
            max_receive_count=number("MAX_RECEIVE_COUNT", 0, 1) or None,
            allow_barge=flag("ALLOW_BARGE", False),
            supervised_channels=channels,
        )
        if problems:
            raise ConfigurationError(problems)
        return settings


def _replace(settings: Settings, overrides: Mapping[str, object]) -> Settings:
    from dataclasses import replace

    return replace(settings, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ValidatorSettings:
    """The AppConfig rules validator's settings: only the deployment's own checks (handlers/rules_validator.py)."""

    allow_barge: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ValidatorSettings:
        raw = env.get("ALLOW_BARGE", "false").strip().lower()
        if raw not in _TRUE | _FALSE:
            raise ConfigurationError([f"ALLOW_BARGE must be true or false, got {raw!r}"])
        return cls(allow_barge=raw in _TRUE)
