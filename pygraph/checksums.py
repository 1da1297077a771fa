"""CRC32C as TF's file formats use it (checkpoint tables and TFRecord-framed event files), from the
`crc32c` package, imported on first use: importing it costs ~30 ms of `import pygraph`."""

from __future__ import annotations

_MASK_DELTA = 0xA282EAD8
_impl = None


def crc32c(data, value=0):
    global _impl
    if _impl is None:
        import crc32c as package

        _impl = package.crc32c
    return _impl(data, value)


def mask(crc):
    """LevelDB's masked CRC: stored CRCs are rotated so that a CRC of data that holds CRCs stays strong."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked):
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def masked_crc32c(data):
    return mask(crc32c(data))
