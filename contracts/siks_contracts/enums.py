"""Closed vocabularies every service speaks: roles, programmes, proposal kinds, case stages."""

from enum import StrEnum


class Role(StrEnum):
    OPERATOR_DESA = "operator_desa"  # one village
    SUPERVISOR_KABKOTA = "supervisor_kabkota"  # one regency/city (Dinas Sosial)
    VALIDATOR_BPS = "validator_bps"  # regency or province
    KEPALA_DAERAH = "kepala_daerah"  # regent/mayor of one regency/city
    MENSOS = "mensos"  # national
    AUDITOR = "auditor"  # read-only, any scope
    SYSTEM = "system"  # a service acting on an event, never a person


class Program(StrEnum):
    DTKS = "DTKS"  # entry into the register itself
    PKH = "PKH"
    BPNT = "BPNT"
    PBI_JK = "PBI_JK"
    PIP = "PIP"
    BLT_DD = "BLT_DD"


class ProposalKind(StrEnum):
    DTKS_NEW = "dtks_new"
    PROGRAM = "program"
    UPDATE = "update"
    INELIGIBILITY = "ineligibility"


class Stage(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    VERIFIED = "verified"
    VALIDATED = "validated"
    REJECTED = "rejected"
    APPROVED = "approved"
    DECREED = "decreed"


class Sex(StrEnum):
    M = "M"
    F = "F"


class Relation(StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    OTHER = "other"


class RemovalReason(StrEnum):
    """Why a household leaves a programme's roll (Kepmensos 79/HUK/2025)."""

    INELIGIBLE = "ineligible"  # tidak layak
    DECEASED = "deceased"
    MOVED = "moved"
    DUPLICATE = "duplicate"  # ganda
    GRADUATED = "graduated"


class EntryChange(StrEnum):
    """What a decree entry does to the programme's roll."""

    ADDED = "added"
    REMOVED = "removed"
