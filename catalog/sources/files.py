"""Every local file the product reads is opened here: a regular file (checked with fstat on the open
descriptor, so a symlink to /dev/zero or a FIFO is refused, and opening a FIFO never blocks), read up to a cap."""

from __future__ import annotations

import os
import stat


class NotARegularFile(OSError):
    """A device, FIFO, socket or directory where a file was expected, or a file past its cap."""


def read_capped(path: str, cap: int) -> bytes:
    """The bytes of the regular file at `path`, at most `cap` of them.

    Raises:
        NotARegularFile: not a regular file, or longer than `cap`.
        OSError: it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(f"{path}: not a regular file")
        if st.st_size > cap:
            raise NotARegularFile(f"{path}: larger than {cap} bytes")
        chunks, got = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > cap:  # grew while read
                raise NotARegularFile(f"{path}: larger than {cap} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)

