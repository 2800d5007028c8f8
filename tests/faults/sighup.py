#!/usr/bin/python3
"""sighup.py TRAGUARDO DIR HTTP-PORT N — N SIGHUPs in a row to `traguardo run`.

Acts as systemd's NOTIFY_SOCKET itself (a datagram socket in DIR), starts
the daemon on DIR/r.conf, waits for READY=1 and for the first evaluation,
then N times: rewrites DIR/r.conf (odd: a good configuration whose target
is 100 + i, so each good reload is visible; even: a bad one, of four kinds
in turn), sends SIGHUP, and waits for RELOADING=1 and then READY=1 (a bad
one must also say "STATUS=reload failed").  VmRSS is read after the 100th
and the Nth reload.  Prints TAP-like "ok - ..." / "not ok - ..." lines for
tests/run.sh; a "# " line after a failure says why.
"""
import json, os, signal, socket, subprocess, sys, time

exe, d, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conf = os.path.join(d, "r.conf")
state = os.path.join(d, "state")
results = []


def check(name, cond, why=""):
    results.append(cond)
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond and why:
        for line in str(why).splitlines()[:30]:
            print("# " + line, flush=True)


GOOD = """daemon = {{ state_dir = "state"; language = "en"; evaluate_every = "1h"; }};
sources = (
  {{ name = "file"; type = "csv"; path = "r.csv"; every = "10s"; }},
  {{ name = "feed"; type = "http"; url = "http://127.0.0.1:{port}/feeds/f.csv"; every = "10s"; retries = 0; }}
);
indicators = (
  {{ id = "R-01"; name = "reloaded"; department = "D"; target = {target}; source = "file"; }},
  {{ id = "F-01"; name = "feed"; department = "D"; target = 1.0; source = "feed"; }}
);
channels = ( {{ name = "hook"; type = "webhook"; url = "http://127.0.0.1:{port}/hooks/x"; }} );
routes = ( {{ name = "all"; channels = ["hook"]; }} );
"""
BAD = [
    lambda t: GOOD.format(port=port, target=t).replace("target = %s;" % t, "targett = %s;" % t),
    lambda t: GOOD.format(port=port, target=t)[:-40],                       # cut: a syntax error
    lambda t: GOOD.format(port=port, target=t).replace('source = "file"', 'source = "nessuna"'),
    lambda t: GOOD.format(port=port, target=t).replace("target = %s;" % t, 'target = "cento";'),
]


def write(text):
    with open(conf + ".tmp", "w") as f:
        f.write(text)
    os.rename(conf + ".tmp", conf)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


sockpath = os.path.join(d, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sockpath)
sock.settimeout(0.2)
pending = []
said_failed = [0]   # STATUS=reload failed ... fields seen


def fields(deadline):
    """Yields notification fields until the deadline."""
    while time.monotonic() < deadline:
        if pending:
            f = pending.pop(0)
            if f.startswith("STATUS=reload failed: "):
                said_failed[0] += 1
            yield f
            continue
        try:
            msg = sock.recv(65536).decode("utf-8", "replace")
        except socket.timeout:
            continue
        pending.extend(l for l in msg.split("\n") if l)


def wait_for(pred, seconds):
    """Consumes fields until pred(field) is true; returns the fields seen."""
    seen = []
    for f in fields(time.monotonic() + seconds):
        seen.append(f)
        if pred(f):
            return True, seen
    return False, seen


write(GOOD.format(port=port, target=100))
env = dict(os.environ, NOTIFY_SOCKET=sockpath)
asan = b"__asan_init" in open(exe, "rb").read()
# ASan's allocator (shadow memory, size classes) moves RSS by a few MB on its
# own; there LeakSanitizer at exit is the leak check, RSS only a coarse one
allow_kb = 6144 if asan else 2048
if asan:
    # ASan's quarantine (256 MB of freed memory held back) would look like a leak;
    # LeakSanitizer still checks at exit
    env["ASAN_OPTIONS"] = "quarantine_size_mb=0:" + env.get("ASAN_OPTIONS", "")
