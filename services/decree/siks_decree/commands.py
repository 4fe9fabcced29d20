from pydantic import BaseModel, ConfigDict, Field
from siks_contracts.enums import Program


class DraftDecree(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    program: Program
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-12"])
