"""Cockpit settings (prefix ``RISKWATCH_COCKPIT_``): where the public API is, and how the
session cookie is sealed."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CockpitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_COCKPIT_", extra="ignore")

    gateway_url: str | None = Field(
        None, description="where the cockpit calls the public API (default the gateway at "
                          "`http://HOST:GATEWAY_PORT`); it reads and writes only through it")
    session_keys: SecretStr | None = Field(
        None, description="comma-separated Fernet keys sealing the session cookie (which "
                          "holds the signed-in user's API key encrypted); the first seals, "
                          "all open; default: derived from the internal secret")
    session_hours: float = Field(8.0, gt=0, le=24 * 30,
                                 description="a session cookie expires this long after sign-in")
    cookie_secure: bool = Field(
        False, description="mark cookies `Secure` (set it when users reach the gateway over "
                           "HTTPS, as they should in production)")
    report_cache_seconds: float = Field(
        30.0, ge=0, le=3600, description="how long the cockpit reuses a report answer (per "
        "key and URL) for its pages; 0 asks the API every time (CSV downloads always do)")
    api_timeout_seconds: float = Field(10.0, gt=0, description="timeout of each API call the "
                                       "cockpit makes for a page")


@lru_cache
def get_cockpit_settings() -> CockpitSettings:
    return CockpitSettings()
