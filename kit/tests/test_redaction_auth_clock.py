import logging
from datetime import UTC, datetime

import pytest
from siks_contracts.enums import Role
from siks_kit.web.auth import Unauthorized, actor_from_token, issue_token
from siks_kit.runtime.clock import ShiftedClock, clock_from, SystemClock
from siks_kit.observability.redaction import mask_digits, redact_attribute


def test_nik_runs_are_masked_anywhere():
    assert mask_digits("nik=3204052609800001 ok") == "nik=3204**********01 ok"
    assert mask_digits("12345") == "12345"


def test_url_attributes_lose_personal_query_values_but_keep_safe_ones():
    out = redact_attribute("http.target", "/v1/public/status?nik=3204052609800001&name=Siti%20Aminah&limit=5")
    assert "3204052609800001" not in out and "Siti" not in out and "limit=5" in out
    assert redact_attribute("url.query", "name=Agus&region=32.04") == "name=REDACTED&region=32.04"


def test_exception_messages_never_leave_the_process():
    assert "Agus" not in redact_attribute("exception.message", "input_value='Agus'")


KEY = "a-test-signing-key-of-32-bytes-or-more"


def test_token_round_trip_and_tampering():
    token = issue_token(KEY, sub="u1", role=Role.OPERATOR_DESA, region="3204052001")
    actor = actor_from_token(token, KEY)
    assert (actor.role, actor.region) == (Role.OPERATOR_DESA, "32.04.05.2001")
    assert actor.covers("32.04.05.2001") and not actor.covers("32.04.05.2002")
    with pytest.raises(Unauthorized):
        actor_from_token(token, "another-key-of-at-least-32-bytes!!")


def test_regional_roles_need_a_region_and_national_ones_ignore_it():
    with pytest.raises(ValueError):
        issue_token(KEY, sub="u", role=Role.SUPERVISOR_KABKOTA, region=None)
    mensos = actor_from_token(issue_token(KEY, sub="m", role=Role.MENSOS, region=None), KEY)
    assert mensos.covers("33.22.01.2001")


def test_siks_now_clocks_share_one_anchor():
    start = datetime(2026, 12, 16, 9, tzinfo=UTC)
    a, b = ShiftedClock(start, anchor=1000.0), ShiftedClock(start, anchor=1000.0)
    assert abs((a.now() - b.now()).total_seconds()) < 0.01
    assert isinstance(clock_from(None), SystemClock) and isinstance(clock_from(""), SystemClock)
    with pytest.raises(ValueError):
        ShiftedClock(datetime(2026, 12, 16))


def test_log_lines_mask_niks_in_the_message_and_in_the_traceback():
    import logging
    import sys

    from siks_kit.observability.logs import MaskingFormatter

    try:
        raise ValueError("no household for 3204052609800001")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "claim of %s failed", ("3204052609800001",),
                                   sys.exc_info())
    line = MaskingFormatter("%(message)s").format(record)
    assert "3204052609800001" not in line
    assert "claim of 3204**********01 failed" in line
    assert "ValueError: no household for 3204**********01" in line  # the traceback's last line


def test_the_access_log_names_method_path_and_status_never_the_query(caplog):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from siks_kit.web.access_log import AccessLog

    app = FastAPI()

    @app.get("/v1/public/status")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(AccessLog)
    with caplog.at_level(logging.INFO, logger="siks.access"):
        assert TestClient(app).get("/v1/public/status", params={"nik": "3204052609800001"}).status_code == 200
        assert TestClient(app).get("/nowhere").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "siks.access"]
    assert lines[0].startswith("GET /v1/public/status 200 ") and lines[1].startswith("GET /nowhere 404 ")
    assert not any("3204052609800001" in line for line in lines)


def test_json_log_lines_carry_the_trace_and_span_and_mask_niks():
    import json
    import sys

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from siks_kit.observability.logs import JsonFormatter

    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("handling") as span:
        try:
            raise ValueError("no household for 3204052609800001")
        except ValueError:
            record = logging.LogRecord("siks.t", logging.ERROR, __file__, 1, "claim of %s failed",
                                       ("3204052609800001",), sys.exc_info())
        line = JsonFormatter("registry").format(record)
        ids = f"{span.get_span_context().trace_id:032x}", f"{span.get_span_context().span_id:016x}"
    parsed = json.loads(line)
    assert (parsed["trace_id"], parsed["span_id"]) == ids
    assert parsed["service"] == "registry" and parsed["level"] == "ERROR" and parsed["logger"] == "siks.t"
    assert parsed["message"] == "claim of 3204**********01 failed"
    assert "3204052609800001" not in line and "ValueError: no household for 3204**********01" in parsed["exception"]
    digits_only = trace.SpanContext(trace_id=0x12345678901234567890123456789012, span_id=0x1234567890123456,
                                    is_remote=False)
    with trace.use_span(trace.NonRecordingSpan(digits_only)):
        line = JsonFormatter("registry").format(logging.LogRecord("t", 20, __file__, 1, "idle", (), None))
    assert json.loads(line)["span_id"] == "1234567890123456"  # an id, not a NIK: never masked
    outside = json.loads(JsonFormatter("registry").format(logging.LogRecord("t", 20, __file__, 1, "idle", (), None)))
    assert "trace_id" not in outside
