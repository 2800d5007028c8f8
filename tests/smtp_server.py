#!/usr/bin/python3
"""Loopback SMTP test server (aiosmtpd) for tests/unit/test_notify_email.c.

Run it with Debian's /usr/bin/python3 (python3-aiosmtpd); another python3
first on PATH may lack aiosmtpd.

Stores each accepted message as DIR/NNNN.eml (the DATA bytes as received,
dot-stuffing undone) + DIR/NNNN.json ({mail_from, rcpt_tos, peer, tls,
auth_user, helo}); the .json appears last and atomically, so tests poll it.
Writes the bound port to --port-file once listening (use --port 0 for a
kernel-chosen free port).  SIGTERM / SIGINT stop it.

TLS: --tls-cert/--tls-key offer STARTTLS (--require-tls makes it mandatory
before MAIL); with --smtps the whole session is TLS (implicit, smtps://).
Without --tls-cert the server does not offer STARTTLS at all.
AUTH: --auth user:password enables AUTH PLAIN/LOGIN (only after STARTTLS
when TLS is configured); --auth-required refuses MAIL before AUTH.

Fault injection:
  --fail-rcpt ADDR      550 5.1.1 to RCPT TO:<ADDR> (repeatable)
  --tempfail-rcpt ADDR  451 4.2.1 to RCPT TO:<ADDR> (repeatable)
  --fail-mail           553 5.7.1 to every MAIL FROM
  --tempfail-data N     451 4.3.0 at the end of DATA for the first N messages
  --fail-data           554 5.6.0 at the end of DATA for every message
(a refused message is not stored; the message counter still advances).
"""
import argparse, asyncio, json, os, signal, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--dir", required=True)
ap.add_argument("--tls-cert"); ap.add_argument("--tls-key")
ap.add_argument("--require-tls", action="store_true")
ap.add_argument("--smtps", action="store_true", help="implicit TLS (smtps://) instead of STARTTLS")
ap.add_argument("--auth", help="user:password; enables AUTH PLAIN/LOGIN")
ap.add_argument("--auth-required", action="store_true")
ap.add_argument("--fail-rcpt", action="append", default=[])
ap.add_argument("--tempfail-rcpt", action="append", default=[])
ap.add_argument("--fail-mail", action="store_true")
ap.add_argument("--tempfail-data", type=int, default=0)
ap.add_argument("--fail-data", action="store_true")
a = ap.parse_args()
os.makedirs(a.dir, exist_ok=True)

class Handler:
    n = 0
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if a.fail_mail:
            return "553 5.7.1 sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in a.fail_rcpt:
            return "550 5.1.1 no such user"
        if address in a.tempfail_rcpt:
            return "451 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        if Handler.n <= a.tempfail_data:
            return "451 4.3.0 try again later"
        if a.fail_data:
            return "554 5.6.0 message refused"
        base = os.path.join(a.dir, "%04d" % Handler.n)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                "peer": list(session.peer[:2]), "tls": a.smtps or session.ssl is not None,
                "auth_user": (session.auth_data.login.decode()
                              if isinstance(session.auth_data, LoginPassword) else None),
                "helo": session.host_name}
        for ext, data in ((".eml", envelope.original_content or envelope.content),
                          (".json", json.dumps(meta).encode())):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".tmp", base + ext)   # atomic: tests poll *.json
        return "250 2.0.0 OK queued as %04d" % Handler.n

def authenticator(server, session, envelope, mechanism, auth_data):
    user, pw = a.auth.split(":", 1)
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
          and auth_data.password.decode() == pw)
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

async def main():
    tls = None
    if a.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.tls_cert, a.tls_key)
    kw = dict(hostname="smtp.test", tls_context=None if a.smtps else tls,
              require_starttls=a.require_tls and not a.smtps,
              decode_data=False, ident="infra-test-smtp")
    if a.auth:
        kw.update(authenticator=authenticator, auth_required=a.auth_required,
                  auth_require_tls=bool(tls) and not a.smtps)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(Handler(), **kw), a.host, a.port,
                                   ssl=tls if a.smtps else None)
    port = srv.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f: f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    print("listening %s:%d" % (a.host, port), flush=True)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT): loop.add_signal_handler(s, stop.set)
    await stop.wait()
    srv.close(); await srv.wait_closed()

asyncio.run(main())
