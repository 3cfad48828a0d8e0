"""A node's configuration: one TOML file per node (``node.toml``).

Paths in the file are relative to the file's folder. Example::

    party = "US"
    database_url = "sqlite:///node.db"
    log_origin = "molink.local/US/3f2a"

    [api]
    host = "127.0.0.1"
    port = 8701
    max_body_bytes = 262144

    [keys]
    file = "keys/party.key"
    passphrase_file = "keys/passphrase"   # or set MOLINK_PASSPHRASE

    [delivery]
    max_skew_s = 300
    batch_size = 64
    backoff_cap_s = 30
    heartbeat_s = 10

    [duty]
    realert_s = 300
    link_down_alert_s = 60
    line_test_interval_s = 3600

    [cot]                 # Cursor-on-Target TCP input (TAK streaming); off by default
    enabled = false
    host = "127.0.0.1"    # no authentication: keep it on loopback or behind TLS
    port = 8087
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from molink.errors import ConfigError

__all__ = ["ApiConfig", "CotConfig", "DeliveryConfig", "DutyConfig", "KeysConfig", "NodeConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8701, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    tls_cert: str = "tls/cert.pem"
    tls_key: str = "tls/key.pem"
    public_url: str | None = None


class KeysConfig(_Strict):
    file: str = "keys/party.key"
    passphrase_file: str | None = "keys/passphrase"  # noqa: S105 - a path


class DeliveryConfig(_Strict):
    max_skew_s: int = Field(default=300, ge=1)
    batch_size: int = Field(default=64, ge=1, le=1000)
    backoff_base_s: float = Field(default=0.25, gt=0)
    backoff_cap_s: float = Field(default=30.0, gt=0)
    heartbeat_s: float = Field(default=10.0, gt=0)
    request_timeout_s: float = Field(default=5.0, gt=0)
    checkpoint_interval_s: float = Field(default=0.5, gt=0)
    claim_lease_s: float = Field(default=30.0, gt=0)  # an outbox batch held by one worker


class DutyConfig(_Strict):
    realert_s: int = Field(default=300, ge=1)
    link_down_alert_s: int = Field(default=60, ge=1)
    line_test_interval_s: int = Field(default=3600, ge=0)  # 0 turns the line test off


class CotConfig(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8087, ge=0, le=65535)


class NodeConfig(_Strict):
    party: str
    database_url: str = "sqlite:///node.db"
    log_origin: str
    api: ApiConfig = ApiConfig()
    keys: KeysConfig = KeysConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    duty: DutyConfig = DutyConfig()
    cot: CotConfig = CotConfig()
    home: Path = Field(default=Path("."), exclude=True)

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"no node config at {path}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        try:
            return cls(**data, home=path.parent.resolve())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: {where}: {first['msg']}") from exc

    def path(self, relative: str) -> Path:
        return (self.home / relative).resolve()

    def passphrase(self) -> str:
        env = os.environ.get("MOLINK_PASSPHRASE")
        if env:
            return env
        if self.keys.passphrase_file:
            try:
                return self.path(self.keys.passphrase_file).read_text(encoding="utf-8").strip()
            except FileNotFoundError as exc:
                raise ConfigError(
                    "no passphrase: set MOLINK_PASSPHRASE or keys.passphrase_file"
                ) from exc
        raise ConfigError("no passphrase: set MOLINK_PASSPHRASE")

    def to_toml(self) -> str:
        return _to_toml(self.model_dump(exclude={"home"}, exclude_none=True))


def _to_toml(data: dict[str, Any]) -> str:
    plain = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"\n[{k}]\n" + "\n".join(f"{kk} = {_value(vv)}" for kk, vv in v.items())
        for k, v in data.items()
        if isinstance(v, dict)
    ]
    return "\n".join(plain) + "\n" + "\n".join(tables) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
