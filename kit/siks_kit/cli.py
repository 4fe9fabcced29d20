"""`siks` commands: print a development token, write the message JSON Schemas, list and
replay dead letters, show consumer lag, print a Kafka principal's client properties."""

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from siks_contracts import topics
from siks_contracts.enums import Role
from siks_contracts.schemas import message_schemas

from siks_kit.bus import dead_letters

from siks_kit.bus import kafka_access

from siks_kit.bus import lag
from siks_kit.web.auth import DEFAULT_TTL, issue_token
from siks_kit.runtime.settings import ConfigurationError, ServiceSettings


def _token(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    try:
        secret = settings.signing_secret()
        token = issue_token(secret, sub=args.sub or f"dev-{args.role}", role=Role(args.role), region=args.region,
                            ttl=timedelta(seconds=args.ttl), issuer=settings.jwt_issuer,
                            audience=settings.jwt_audience,
                            max_ttl=timedelta(seconds=settings.token_max_ttl_seconds))
    except (ValueError, ConfigurationError) as exc:
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


def _list_dead_letters(args: argparse.Namespace) -> int:
    sources = (args.topic,) if args.topic else topics.ALL
    found = asyncio.run(dead_letters.list_dead_letters(args.bootstrap, sources))
    if not found:
        print("no dead letters")
        return 0
    print(f"{'parked at (UTC)':<20} {'state':<8} {'consumer':<13} {'event type':<36} {'event id':<36} reason")
    for d in sorted(found, key=lambda d: d.timestamp_ms):
        at = datetime.fromtimestamp(d.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        state = "handled" if d.handled else "waiting"
        print(f"{at:<20} {state:<8} {d.consumer:<13} {d.event_type:<36} {d.event_id:<36} {d.reason}")
    waiting = sum(not d.handled for d in found)
    print(f"{len(found)} dead letters, {waiting} waiting (values not shown: they may hold personal data)")
    return 0


def _replay_dead_letters(args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        width = 30
        bar = "#" * (width * done // total) + "-" * (width - width * done // total)
        print(f"\r  [{bar}] {done}/{total}", end="" if done < total else "\n", flush=True)

    result = asyncio.run(dead_letters.replay(args.bootstrap, args.topic, dry_run=args.dry_run,
                                             include_unreadable=args.include_unreadable, progress=progress))
    if args.dry_run:
        print(f"{result.waiting} dead letter(s) of {args.topic} waiting; nothing sent (dry run)")
        return 0
    print(f"replayed {result.sent} dead letter(s) to {args.topic}; {result.copies} further cop(ies) of those "
          f"left out; {result.unreadable} unreadable left out" +
          ("" if args.include_unreadable or not result.unreadable else " (--include-unreadable sends them)"))
    return 0


def _lag(args: argparse.Namespace) -> int:
    found = asyncio.run(lag.consumer_lag(args.bootstrap, tuple(args.group) or lag.SERVICE_GROUPS))
    if not found:
        print("no consumer group has committed anything yet")
        return 0
    print(f"{'group':<14} {'topic':<32} {'partitions':>10} {'behind':>8}")
    for row in found:
        print(f"{row.group:<14} {row.topic:<32} {row.partitions:>10} {row.behind:>8}")
    return 0


def _kafka_config(args: argparse.Namespace) -> int:
    """librdkafka properties of one principal, one `key=value` a line (`kcat -F <file>`)."""
    try:
        access = kafka_access.for_tools(args.bootstrap, args.role)
    except LookupError as exc:
        print(f"siks kafka-config: {exc}", file=sys.stderr)
        return 2
    for key, value in access.librdkafka().items():
        print(f"{key}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siks", description="SIKS-NG developer commands")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a JWT signed with SIKS_JWT_SECRET, or with the development key "
                                         "when SIKS_ENV=development")
    token.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.SYSTEM])
    token.add_argument("--region", help="dotted Kemendagri code: a village for operator_desa, a regency/city for "
                                        "supervisor_kabkota and kepala_daerah, a regency/city or province for "
                                        "validator_bps; national roles (mensos, auditor) take none")
    token.add_argument("--sub", help="subject (user id); defaults to dev-<role>. Different values are different "
                                     "people (separation of duties)")
    token.add_argument("--ttl", type=int, default=int(DEFAULT_TTL.total_seconds()),
                       help="lifetime in seconds (default %(default)s; at most SIKS_TOKEN_MAX_TTL_SECONDS, 12 h)")
    token.set_defaults(run=_token)
    schemas = sub.add_parser("schemas", help="write the JSON Schema of every message")
    schemas.add_argument("--out", default="contracts/schemas")
    schemas.set_defaults(run=_schemas)
    dead = sub.add_parser("dead-letters", help="list the records consumers parked, or replay them")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    listing = dead_sub.add_parser("list", help="every dead letter, with its reason and whether it was replayed")
    listing.add_argument("--topic", choices=topics.ALL, help="only those that came from this topic")
    listing.set_defaults(run=_list_dead_letters)
    again = dead_sub.add_parser("replay", help="send the waiting dead letters of a topic back to it")
    again.add_argument("--topic", required=True, choices=topics.ALL, help="the topic they came from")
    again.add_argument("--dry-run", action="store_true", help="only count what waits")
    again.add_argument("--include-unreadable", action="store_true",
                       help="send back records that are no event we know, too (after a contracts fix, say)")
    again.set_defaults(run=_replay_dead_letters)
    behind = sub.add_parser("lag", help="records each service's consumer group has yet to process, per topic")
    behind.add_argument("--group", action="append", default=[], help="a service (consumer group); all four by default")
    behind.set_defaults(run=_lag)
    config = sub.add_parser("kafka-config", help="print librdkafka properties of a Kafka principal (kcat -F FILE)",
                            description="Reads the local stack's generated secrets (SIKS_STATE), or "
                                        "SIKS_KAFKA_USERNAME/PASSWORD when ROLE is that user.")
    config.add_argument("role", help="the principal: integrator (reads every public topic, writes none), "
                                     "admin, or a service name")
    config.set_defaults(run=_kafka_config)
    for p in (listing, again, behind, config):
        p.add_argument("--bootstrap", default=None,
                       help="Kafka bootstrap servers (default: SIKS_KAFKA_BOOTSTRAP, else the local stack's)")
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
