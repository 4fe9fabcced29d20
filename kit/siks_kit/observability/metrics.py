"""Prometheus metrics of a service, served as text on `GET /metrics`.

Names follow Prometheus and OpenTelemetry conventions, with `siks_` for our own. Labels name
routes (templates, never concrete paths), topics, partitions, collections, outside systems
and kinds of reason: never a NIK, a name, an id or a free text, so no label carries personal
data and none grows without bound. Each service is its own process, so prometheus-client's
process-wide default collection is the service's."""

import logging
import weakref
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

__all__ = ["CONTENT_TYPE_LATEST", "render", "HTTP_DURATION", "BATCH_SIZE", "CONSUMED", "CONSUMER_LAG", "DEAD_LETTERS",
           "OUTBOX_PUBLISHED", "OUTSIDE_DURATION", "UNMATCHED", "BATCH_ADMISSION_WAIT", "BATCH_ADMISSION_RATE", "count_unmatched", "on_scrape"]

HTTP_DURATION = Histogram("http_server_request_duration_seconds", "HTTP requests by route, method and status",
                          ["http_route", "http_request_method", "http_response_status_code"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BATCH_SIZE = Histogram("siks_consumer_batch_size", "records per consumed batch", ["topic"],
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
# Per partition, so that replicas of one consumer show which partitions each one worked.
CONSUMED = Counter("siks_consumer_records_total", "records processed and acknowledged, per topic and partition",
                   ["topic", "partition"])
CONSUMER_LAG = Gauge("siks_consumer_lag", "records behind the partition's end, as of the last batch",
                     ["topic", "partition"])
DEAD_LETTERS = Counter("siks_dead_letters_total", "records sent to a dead-letter topic", ["topic", "reason"])
OUTBOX_PUBLISHED = Counter("siks_outbox_published_total", "outbox entries published", ["collection"])
UNMATCHED = Counter("siks_events_unmatched_total",
                    "events about a record this service does not hold: counted and logged, not dead-lettered",
                    ["type"])
OUTSIDE_DURATION = Histogram("siks_outside_request_duration_seconds", "calls to outside systems, retries included",
                             ["system", "outcome"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BATCH_ADMISSION_WAIT = Histogram("siks_batch_admission_wait_seconds",
                                 "how long batch requests waited for their turn (SIKS_BATCH_ITEMS_PER_SECOND)",
                                 ["batch"], buckets=(0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
BATCH_ADMISSION_RATE = Gauge("siks_batch_admission_items_per_second",
                             "batch items let in a second now, as the single requests allow (0: no limit; "
                             "SIKS_BATCH_SINGLE_P90_MS)")

UNMATCHED_LOG_EVERY = 1000


def count_unmatched(event_type: str, log: logging.Logger) -> None:
    """An event about a record this service never held (another system's, or one made before
    it started): nothing to decide, and no reason to dead-letter it, but not dropped
    silently either. Counted; logged on the first and then every thousandth, without ids."""
    counter = UNMATCHED.labels(event_type)
    counter.inc()
    seen = int(counter._value.get())
    if seen == 1 or seen % UNMATCHED_LOG_EVERY == 0:
        log.warning("%d %s events so far about records this service does not hold (siks_events_unmatched_total)",
                    seen, event_type)


Sample = tuple[str, str, dict[str, str], float]  # (name, help, labels, value)
_live: list[weakref.WeakMethod | Callable[[], Iterable[Sample]]] = []


def on_scrape(method: Callable[[], Iterable[Sample]]) -> None:
    """Gauges computed when scraped (an outbox's backlog, say); a bound method is held weakly,
    so an object that goes away stops reporting."""
    _live.append(weakref.WeakMethod(method) if hasattr(method, "__self__") else method)


class _Live:
    """The on-scrape gauges, as one collector (prometheus-client asks it to `collect`)."""

    def collect(self):
        families: dict[str, GaugeMetricFamily] = {}
        for ref in list(_live):
            fn = ref() if isinstance(ref, weakref.WeakMethod) else ref
            if fn is None:
                _live.remove(ref)
                continue
            for name, help_, labels, value in fn():
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(name, help_, labels=sorted(labels))
                family.add_metric([labels[k] for k in sorted(labels)], value)
        yield from families.values()


REGISTRY.register(_Live())


def render() -> bytes:
    return generate_latest(REGISTRY)
