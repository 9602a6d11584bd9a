"""Field encryption of personal data at rest (等保 L3 数据保密性, PIPL art. 51): the key lives outside
the database, in ``PLANWATCH_DATA_KEY`` or a key file only the service account can read."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from planwatch.config import Settings
from planwatch.errors import PlanwatchError

UNREADABLE = "[无法解密 / unreadable: wrong data key]"


class KeyMissingError(PlanwatchError):
    status_code = 500


def ensure_key_file(path: Path) -> bool:
    """Create a new key file (mode 0600) if there is none; return whether one was created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return True


@lru_cache(maxsize=8)
def _fernet(key: bytes) -> Fernet:
    return Fernet(key)


def cipher(settings: Settings) -> Fernet:
    if settings.data_key is not None:
        return _fernet(settings.data_key.get_secret_value().encode())
    if not settings.key_file.exists():
        msg = f"no data key: set PLANWATCH_DATA_KEY or create the key file {settings.key_file} with `planwatch init`"
        raise KeyMissingError(msg)
    return _fernet(settings.key_file.read_bytes().strip())


def encrypt(settings: Settings, value: str | None) -> str | None:
    return None if value is None else cipher(settings).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(settings: Settings, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return cipher(settings).decrypt(value.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        return UNREADABLE
