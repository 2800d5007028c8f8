#!/usr/bin/python3
"""A fast loopback webhook receiver for the benchmark: asyncio, one thread,
HTTP/1.1 keep-alive, answers every request with 200 {"ok":true} as soon as its
body has arrived, and stores nothing (tests/http_server.py writes a file per
hook and is far slower: the figure would be the receiver's).

  GET /stats   {"requests": N, "connections": N, "bytes": N} since start or
               the last reset (these requests are not counted)
  GET /reset   zeroes the counters

Its ceiling, measured by `wrk` in the same bench, is what the webhook figure
is compared with (about 15-25k requests/s on one core of a 2020s CPU).
Writes its port to --port-file; SIGTERM stops it.
"""
import argparse, asyncio, json, os, signal

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
a = ap.parse_args()

stats = {"requests": 0, "connections": 0, "bytes": 0}
OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      b"Content-Length: 12\r\n\r\n{\"ok\":true}\n")


class Hook(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""
        self.need = -1          # body bytes still expected, -1 while in the head
        self.counted = False    # connections count at their first hook

    def data_received(self, data):
        self.buf += data
        out = []
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = self.buf[:end].decode("latin-1")
                self.buf = self.buf[end + 4:]
                line, _, rest = head.partition("\r\n")
                self.path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
                self.need = 0
                for h in rest.split("\r\n"):
                    k, _, v = h.partition(":")
                    if k.strip().lower() == "content-length":
                        self.need = int(v)
            if len(self.buf) < self.need:
                break
            if self.path not in ("/stats", "/reset"):
                stats["bytes"] += self.need
            self.buf = self.buf[self.need:]
            self.need = -1
            out.append(self.answer())
        if out:
            self.t.write(b"".join(out))

    def answer(self):
        if self.path in ("/stats", "/reset"):
            if self.path == "/reset":
                stats.update(requests=0, connections=0, bytes=0)
            body = json.dumps(stats).encode()
            return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        stats["requests"] += 1
        if not self.counted:
            self.counted = True
            stats["connections"] += 1
        return OK


async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Hook, a.host, a.port, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    srv.close()

asyncio.run(main())
