"""Case actions as sent by supervisors, validators and regents."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Verify(_Strict):
    note: str | None = Field(default=None, max_length=2000)


class Validate(_Strict):
    desil: int | None = Field(default=None, ge=1, le=10)
    note: str | None = Field(default=None, max_length=2000)


class WithReason(_Strict):
    reason_code: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class Approve(_Strict):
    case_ids: list[str] = Field(min_length=1, max_length=5000)
    reference: str = Field(min_length=1, max_length=120, description="the berita acara number")
    date: dt.date | None = None
