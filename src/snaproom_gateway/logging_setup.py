"""Process-wide logging: one line per record, level from LOG_LEVEL."""

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    logging.getLogger("snaproom_gateway").setLevel(level.upper())
    # aiokafka logs every failed bootstrap at ERROR with a traceback; our own line says enough.
    floor = max(logging.WARNING, logging.getLevelName(level.upper()))
    logging.getLogger("aiokafka").setLevel(floor)