err = open(os.path.join(d, "daemon.err"), "wb")
p = subprocess.Popen([exe, "-c", conf, "run"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=err)
try:
    okr, seen = wait_for(lambda f: f == "READY=1", 10)
    check("daemon started (READY=1)", okr, "\n".join(seen))
    okr, seen = wait_for(lambda f: f.startswith("STATUS=2 indicators:"), 10)
    check("first evaluation after the sources ran", okr, "\n".join(seen))
    t0 = time.monotonic()
    last_good, rss100, failures, slow = 100, None, [], []
    for i in range(1, n + 1):
        good = i % 2 == 1
        if good:
            last_good = 100 + i
            write(GOOD.format(port=port, target=last_good))
        else:
            write(BAD[(i // 2) % len(BAD)](100 + i))
        t1 = time.monotonic()
        p.send_signal(signal.SIGHUP)
        ok1, seen1 = wait_for(lambda f: f == "RELOADING=1", 10)
        ok2, seen2 = wait_for(lambda f: f == "READY=1", 10)
        if not (ok1 and ok2) or (not good and not any(f.startswith("STATUS=") for f in seen2)):
            failures.append("reload %d (%s): RELOADING=1 %s, READY=1 %s; fields: %s"
                            % (i, "good" if good else "bad", ok1, ok2, seen1 + seen2))
        slow.append((time.monotonic() - t1, i))
        if p.poll() is not None:
            failures.append("reload %d: the daemon exited with %s" % (i, p.returncode))
            break
        if i == 100:
            rss100 = rss_kb(p.pid)
        if len(failures) > 5:
            break
    took = time.monotonic() - t0
    slow.sort(reverse=True)
    print("# slowest reloads: " + ", ".join("#%d %.0f ms" % (i, t * 1000) for t, i in slow[:5]), flush=True)
    check("%d SIGHUPs, each answered with RELOADING=1 then READY=1 (%.1f s)" % (n, took), not failures,
          "\n".join(failures))
    # the bad ones said so
    time.sleep(0.2)
    for f in fields(time.monotonic() + 0.3):
        pass
    check("every bad one said 'STATUS=reload failed: ...' (%d of %d)" % (said_failed[0], n // 2),
          said_failed[0] >= n // 2)
    alive = p.poll() is None
    check("still running after %d reloads" % n, alive, "exit %s" % p.returncode)
    if alive:
        rss = rss_kb(p.pid)
        check("VmRSS stable: %d kB after 100 reloads, %d kB after %d (+%d MB allowed)"
              % (rss100 or -1, rss, n, allow_kb // 1024),
              rss100 is not None and rss <= rss100 + allow_kb, "grew by %d kB" % (rss - (rss100 or 0)))
        st = json.load(open(os.path.join(state, "status.json")))
        inds = st["indicators"] if isinstance(st, dict) and "indicators" in st else st
        r = [x for x in inds if x.get("id") == "R-01"]
        check("the last good configuration is in force (status.json target %s)" % last_good,
              len(r) == 1 and r[0].get("target") == last_good, json.dumps(r)[:500])
    errtext = open(os.path.join(d, "daemon.err"), "rb").read().decode("utf-8", "replace")
    nfail = errtext.count("reload failed:")
    check("every bad configuration logged as 'reload failed' (%d of %d)" % (nfail, n // 2), nfail == n // 2,
          "\n".join([l for l in errtext.splitlines() if "reload" in l][-10:]))
    check("bad configurations logged with FILE:LINE", "r.conf:" in errtext and "targett" in errtext,
          errtext[-2000:])
finally:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        errtext = open(os.path.join(d, "daemon.err"), "rb").read().decode("utf-8", "replace")
        check("SIGTERM: exit 0", rc == 0, "exit %s\n%s" % (rc, errtext[-3000:]))
        san = [l for l in errtext.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        check("no sanitizer report (leaks included)", not san,
              errtext[errtext.find(san[0]):][:3000] if san else "")
    sock.close()
    os.unlink(sockpath)
sys.exit(0)
