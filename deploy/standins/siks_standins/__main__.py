"""`python -m siks_standins`: serve the stand-ins on SIKS_HOST:SIKS_STANDINS_PORT."""

import logging
import os

import uvicorn

from .app import create_app


def main() -> None:
    level = os.environ.get("SIKS_LOG_LEVEL", "info").lower()
    # Our own access lines go to the root logger; uvicorn only configures its own loggers.
    logging.basicConfig(level=getattr(logging, level.upper(), logging.DEBUG),  # "trace" -> DEBUG
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(),
        host=os.environ.get("SIKS_HOST", "127.0.0.1"),
        port=int(os.environ.get("SIKS_STANDINS_PORT", "8010")),
        log_level=level,
        # Uvicorn's access log prints raw paths, and /dtsen/v1/desil/{nik} carries a NIK.
        access_log=False,
    )


if __name__ == "__main__":
    main()
