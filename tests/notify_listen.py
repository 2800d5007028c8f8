#!/usr/bin/python3
"""notify_listen.py SOCKET OUT — a stand-in for systemd's NOTIFY_SOCKET.

Binds an AF_UNIX datagram socket at SOCKET and appends every datagram to OUT,
one field per line ("READY=1", "STATUS=..."), each prefixed with the
listener's monotonic time in seconds and a TAB, flushed at once so that a
test can poll the file.  BARRIER=1 datagrams (and their fds) are ignored.
Runs until killed; removes SOCKET on SIGTERM.
"""
import os, signal, socket, sys, time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)

def bye(*_):
    try:
        os.unlink(path)
    finally:
        sys.exit(0)

signal.signal(signal.SIGTERM, bye)
with open(out, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
        for level, kind, data in anc:     # close passed fds (FDSTORE, BARRIER)
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for i in range(0, len(data) - len(data) % 4, 4):
                    os.close(int.from_bytes(data[i:i + 4], sys.byteorder))
        now = "%.3f" % time.monotonic()
        for line in msg.decode("utf-8", "replace").split("\n"):
            if line and line != "BARRIER=1":
                f.write(now + "\t" + line + "\n")
