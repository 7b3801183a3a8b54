"""The fixed ports the tests' servers listen on, moved by LAKEHOUSE_TEST_PORT_OFFSET.

Two test sessions on one machine (a second checkout, say) each set another offset, so neither stops the other's
servers. SeaweedFS takes four more ports above its S3 port (master +1000, volume +1007, filer +555, and each +10000
for gRPC). Every port stays below 32768, where Linux picks the local ports of outgoing connections: a server
starting on a port that a busy session's connection holds fails (SeaweedFS's filer did). Keep offsets under 7000.
"""

from __future__ import annotations

import os

OFFSET = int(os.environ.get("LAKEHOUSE_TEST_PORT_OFFSET", "0"))


def port(base: int) -> int:
    """Return the port a test server whose usual port is `base` listens on in this session."""
    return base + OFFSET
