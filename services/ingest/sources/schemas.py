"""Webhook source configuration in and out (secrets go in, never out)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import SafeModel


class Adapter(enum.StrEnum):
    generic = "generic"
    zoho_crm = "zoho-crm"
    salesforce = "salesforce"
    fxiaoke = "fxiaoke"
    fxiaoke_corp = "fxiaoke-corp"


# Tokens must be 16+ characters (checked per adapter: a Fxiaoke appId is shorter).
Secret = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# As long as the `webhook_source.name` column: a longer name is a 422, never a 500.
SourceName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class SourceIn(SafeModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}]})

    secrets: list[Secret] = Field(
        min_length=1, max_length=5,
        description="generic: Standard Webhooks secrets `whsec_<base64>` (several while "
                    "rotating); zoho-crm: the channel's token; salesforce: the URL token; "
                    "fxiaoke: [token, encodingAesKey]; fxiaoke-corp: [appId, appSecret, "
                    "permanentCode, currentOpenUserId]")


class SourceOut(BaseModel):
    adapter: Adapter
    name: str = Field(description="generic: the source in /v1/webhooks/generic/{source}; "
                                  "zoho-crm: channel_id; salesforce: OrganizationId; "
                                  "fxiaoke: the app; fxiaoke-corp: the connection polled")
    secret_count: int
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
