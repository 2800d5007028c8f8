#!/usr/bin/python3
"""Loopback HTTP(S) test server (the project's copy of the shared recipe).
GET/HEAD /feeds/NAME  -> file FEEDDIR/NAME with ETag + Last-Modified, 304 on
                         If-None-Match / If-Modified-Since.
POST|PUT /hooks/...   -> recorded as HOOKDIR/NNNN.json {method,path,headers,body}
--log FILE            -> one JSON line per request, written when the request
                         arrives (before any fault): {method, path, headers,
                         body_len}; headers keep the case the client sent.
Fault knobs on ANY request via query string:
  _delay=SEC     sleep before answering        _status=CODE  answer CODE
  _reset=1       TCP RST (SO_LINGER 0) w/o reply  _close=1     close w/o reply
  _trickle=SEC   send body 1 byte per SEC       _short=1      Content-Length lies
  _failfirst=N   first N hits of this path -> 500, then normal
  _redirect=URL  302 with Location: URL ("self": this very URL, a loop)
  _size=N        200 with N bytes of 'x' streamed in 64 KiB writes (any path)
  _chunked=1     with _size: chunked encoding, no Content-Length
  _retryafter=S  429 with Retry-After: S (S = "date:N": an HTTP-date N s ahead)
  _gzip=1        the body gzip-compressed, Content-Encoding: gzip
"""
import argparse, email.utils, gzip, hashlib, json, os, socket, ssl, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1"); ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file"); ap.add_argument("--feed-dir", required=True)
ap.add_argument("--hook-dir", required=True)
ap.add_argument("--tls-cert"); ap.add_argument("--tls-key")
ap.add_argument("--log")
a = ap.parse_args()
os.makedirs(a.hook_dir, exist_ok=True)
lock = threading.Lock(); counters = {"hook": 0}; hits = {}
logf = open(a.log, "a") if a.log else None
GONE = (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout)

def log_request(h, body_len):
    if logf is None: return
    rec = {"method": h.command, "path": h.path, "headers": dict(h.headers.items()),
           "body_len": body_len}
    with lock:
        logf.write(json.dumps(rec) + "\n"); logf.flush()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, like real servers
    def log_message(self, fmt, *args): sys.stderr.write("http: " + fmt % args + "\n")

    def faults(self):
        u = urlsplit(self.path); q = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.q, self.upath = q, u.path
        if "_delay" in q: time.sleep(float(q["_delay"]))
        if q.get("_reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close(); self.close_connection = True; return True
        if q.get("_close"):
            self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True; return True
        if "_failfirst" in q:
            with lock:
                n = hits[u.path] = hits.get(u.path, 0) + 1
            if n <= int(q["_failfirst"]): self.reply(500, b"transient\n"); return True
        if "_redirect" in q:
            loc = self.path if q["_redirect"] == "self" else q["_redirect"]
            self.reply(302, b"moved\n", extra=(("Location", loc),)); return True
        if "_retryafter" in q:
            v = q["_retryafter"]
            if v.startswith("date:"):
                v = email.utils.formatdate(time.time() + float(v[5:]), usegmt=True)
            self.reply(429, b"slow down\n", extra=(("Retry-After", v),)); return True
        if "_status" in q: self.reply(int(q["_status"]), b"injected\n"); return True
        if "_size" in q: self.stream(int(q["_size"])); return True
        return False

    def stream(self, n):
        chunked = bool(self.q.get("_chunked"))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked: self.send_header("Transfer-Encoding", "chunked")
        else: self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD": return
        block = b"x" * 65536
        try:
            while n > 0:
                b = block[:min(n, len(block))]; n -= len(b)
                if chunked: self.wfile.write(b"%x\r\n" % len(b) + b + b"\r\n")
                else: self.wfile.write(b)
            if chunked: self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except GONE:
            self.close_connection = True

    def reply(self, code, body=b"", ctype="text/plain", extra=()):
        if self.q.get("_gzip") and code == 200:
            body = gzip.compress(body); extra = tuple(extra) + (("Content-Encoding", "gzip"),)
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        if code != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) + (100 if self.q.get("_short") else 0)))
        self.end_headers()
        if self.command == "HEAD" or code == 304: return
        try:
            if "_trickle" in self.q:
                for b in body: self.wfile.write(bytes([b])); self.wfile.flush(); time.sleep(float(self.q["_trickle"]))
            else: self.wfile.write(body)
        except GONE:
            self.close_connection = True; return
        if self.q.get("_short"): self.close_connection = True

    def do_GET(self):
        log_request(self, 0)
        if self.faults(): return
        if not self.upath.startswith("/feeds/"): return self.reply(404, b"not found\n")
        fn = os.path.join(a.feed_dir, os.path.basename(self.upath))
        try:
            with open(fn, "rb") as f: body = f.read(); mtime = os.fstat(f.fileno()).st_mtime
        except OSError: return self.reply(404, b"not found\n")
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        lm = email.utils.formatdate(mtime, usegmt=True)
        hdrs = (("ETag", etag), ("Last-Modified", lm), ("Cache-Control", "no-cache"))
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if inm is not None:
            if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                return self.reply(304, extra=hdrs)
        elif ims:
            try:
                if int(mtime) <= email.utils.parsedate_to_datetime(ims).timestamp():
                    return self.reply(304, extra=hdrs)
            except (TypeError, ValueError): pass
        ctype = "application/json" if fn.endswith(".json") else "text/csv"
        self.reply(200, body, ctype, hdrs)
    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)                     # read first so RST/close is clean
        log_request(self, len(body))
        if self.faults(): return
        with lock:
            counters["hook"] += 1; i = counters["hook"]
        base = os.path.join(a.hook_dir, "%04d.json" % i)
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
               "body": body.decode("utf-8", "replace")}
        with open(base + ".tmp", "w") as f: json.dump(rec, f)
        os.rename(base + ".tmp", base)
        self.reply(int(self.q.get("_code", 200)), b'{"ok":true}\n', "application/json")
    do_PUT = do_POST

ctx = None
if a.tls_cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH); ctx.load_cert_chain(a.tls_cert, a.tls_key)
class S(ThreadingHTTPServer):
    daemon_threads = True
    def finish_request(self, request, client_address):   # TLS handshake in worker thread
        if ctx:
            request.settimeout(10)
            try: request = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as e:           # e.g. the client refused our CA
                sys.stderr.write("http: TLS handshake failed: %s\n" % e); return
        super().finish_request(request, client_address)
srv = S((a.host, a.port), H)
port = srv.server_address[1]
if a.port_file:
    with open(a.port_file + ".tmp", "w") as f: f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
import signal; signal.signal(signal.SIGTERM, lambda *x: threading.Thread(target=srv.shutdown).start())
print("listening %s:%d" % (a.host, port), flush=True)
srv.serve_forever(); srv.server_close()
