#!/bin/sh
# Alerts end to end against real servers: an SMTP server (aiosmtpd, with
# STARTTLS and AUTH, tests/smtp_server.py) and the loopback HTTP server for
# webhooks (tests/http_server.py).  Every message is parsed back with
# Python's email package or json module and checked field by field.
# Lifecycle with --now: firing, no repeat, reminder, escalation, resolved to
# the same people; silences; 451, 550, a wrong password, an untrusted
# certificate; each webhook format, its HMAC signature, 429/500/404; and a
# SIGKILL between spooling and sending.
. "$(dirname "$0")/lib.sh"

if ! $PY -c 'import aiosmtpd' 2>/dev/null; then
	echo "ok - notifications # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"
	exit 0
fi
SMTP="$TESTS_DIR/smtp_server.py"
HTTP="$TESTS_DIR/http_server.py"
TLS="$TESTS_DIR/data/tls"
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
      chattr -i "$T/state" "$T/state/outbox/new" 2>/dev/null; rm -rf "$T"' EXIT INT TERM

# wait_port FILE: prints the port written there by a server
wait_port() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	cat "$1" 2>/dev/null
}
# smtp NAME [ARGS]: starts an SMTP server storing into $T/NAME/, sets $port and $spid
smtp() {
	name=$1; shift
	rm -rf "$T/$name"; mkdir -p "$T/$name"
	$PY "$SMTP" --dir "$T/$name" --port-file "$T/$name.port" "$@" >"$T/$name.log" 2>&1 &
	spid=$!; pids="$pids $spid"
	port=$(wait_port "$T/$name.port")
	[ -n "$port" ] || { notok "smtp server $name started" "$(cat "$T/$name.log")"; exit 1; }
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# check NAME: runs the Python on stdin with helpers; ok when it exits 0
check() {
	name=$1
	if out=$($PY - "$T" 2>&1 <<PYEOF
import email, email.policy, glob, hashlib, hmac, json, os, sys
T = sys.argv[1]
def mails(d):
    r = []
    for j in sorted(glob.glob(os.path.join(T, d, "*.json"))):   # the server's last write
        f = j[:-5] + ".eml"
        m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
        meta = json.load(open(j))
        raw = open(f, "rb").read()
        r.append((m, meta, raw))
    return r
def hooks(prefix=""):
    r = []
    for f in sorted(glob.glob(os.path.join(T, "hooks", "*.json"))):
        h = json.load(open(f))
        if h["path"].startswith(prefix):
            r.append(h)
    return r
def to(m): return sorted(x.strip() for x in m["To"].split(","))
def text(m): return m.get_body(("plain",)).get_content()
def html(m): return m.get_body(("html",)).get_content()
def requests(prefix):
    return [r for r in map(json.loads, open(os.path.join(T, "requests.log"))) if r["path"].startswith(prefix)]
def outbox(sub): return sorted(os.listdir(os.path.join(T, "state", "outbox", sub)))
$(cat)
PYEOF
); then ok "$name"; else notok "$name" "$out"; fi
}

# ---------------------------------------------------------------- set-up
mkdir -p "$T/hooks"
$PY "$HTTP" --port-file "$T/http.port" --feed-dir "$T" --hook-dir "$T/hooks" --log "$T/requests.log" \
	>"$T/http.log" 2>&1 &
pids="$pids $!"
HP=$(wait_port "$T/http.port")
[ -n "$HP" ] || { notok "http server started" "$(cat "$T/http.log")"; exit 1; }
smtp mail; SP=$port; MAILPID=$spid
printf 'chiave-hmac-di-prova\n' >"$T/hmac.key"; chmod 600 "$T/hmac.key"

data() {   # data RAG01 RAG02 URP01: October 2026 values
	printf 'Codice;Mese;Valore\r\n' >"$T/dati.csv"
	printf 'RAG-01;01/09/2026;28\r\nRAG-01;01/10/2026;%s\r\n' "$1" >>"$T/dati.csv"
	printf 'RAG-02;01/10/2026;%s\r\n' "$2" >>"$T/dati.csv"
	printf 'URP-01;01/10/2026;%s\r\n' "$3" >>"$T/dati.csv"
}
data '47,5' '96,2' '80,25'
cat >"$T/n.conf" <<EOF
daemon = { state_dir = "state"; organization = "Comune di Prova"; admins = ["ced@comune.test"]; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; } );
indicators = (
  { id = "RAG-01"; name = "Tempo medio di pagamento delle fatture"; department = "Ragioneria";
    process = "Pagamenti"; owner = "resp.rag@comune.test"; unit = "giorni"; better = "lower";
    target = 30.0; critical = 45.0; },
  { id = "RAG-02"; name = "Fatture pagate entro i termini"; department = "Ragioneria";
    owner = "resp.rag@comune.test"; unit = "%"; target = 95.0; critical = 85.0; },
  { id = "URP-01"; name = "Reclami evasi entro 30 giorni <b>&</b>"; department = "URP";
    owner = "urp@comune.test"; unit = "%"; target = 90.0; critical = 85.0; }
);
channels = (
  { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false;
    from = "Qualità — traguardo <traguardo@comune.test>"; },
  { name = "chat"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/generic"; secret_file = "hmac.key"; }
);
routes = (
  { name = "qualita"; channels = ["posta"]; to = ["qualita@comune.test", "@owner"];
    repeat_every = "7d"; escalate_after = "14d"; escalate_to = ["direttore@comune.test"]; },
  { name = "chat"; channels = ["chat"]; min_status = "critical"; }
);
EOF

# ---------------------------------------------------------------- dry run
run "dry run" 0 "$TRAGUARDO" -c "$T/n.conf" once --dry-run --now 2026-11-10T09:00
contains "dry run says where the messages are" "$T/out" "preview/"
check "dry run: previews written, nothing sent, no outbox" <<'PY'
p = sorted(os.listdir(os.path.join(T, "state", "preview")))
assert len([f for f in p if f.endswith(".eml")]) == 3, p
assert len([f for f in p if f.endswith(".json")]) == 1, p
assert mails("mail") == [] and hooks() == []
assert not os.path.exists(os.path.join(T, "state", "outbox")), "outbox created by a dry run"
assert not os.path.exists(os.path.join(T, "state", "state.json"))
PY

# ---------------------------------------------------------------- firing
run "first cycle: problems notified" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-10T09:00
contains "once reports deliveries" "$T/out" "4 consegnate"
check "one digest per recipient, parsed back by Python's email package" <<'PY'
ms = mails("mail")
assert len(ms) == 3, [to(m) for m, _, _ in ms]
by = {tuple(to(m)): (m, meta, raw) for m, meta, raw in ms}
assert set(by) == {("qualita@comune.test",), ("resp.rag@comune.test",), ("urp@comune.test",)}, by.keys()
m, meta, raw = by[("qualita@comune.test",)]
assert m["Subject"] == "[traguardo] Comune di Prova: 2 indicatori fuori obiettivo — Ragioneria, URP" or \
       m["Subject"].startswith("[traguardo]") and "2 indicatori fuori obiettivo" in m["Subject"], m["Subject"]
assert "Ragioneria" in m["Subject"] and "URP" in m["Subject"], m["Subject"]
assert m.get_content_type() == "multipart/alternative", m.get_content_type()
t, h = text(m), html(m)
assert "47,5 giorni" in t, t
assert "80,25%" in t or "80,3%" in t, t
assert "RAG-02" not in t, "an indicator on target is in the digest"
assert t.index("Ragioneria") < t.index("URP"), "grouped by department"
assert "<b>&</b>" in t and "&lt;b&gt;&amp;&lt;/b&gt;" in h and "<b>&</b>" not in h, "HTML escaping"
assert "<script" not in h.lower() and "<svg" not in h.lower() and "http://" not in h.replace("http://www.w3.org", "")
assert m["Message-ID"] and m["Date"] and m["X-Traguardo-Event"], dict(m)
assert meta["mail_from"] == "traguardo@comune.test" and meta["rcpt_tos"] == ["qualita@comune.test"], meta
assert all(len(l) <= 998 for l in raw.split(b"\r\n")) and max(raw) < 128, "7-bit, lines <= 998"
assert "Qualità" in str(m["From"]), m["From"]
PY
check "webhook: generic (Alertmanager shape), signed with HMAC-SHA256" <<'PY'
hs = hooks("/hooks/generic")
assert len(hs) == 1, len(hs)
h = hs[0]; hd = {k.lower(): v for k, v in h["headers"].items()}; body = h["body"]
b = json.loads(body)
assert b["version"] == "4" and b["status"] == "firing" and b["receiver"] == "chat", b
assert sorted(a["labels"]["indicator"] for a in b["alerts"]) == ["RAG-01", "URP-01"], b["alerts"]
ts, sig = hd["x-traguardo-signature"].split(",")
ts = ts.split("=")[1]; sig = sig.split("=")[1]
want = hmac.new(b"chiave-hmac-di-prova", (ts + "." + body).encode(), hashlib.sha256).hexdigest()
assert sig == want, (sig, want)
assert hd["x-traguardo-event"] == b["traguardo"]["message_id"], hd
PY
check "outbox empty after delivery, state.json written" <<'PY'
assert outbox("new") == [] and outbox("failed") == [], (outbox("new"), outbox("failed"))
s = json.load(open(os.path.join(T, "state", "state.json")))
assert s, s
PY

run "next cycle: nothing repeated" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-11T09:00
check "no second message before repeat_every" <<'PY'
assert len(mails("mail")) == 3 and len(hooks()) == 1, (len(mails("mail")), len(hooks()))
PY

run "a week later: reminder" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-17T09:30
check "reminder to the same recipients, saying so" <<'PY'
ms = mails("mail")[3:]
assert sorted(tuple(to(m)) for m, _, _ in ms) == [("qualita@comune.test",), ("resp.rag@comune.test",), ("urp@comune.test",)], [to(m) for m, _, _ in ms]
assert all("Promemoria" in text(m) for m, _, _ in ms), text(ms[0][0])
ids = [m["X-Traguardo-Event"] for m, _, _ in mails("mail")]
assert len(set(ids)) == len(ids), "a new message has a new id"
PY

run "two weeks later: escalation" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-24T10:00
check "escalation adds the escalation recipient" <<'PY'
ms = mails("mail")[6:]
rc = sorted(x for m, _, _ in ms for x in to(m))
assert "direttore@comune.test" in rc and "qualita@comune.test" in rc, rc
assert all("Escalation" in text(m) for m, _, _ in ms), [text(m)[:300] for m, _, _ in ms]
PY

data '25' '96,2' '93'
before=$(ls "$T/mail"/*.json | wc -l)
run "back on target" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-25T10:00
check "resolved goes to exactly the people told, escalation included" <<PY
ms = mails("mail")[$before:]
rc = sorted(x for m, _, _ in ms for x in to(m))
assert rc == ["direttore@comune.test", "qualita@comune.test", "resp.rag@comune.test", "urp@comune.test"], rc
assert all("Rientrato" in text(m) for m, _, _ in ms), [text(m)[:300] for m, _, _ in ms]
assert any("di nuovo in obiettivo" in m["Subject"] for m, _, _ in ms), [m["Subject"] for m, _, _ in ms]
hs = hooks("/hooks/generic")
assert len(hs) == 2 and json.loads(hs[1]["body"])["status"] == "resolved", [json.loads(h["body"])["status"] for h in hs]
PY
before=$(ls "$T/mail"/*.json | wc -l)
run "after the return: silence" 0 "$TRAGUARDO" -c "$T/n.conf" once --now 2026-11-26T10:00
check "nothing more once resolved" <<PY
assert len(mails("mail")) == $before and len(hooks()) == 2, (len(mails("mail")), len(hooks()))
PY

# ---------------------------------------------------------------- silences
rm -rf "$T/state"
data '47,5' '96,2' '93'
sed 's/^routes = (/silences = ( { departments = ["Ragioneria"]; from = "2026-11-01"; until = "2026-11-15"; reason = "chiusura per inventario"; } );\nroutes = (/' "$T/n.conf" >"$T/s.conf"
before=$(ls "$T/mail"/*.json | wc -l)
run "inside a silence" 0 "$TRAGUARDO" -c "$T/s.conf" once --now 2026-11-10T09:00
check "nothing sent inside the silence" <<PY
assert len(mails("mail")) == $before, len(mails("mail"))
PY
run "the day after the silence" 0 "$TRAGUARDO" -c "$T/s.conf" once --now 2026-11-16T09:00
check "still failing when the silence ends: notified then" <<PY
ms = mails("mail")[$before:]
assert [to(m) for m, _, _ in ms] == [["qualita@comune.test", "resp.rag@comune.test"]], [to(m) for m, _, _ in ms]
assert "sospensione" in text(ms[0][0]), text(ms[0][0])[:400]
PY

# ---------------------------------------------------------------- SMTP faults
# 451 to the first DATA, then success
stop_pid "$MAILPID"
smtp tempfail --tempfail-data 1; SP2=$port; TPID=$spid
rm -rf "$T/state"
sed "s/127.0.0.1:$SP\"/127.0.0.1:$SP2\"/" "$T/n.conf" >"$T/t.conf"
data '47,5' '96,2' '93'
run "451: the message stays in the outbox" 4 "$TRAGUARDO" -c "$T/t.conf" once --now 2026-11-10T09:00
contains "451 reported" "$T/err" "451"
check "one message waiting in outbox/new" <<'PY'
assert len(outbox("new")) == 1 and mails("tempfail") == [], outbox("new")
m = json.load(open(os.path.join(T, "state", "outbox", "new", outbox("new")[0])))
assert m["attempts"] == 1 and m["next_attempt"] > m["created"], m
PY
run "next run delivers it" 0 "$TRAGUARDO" -c "$T/t.conf" once --now 2026-11-10T09:10
check "delivered once after the 451" <<'PY'
# qualita@ and the owner have the same events: one message, both in To:
ms = mails("tempfail")
assert len(ms) == 1 and outbox("new") == [], (len(ms), outbox("new"))
assert ms[0][1]["rcpt_tos"] == ["qualita@comune.test", "resp.rag@comune.test"], ms[0][1]
PY
stop_pid "$TPID"

# 550 for one of two recipients of the same message
smtp refuse --fail-rcpt b@comune.test; SP3=$port; RPID=$spid
rm -rf "$T/state"
sed -e "s/127.0.0.1:$SP\"/127.0.0.1:$SP3\"/" -e 's/to = \["qualita@comune.test", "@owner"\]/to = ["a@comune.test", "b@comune.test"]/' "$T/n.conf" >"$T/r.conf"
run "550 for one recipient (exit 4: a recipient refused)" 4 "$TRAGUARDO" -c "$T/r.conf" once --now 2026-11-10T09:00
contains "the refused recipient is reported" "$T/err" "b@comune.test"
contains "with the server's reply" "$T/err" "550"
check "the other recipient got it, in one transaction" <<'PY'
ms = mails("refuse")
assert len(ms) == 1 and ms[0][1]["rcpt_tos"] == ["a@comune.test"], [x[1] for x in ms]
assert to(ms[0][0]) == ["a@comune.test", "b@comune.test"], to(ms[0][0])
assert outbox("new") == [], outbox("new")
f = [json.load(open(os.path.join(T, "state", "outbox", "failed", n))) for n in outbox("failed")]
assert len(f) == 1 and f[0]["to"] == ["b@comune.test"] and "550" in f[0]["last_error"], f
PY
stop_pid "$RPID"

# STARTTLS + AUTH: right password, wrong password, untrusted certificate
smtp auth --tls-cert "$TLS/localhost.pem" --tls-key "$TLS/localhost.key" --require-tls \
	--auth "traguardo:giusta" --auth-required; SP4=$port; APID=$spid
printf 'giusta\n' >"$T/smtp.pw"; chmod 600 "$T/smtp.pw"
printf 'sbagliata\n' >"$T/smtp-bad.pw"; chmod 600 "$T/smtp-bad.pw"
mkconf() {   # mkconf FILE EXTRA-CHANNEL-SETTINGS
	sed -e "s|url = \"smtp://127.0.0.1:$SP\"; starttls = false;|url = \"smtp://localhost:$SP4\"; $2|" "$T/n.conf" >"$1"
}
mkconf "$T/a.conf" "ca_file = \"$TLS/ca.pem\"; username = \"traguardo\"; password_file = \"smtp.pw\";"
mkconf "$T/b.conf" "ca_file = \"$TLS/ca.pem\"; username = \"traguardo\"; password_file = \"smtp-bad.pw\";"
mkconf "$T/c.conf" "username = \"traguardo\"; password_file = \"smtp.pw\";"
rm -rf "$T/state"
run "wrong password" 4 "$TRAGUARDO" -c "$T/b.conf" once --now 2026-11-10T09:00
contains "wrong password: a clear error" "$T/err" "authentication"
lacks "the password is never logged" "$T/err" "sbagliata"
check "wrong password: nothing delivered, messages kept for a retry" <<'PY'
assert mails("auth") == [] and len(outbox("new")) == 1, (len(mails("auth")), outbox("new"), outbox("failed"))
PY
run "untrusted certificate" 4 "$TRAGUARDO" -c "$T/c.conf" once --now 2026-11-10T09:00
contains "untrusted certificate: said so" "$T/err" "certificate"
check "untrusted certificate: nothing sent" <<'PY'
assert mails("auth") == [] and len(outbox("new")) == 1, (len(mails("auth")), outbox("new"))
PY
run "right password over STARTTLS: the waiting messages go" 0 "$TRAGUARDO" -c "$T/a.conf" once --now 2026-11-10T09:05
check "delivered over TLS with AUTH, each once" <<'PY'
ms = mails("auth")
assert len(ms) == 1 and all(meta["tls"] and meta["auth_user"] == "traguardo" for _, meta, _ in ms), [x[1] for x in ms]
assert outbox("new") == []
PY
run "test-notify over STARTTLS" 0 "$TRAGUARDO" -c "$T/a.conf" test-notify posta --to prova@comune.test
contains "test-notify prints the server's answer" "$T/out" "250"
run "test-notify with a wrong password" 1 "$TRAGUARDO" -c "$T/b.conf" test-notify posta
contains "test-notify says why" "$T/err" "authentication"
run "test-notify of an unknown channel" 2 "$TRAGUARDO" -c "$T/a.conf" test-notify nessuno
stop_pid "$APID"

# a password in clear text over the network is refused
sed -e "s|url = \"smtp://127.0.0.1:$SP\"; starttls = false;|url = \"smtp://mail.comune.test:25\"; starttls = false; username = \"u\"; password_file = \"smtp.pw\";|" "$T/n.conf" >"$T/clear.conf"
run "a password over smtp:// without STARTTLS is refused" 1 "$TRAGUARDO" -c "$T/clear.conf" check
contains "and says why" "$T/err" "clear text"

# ---------------------------------------------------------------- webhooks
smtp mail2; SP5=$port
rm -rf "$T/state" "$T/hooks"/*
cat >"$T/w.conf" <<EOF
daemon = { state_dir = "state"; language = "en"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; every = "10s"; } );
indicators = (
  { id = "RAG-01"; name = "Invoice payment time \"days\" \\\\ <i>"; department = "Accounts";
    owner = "o@comune.test"; unit = "days"; better = "lower"; target = 30.0; critical = 45.0; }
);
channels = (
  { name = "generic"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/generic"; },
  { name = "teams"; type = "webhook"; format = "teams"; url = "http://127.0.0.1:$HP/hooks/teams"; },
  { name = "slack"; type = "webhook"; format = "slack"; url = "http://127.0.0.1:$HP/hooks/slack"; },
  { name = "mattermost"; type = "webhook"; format = "mattermost"; url = "http://127.0.0.1:$HP/hooks/mattermost"; },
  { name = "googlechat"; type = "webhook"; format = "googlechat"; url = "http://127.0.0.1:$HP/hooks/googlechat"; },
  { name = "flaky"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/flaky?_failfirst=1"; },
  { name = "busy"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/busy?_retryafter=600"; },
  { name = "gone"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/gone?_status=404"; },
  { name = "moved"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/moved?_redirect=http://127.0.0.1:$HP/hooks/login"; },
  { name = "chatty"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/chatty?_size=300000"; },
  { name = "cut"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/cut?_short=1"; }
);
routes = ( { channels = ["generic", "teams", "slack", "mattermost", "googlechat", "flaky", "busy", "gone",
                         "moved", "chatty", "cut"]; } );
EOF
data '47,5' '96,2' '93'
run "webhooks: one cycle" 4 "$TRAGUARDO" -c "$T/w.conf" once --now 2026-11-10T09:00
check "each webhook format, field by field" <<'PY'
def one(p):
    hs = hooks("/hooks/" + p)
    assert len(hs) == 1, (p, len(hs))
    assert {k.lower(): v for k, v in hs[0]["headers"].items()}["content-type"].startswith("application/json")
    return json.loads(hs[0]["body"])
g = one("generic")
a = g["alerts"][0]
assert g["version"] == "4" and g["status"] == "firing" and g["receiver"] == "generic"
assert a["labels"]["indicator"] == "RAG-01" and a["labels"]["status"] == "critical", a["labels"]
assert a["startsAt"].startswith("2026-11-10T09:00:00") and a["endsAt"].startswith("0001-01-01"), a
assert len(a["fingerprint"]) == 16 and 'Invoice payment time "days" \\ <i>' in json.dumps(g, ensure_ascii=False) or "<i>" in a["annotations"]["summary"], a
t = one("teams")
assert t["type"] == "message" and t["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
assert t["attachments"][0]["content"]["type"] == "AdaptiveCard"
assert "RAG-01" in json.dumps(t)
s = one("slack")
assert "text" in s and "blocks" in s and "RAG-01" in json.dumps(s)
assert "&lt;i&gt;" in json.dumps(s), "mrkdwn escaping"
mm = one("mattermost")
assert mm["username"] == "traguardo" and "RAG-01" in mm["text"]
gc = one("googlechat")
assert "RAG-01" in gc["text"]
PY
check "500 retried, 429 deferred with Retry-After, 404 and a redirect failed for good, a long 2xx delivered, a 2xx whose answer is cut short delivered" <<'PY'
assert len(requests("/hooks/flaky")) == 1 and hooks("/hooks/flaky") == []
assert len(hooks("/hooks/cut")) == 1
new = outbox("new"); failed = outbox("failed")
assert len(new) == 2, new
assert len(failed) == 2, failed
fs = {f["channel"]: f for f in (json.load(open(os.path.join(T, "state", "outbox", "failed", n))) for n in failed)}
assert set(fs) == {"gone", "moved"}, fs.keys()
assert "404" in fs["gone"]["last_error"] and "302" in fs["moved"]["last_error"], fs
assert requests("/hooks/login") == [], "the redirect was followed"
assert len(requests("/hooks/chatty")) == 1
busy = [json.load(open(os.path.join(T, "state", "outbox", "new", n))) for n in new]
busy = [b for b in busy if b["channel"] == "busy"][0]
assert busy["next_attempt"] - busy["created"] >= 590, busy
PY
lacks "webhook paths (their secret) are not logged" "$T/err" "/hooks/"
run "webhooks: the next run" 4 "$TRAGUARDO" -c "$T/w.conf" once --now 2026-11-10T09:10
check "the flaky one delivered on its second attempt" <<'PY'
assert len(requests("/hooks/flaky")) == 2 and len(hooks("/hooks/flaky")) == 1   # the 500, then the 200
assert len(outbox("new")) == 1, outbox("new")
assert len(hooks("/hooks/cut")) == 1, "a 2xx is not posted again"
PY
# the README's resend, with a copy that has a suffix in failed/ (as after a
# second failure): mv failed/ID.json.1 new/
G=$($PY -c 'import json, os, sys
d = sys.argv[1]
print([n for n in os.listdir(d) if json.load(open(os.path.join(d, n)))["channel"] == "gone"][0])' "$T/state/outbox/failed")
mv "$T/state/outbox/failed/$G" "$T/state/outbox/failed/$G.1"
mv "$T/state/outbox/failed/$G.1" "$T/state/outbox/new/"
run "webhooks: a failed copy moved back to new/" 4 "$TRAGUARDO" -c "$T/w.conf" once --now 2026-11-10T09:20
check "the copy moved back is sent again (and, 404 again, back in failed/)" <<'PY'
assert len(requests("/hooks/gone")) == 2, requests("/hooks/gone")
assert not [n for n in outbox("new") if n.endswith(".1")], outbox("new")
fs = [json.load(open(os.path.join(T, "state", "outbox", "failed", n))) for n in outbox("failed")]
assert sorted(f["channel"] for f in fs) == ["gone", "moved"], fs
PY

# ---------------------------------------------------------------- a crash between spooling and sending
# an SMTP "server" that accepts connections and never answers: the message is
# spooled and the delivery hangs; SIGKILL then; the next run delivers it once
$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)' "$T/hang.port" &
HANGPID=$!; pids="$pids $HANGPID"
HG=$(wait_port "$T/hang.port")
rm -rf "$T/state"
kconf() {   # kconf FILE PORT: one e-mail recipient, no webhook
	cat >"$1" <<EOF
daemon = { state_dir = "state"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; every = "10s"; } );
indicators = ( { id = "RAG-01"; name = "Tempo medio di pagamento"; department = "Ragioneria";
    unit = "giorni"; better = "lower"; target = 30.0; } );
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$2"; starttls = false;
    from = "traguardo@comune.test"; timeout = "30s"; } );
routes = ( { channels = ["posta"]; to = ["qualita@comune.test"]; } );
EOF
}
kconf "$T/k.conf" "$HG"
"$TRAGUARDO" -c "$T/k.conf" once --now 2026-11-10T09:00 >"$T/k.out" 2>"$T/k.err" &
KPID=$!
i=0
while [ -z "$(ls "$T/state/outbox/new" 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
kill -9 "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null
check "killed while sending: the message is in the outbox" <<'PY'
assert len(outbox("new")) == 1, outbox("new")
PY
kconf "$T/k2.conf" "$SP5"
run "after the crash, the next run" 0 "$TRAGUARDO" -c "$T/k2.conf" once --now 2026-11-10T09:05
run "and the one after" 0 "$TRAGUARDO" -c "$T/k2.conf" once --now 2026-11-10T09:10
check "delivered exactly once" <<'PY'
ms = mails("mail2")
assert len(ms) == 1, [m["Subject"] for m, _, _ in ms]
assert outbox("new") == [] and outbox("failed") == []
PY
stop_pid "$HANGPID"

# ---------------------------------------------------------------- sent.log and a crash
# A cycle's sent.log lines wait in sent.log.pending, written before its
# state: a crash after the state was saved (the file no newer than
# state.json) adds them at the next start; one before drops them, as it
# drops the cycle's staged messages.  The crash is played by moving the
# lines of a real run back into sent.log.pending.
smtp mail7; SP10=$port
rm -rf "$T/state"
kconf "$T/s.conf" "$SP10"
data '47,5' '96,2' '93'
run "sent.log: a run" 0 "$TRAGUARDO" -c "$T/s.conf" once --now 2026-11-10T09:00
grep -v '^#' "$T/state/sent.log" >"$T/state/sent.log.pending"
rm -f "$T/state/sent.log"
touch -d "@$(($(stat -c %Y "$T/state/state.json") - 60))" "$T/state/sent.log.pending"
run "sent.log: the next start, after a crash once the state was saved" 0 "$TRAGUARDO" -c "$T/s.conf" once --now 2026-11-10T09:05
contains "sent.log: the recovery is logged" "$T/err" "sent.log: the lines of the last cycle"
grep -v '^#' "$T/state/sent.log" | sed -e 's/RAG-01/RAG-99/' >"$T/state/sent.log.pending"
touch -d "@$(($(stat -c %Y "$T/state/state.json") + 60))" "$T/state/sent.log.pending"
run "sent.log: the next start, after a crash before the state was saved" 0 "$TRAGUARDO" -c "$T/s.conf" once --now 2026-11-10T09:10
check "sent.log: the lines of a saved cycle added at the next start, those of an unsaved one dropped" <<'PY'
lines = [l for l in open(os.path.join(T, "state", "sent.log")).read().splitlines() if not l.startswith("#")]
assert len(lines) == 1 and "\tRAG-01\tfiring\t" in lines[0], lines
assert not os.path.exists(os.path.join(T, "state", "sent.log.pending"))
assert len(mails("mail7")) == 1
PY

# ---------------------------------------------------------------- the daemon
# traguardo run under a NOTIFY_SOCKET listener: a message whose server hangs
# is in flight at SIGTERM; the daemon exits 0 within the bound and the
# outbox keeps it; the next start delivers it to a server that answers.
$PY -c '
import socket, sys, time, os
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$T/hang2.port" &
pids="$pids $!"
HG2=$(wait_port "$T/hang2.port")
$PY "$TESTS_DIR/notify_listen.py" "$T/notify.sock" "$T/notify" 2>"$T/notify.stderr" &
pids="$pids $!"
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rm -rf "$T/state"
kconf "$T/d.conf" "$HG2"
NOTIFY_SOCKET="$T/notify.sock" "$TRAGUARDO" -c "$T/d.conf" run >"$T/d.out" 2>"$T/d.err" &
dpid=$!
i=0
while ! grep -q "STATUS=.*outbox 1" "$T/notify" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if grep -q "STATUS=.*outbox 1" "$T/notify"; then ok "daemon: STATUS= counts the outbox"; else
	notok "daemon: STATUS= counts the outbox" "$(cat "$T/notify")" "$(cat "$T/d.err")"; fi
kill -TERM "$dpid"
i=0
while kill -0 "$dpid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$dpid" 2>/dev/null; then notok "daemon: SIGTERM ends it within 20 s"; kill -9 "$dpid"; else ok "daemon: SIGTERM ends it within 20 s"; fi
wait "$dpid"; drc=$?
[ "$drc" -eq 0 ] && ok "daemon: exit 0 after SIGTERM" || notok "daemon: exit 0 after SIGTERM" "exit $drc" "$(cat "$T/d.err")"
contains "daemon: says the outbox is kept" "$T/d.err" "outbox: 1 message kept"
check "daemon: the undelivered message is still in the outbox" <<'PY'
assert len(outbox("new")) == 1, outbox("new")
PY
smtp mail3; SP6=$port
kconf "$T/d2.conf" "$SP6"
# under a watchdog of 40 s (as systemd's WatchdogSec=40 would set it) the
# channel's timeout of 30 s is more than half: libcurl's blocking wait for
# the end of DATA could outlast the pings, and the daemon says so
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=40000000 "$TRAGUARDO" -c "$T/d2.conf" run >"$T/d2.out" 2>"$T/d2.err" &
dpid=$!
i=0
while [ -z "$(ls "$T/mail3/"*.json 2>/dev/null)" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
kill -TERM "$dpid"; wait "$dpid"
check "daemon: the next start delivers it, once" <<'PY'
ms = mails("mail3")
assert len(ms) == 1 and outbox("new") == [], (len(ms), outbox("new"))
PY
contains "daemon: a mail timeout over half the watchdog is warned about" "$T/d2.err" \
	"channel 'posta': its timeout (30s) is more than half of the service's watchdog (40s)"
contains "daemon: a CSV source's timeout over half the watchdog is warned about" "$T/d2.err" \
	"source 'dati': its timeout (30s) is more than half of the service's watchdog (40s)"
lacks "daemon: without a watchdog, no such warning" "$T/d.err" "of the service's watchdog"


# ---------------------------------------------------------------- a failed commit, then a failed cycle
# The daemon: a cycle's state is saved but its commit (staging -> new) fails
# (new/ made immutable); the next cycle cannot save its state (the state
# directory immutable too): its rollback must not take the first cycle's
# message with it.  Once the disk is writable again both are delivered.
# Root and a file system with chattr +i only; the plain build only (three
# cycles of 10 s).
wait_grep() {  # wait_grep FILE TEXT SECONDS
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
}
mkdir -p "$T/imm"
if case "$TRAGUARDO" in *build-san*) false ;; *) true ;; esac &&
   chattr +i "$T/imm" 2>/dev/null && chattr -i "$T/imm"; then
	smtp mail5; SP8=$port
	rm -rf "$T/state"
	cat >"$T/c.conf" <<EOF
daemon = { state_dir = "state"; evaluate_every = "10s"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; every = "10s"; } );
indicators = ( { id = "RAG-01"; name = "Tempo medio di pagamento"; department = "Ragioneria";
    better = "lower"; target = 30.0; },
  { id = "RAG-02"; name = "Fatture scadute"; department = "Ragioneria"; better = "lower"; target = 30.0; } );
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP8"; starttls = false;
    from = "traguardo@comune.test"; } );
routes = ( { channels = ["posta"]; to = ["qualita@comune.test"]; } );
EOF
	data '20' '10' '93'
	"$TRAGUARDO" -v -c "$T/c.conf" run >"$T/c.out" 2>"$T/c.err" &
	cpid=$!; pids="$pids $cpid"
	wait_grep "$T/state/status.json" '"status": "ok"' 15   # the first cycle
	chattr +i "$T/state/outbox/new"
	data '47,5' '10' '93'
	wait_grep "$T/c.err" "the messages go with the next cycle" 25
	chattr +i "$T/state"
	data '47,5' '48' '93'
	wait_grep "$T/c.err" "alerts wait for them" 25
	chattr -i "$T/state" "$T/state/outbox/new"
	i=0
	while [ "$(ls "$T/mail5/"*.json 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	stop_pid "$cpid"
	check "daemon: a failed commit, then a failed cycle: both messages delivered" <<'PY'
ms = mails("mail5")
got = sorted(i for m, _, _ in ms for i in ("RAG-01", "RAG-02") if i in text(m))
assert got == ["RAG-01", "RAG-02"], (got, [m["Subject"] for m, _, _ in ms], open(os.path.join(T, "c.err")).read()[-1500:])
PY
else
	echo "ok - daemon: a failed commit, then a failed cycle # SKIP needs root, chattr +i and the plain build"
fi

# ---------------------------------------------------------------- a scheduled report
smtp mail4; SP7=$port
rm -rf "$T/state"
cat >"$T/rep.conf" <<EOF
daemon = { state_dir = "state"; organization = "Comune di Prova"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; } );
indicators = ( { id = "RAG-01"; name = "Tempo medio di pagamento"; department = "Ragioneria";
    unit = "giorni"; better = "lower"; target = 30.0; } );
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP7"; starttls = false;
    from = "traguardo@comune.test"; } );
routes = ( { name = "direzione"; channels = ["posta"]; to = ["qualita@comune.test"]; min_status = "critical";
    report = { every = "month"; to = ["direttore@comune.test", "qualita@comune.test"]; }; } );
EOF
run "first run, 30 November: the last month's report is due (never sent)" 0 "$TRAGUARDO" -c "$T/rep.conf" once --now 2026-11-30T09:00
run "1 December 2026, a Tuesday: the report of November" 0 "$TRAGUARDO" -c "$T/rep.conf" once --now 2026-12-01T09:00
run "and later that day: not again" 0 "$TRAGUARDO" -c "$T/rep.conf" once --now 2026-12-01T15:00
check "one report e-mail per month, text and HTML, to the report's recipients" <<'PY'
ms = [x for x in mails("mail4") if "Riesame" in x[0]["Subject"]]
assert [m["Subject"] for m, _, _ in ms] == ["[traguardo] Comune di Prova: Riesame della direzione — ottobre 2026",
    "[traguardo] Comune di Prova: Riesame della direzione — novembre 2026"], [m["Subject"] for m, _, _ in ms]
m, meta, _ = ms[1]
assert sorted(meta["rcpt_tos"]) == ["direttore@comune.test", "qualita@comune.test"], meta
assert "RAG-01" in text(m) and "RAG-01" in html(m) and "<script" not in html(m).lower()
PY
# a long organization is cut between two characters, and the month stays
smtp mail6; SP9=$port
rm -rf "$T/state"
LONG_ORG="Comune di Sant'Agata de' Goti $($PY -c 'print("à" * 83, end="")')"
sed -e "s|organization = \"Comune di Prova\"|organization = \"$LONG_ORG\"|" \
    -e "s|smtp://127.0.0.1:$SP7|smtp://127.0.0.1:$SP9|" "$T/rep.conf" >"$T/rep2.conf"
run "a long organization: the report of November" 0 "$TRAGUARDO" -c "$T/rep2.conf" once --now 2026-12-01T09:00
check "a long organization: the report's subject is cut between two characters, the month kept" <<'PY'
ms = [x for x in mails("mail6") if "Riesame" in x[0]["Subject"]]
s = ms[-1][0]["Subject"]
assert s.endswith(": Riesame della direzione — novembre 2026") and "\ufffd" not in s, s
assert s.startswith("[traguardo] Comune di Sant'Agata de' Goti àà") and len(s.encode()) <= 199, s
PY
