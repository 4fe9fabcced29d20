"""`siks` developer commands: print a development token, write the message JSON Schemas."""

import argparse
import json
import sys
from pathlib import Path

from siks_contracts.enums import Role
from siks_contracts.schemas import message_schemas

from .auth import issue_token
from .settings import ServiceSettings


def _token(args: argparse.Namespace) -> int:
    try:
        token = issue_token(ServiceSettings().signing_secret(), sub=args.sub or f"dev-{args.role}",
                            role=Role(args.role), region=args.region)
    except ValueError as exc:
        print(f"siks token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _schemas(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in message_schemas().items():
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(message_schemas())} schemas to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siks", description="SIKS-NG developer commands")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a JWT signed with the development key (or SIKS_JWT_SECRET)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.SYSTEM])
    token.add_argument("--region", help="dotted Kemendagri code; national roles take none")
    token.add_argument("--sub", help="subject (user id); defaults to dev-<role>")
    token.set_defaults(run=_token)
    schemas = sub.add_parser("schemas", help="write the JSON Schema of every message")
    schemas.add_argument("--out", default="contracts/schemas")
    schemas.set_defaults(run=_schemas)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
