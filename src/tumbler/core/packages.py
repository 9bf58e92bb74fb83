"""Lambda deployment packages: which zip entries may be unpacked."""

from __future__ import annotations

from pathlib import PurePosixPath


def unsafe_member(name: str) -> bool:
    """A zip entry that would land outside the directory it is unpacked into."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (bool(path.parts) and ":" in path.parts[0])
