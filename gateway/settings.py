"""Process settings (environment, prefix ``THINKGATE_``), built once and passed down.

Routing policy is a different thing: the YAML file named by ``config`` (see :mod:`gateway.config`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THINKGATE_", frozen=True)

    config: str | None = Field(default=None, description="path of the policy YAML file")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_attempts: int = Field(
        default=3, ge=1, description="upstream attempts per request before the first byte"
    )
    health_interval: float = Field(default=5.0, gt=0, description="seconds between active /health probes")
    log_level: str = "info"
