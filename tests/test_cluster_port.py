"""The embedded cluster keeps its port across restarts (cim.db.cluster._port_free)."""

import socket

from cim.db.cluster import _port_free


def _time_wait_port() -> int:
    """A port whose only socket left is in TIME-WAIT: the listening side closed its
    connection first (as a server stopping does), then the listener went. The listener is
    PostgreSQL's kind (SO_REUSEADDR, which its connections inherit)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    conn, _ = lst.accept()
    conn.close()  # the server's side closes first: it is the one in TIME-WAIT
    cli.recv(1)
    cli.close()
    lst.close()
    return port


def test_a_port_in_time_wait_is_free_for_the_server():
    port = _time_wait_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # the old check's way
        try:
            s.bind(("127.0.0.1", port))
            plain = True
        except OSError:
            plain = False
    assert not plain, "no TIME-WAIT made: the test proves nothing"
    assert _port_free(port)


def test_a_listened_port_is_not_free():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        assert not _port_free(lst.getsockname()[1])
