#!/usr/bin/python3
"""slow_proxy.py --to PORT --delay SEC --port-file FILE — a TCP proxy on
127.0.0.1 that holds back every chunk the server sends for SEC seconds
before passing it to the client (client -> server is passed at once).

Put in front of tests/smtp_server.py it makes each SMTP reply late, so an
SMTP session lasts a known while and a client can be killed in the middle
of it: after the server accepted a message and before the client heard it,
for instance.  When either side closes, the other is closed too.  Writes the
bound port to FILE (atomically) once listening; SIGTERM stops it.
"""
import argparse, asyncio, os, signal

ap = argparse.ArgumentParser()
ap.add_argument("--to", type=int, required=True)
ap.add_argument("--delay", type=float, default=0.05)
ap.add_argument("--port-file", required=True)
a = ap.parse_args()


async def pipe(r, w, delay):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            if delay:
                await asyncio.sleep(delay)
            w.write(data)
            await w.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass


async def client(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", a.to)
    except OSError:
        cw.close()
        return
    up = asyncio.ensure_future(pipe(cr, sw, 0))
    down = asyncio.ensure_future(pipe(sr, cw, a.delay))
    await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
    for t in (up, down):
        t.cancel()
    for w in (cw, sw):
        try:
            w.close()
        except Exception:
            pass


async def main():
    srv = await asyncio.start_server(client, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    srv.close()

asyncio.run(main())
