"""What an operator hands Brickwork besides the TOML files — the org chart CSV and the
environment — either works or gets one line naming the problem, whatever it holds."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import BrickworkError
from bot.people.org_chart import HEADER, _parse
from bot.settings import EXPECTED, SettingsError, load_settings

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CELL = st.text(max_size=40) | st.sampled_from(["a@example.com", "boss@example.com", "", " ", '"', "\n"])
ROWS = st.lists(st.lists(CELL, max_size=4), max_size=8)


def _csv_bytes(rows: list[list[str]], header: bool) -> bytes:
    lines = ([",".join(HEADER)] if header else []) + [",".join(row) for row in rows]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@PROPERTY
@given(rows=ROWS, header=st.booleans(), junk=st.binary(max_size=40))
def test_any_org_chart_file_is_read_or_refused_in_one_line(
    rows: list[list[str]], header: bool, junk: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "org.csv"
        path.write_bytes(_csv_bytes(rows, header) + junk)
        try:
            parsed, refused, read = _parse(path)
        except BrickworkError as error:
            message = str(error)
            assert "\n" not in message and "\r" not in message and len(message) < 400, message
            return
    assert read == len(parsed) + len(refused)
    for row in refused:
        assert "\n" not in row.reason and row.line >= 1


@PROPERTY
@given(
    values=st.dictionaries(
        st.sampled_from(sorted(EXPECTED)),
        st.text(max_size=60).filter(lambda v: "\x00" not in v),
        max_size=6,
    )
)
def test_any_environment_gives_settings_or_one_line_naming_the_variable(values: dict[str, str]) -> None:
    try:
        load_settings(values)
    except SettingsError as error:
        message = str(error)
        named = message.split(" ", 1)[0].rstrip(":")
        assert "\n" not in message and named in {*EXPECTED, "configuration"}
        # A secret that is wrong is named, never repeated back.
        if named in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "OPENAI_API_KEY"):
            assert "(got" not in message
