#!/bin/sh
# Fault: the SMTP server and the webhook receiver are down for a whole cycle
# (nothing listens on their ports), then come up.  Must hold afterwards:
# every message spooled in the first cycle is delivered exactly once in the
# next (same ids as the files that waited in outbox/new), nothing is left in
# the outbox, and a third cycle sends nothing more.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - smtp down # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }

SP=$(free_port); HP=$(free_port)
printf 'Codice;Mese;Valore\r\nA-01;01/10/2026;50\r\nB-01;01/10/2026;60\r\nC-01;01/10/2026;70\r\n' >"$T/dati.csv"
cat >"$T/d.conf" <<EOF
daemon = { state_dir = "state"; organization = "Comune di Prova"; };
sources = ( { name = "dati"; type = "csv"; path = "dati.csv"; } );
indicators = (
  { id = "A-01"; name = "Primo"; department = "Anagrafe"; owner = "a@comune.test"; target = 90.0; },
  { id = "B-01"; name = "Secondo"; department = "Bilancio"; owner = "b@comune.test"; target = 90.0; },
  { id = "C-01"; name = "Terzo"; department = "Cultura"; owner = "c@comune.test"; target = 90.0; }
);
channels = (
  { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false;
    from = "traguardo@comune.test"; timeout = "5s"; },
  { name = "chat"; type = "webhook"; url = "http://127.0.0.1:$HP/hooks/generic"; timeout = "5s"; }
);
routes = ( { name = "owners"; channels = ["posta"]; to = ["@owner"]; },
           { name = "chat"; channels = ["chat"]; } );
EOF

run "servers down: the cycle runs, messages wait" 4 "$TRAGUARDO" -c "$T/d.conf" once --now 2026-11-10T09:00
sane "servers down"
contains "servers down: the failure is logged" "$T/err" "not delivered"
cp "$T/err" "$T/down.err"
check "servers down: 3 e-mails and 1 webhook wait in outbox/new, none failed" <<'PY'
new = ls("state/outbox/new")
assert len(new) == 4 and ls("state/outbox/failed") == [], (new, ls("state/outbox/failed"))
ms = [json.load(open(os.path.join(T, "state/outbox/new", f))) for f in new]
assert sorted(m["kind"] for m in ms) == ["email", "email", "email", "webhook"], ms
assert all(m["attempts"] == 1 and m["last_error"] for m in ms), [(m["attempts"], m["last_error"]) for m in ms]
json.dump(sorted(f[:-5] for f in new), open(os.path.join(T, "ids.json"), "w"))
PY

run "still down: the next cycle" 4 "$TRAGUARDO" -c "$T/d.conf" once --now 2026-11-10T09:30
check "still down: nothing new spooled, the same 4 retried" <<'PY'
new = ls("state/outbox/new")
assert sorted(f[:-5] for f in new) == json.load(open(os.path.join(T, "ids.json"))), new
ms = [json.load(open(os.path.join(T, "state/outbox/new", f))) for f in new]
assert all(m["attempts"] == 2 for m in ms), [m["attempts"] for m in ms]
PY

smtp mail --port "$SP"
http web --port "$HP"
run "servers up: the waiting messages go" 0 "$TRAGUARDO" -c "$T/d.conf" once --now 2026-11-10T10:00
sane "servers up"
check "servers up: each message delivered exactly once, with the ids that waited" <<'PY'
want = json.load(open(os.path.join(T, "ids.json")))
ev = events("mail")
assert all(n == 1 for n in ev.values()), ev
hooks = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(T, "hooks", "*.json")))]
hid = [{k.lower(): v for k, v in h["headers"].items()}["x-traguardo-event"] for h in hooks]
assert len(hid) == 1, hid
assert json.loads(hooks[0]["body"])["traguardo"]["message_id"] == hid[0]
got = sorted(list(ev) + hid)
assert got == want, (got, want)
assert sorted(tuple(to(m)) for m, _, _ in mails("mail")) == [("a@comune.test",), ("b@comune.test",), ("c@comune.test",)]
assert [meta["rcpt_tos"] for _, meta, _ in mails("mail")] == [[to(m)[0]] for m, _, _ in mails("mail")]
for m, _, _ in mails("mail"):
    assert m["Message-ID"].strip("<>").startswith(m["X-Traguardo-Event"]), (m["Message-ID"], m["X-Traguardo-Event"])
assert ls("state/outbox/new") == [] and ls("state/outbox/failed") == [], (ls("state/outbox/new"), ls("state/outbox/failed"))
PY

run "a third cycle" 0 "$TRAGUARDO" -c "$T/d.conf" once --now 2026-11-10T11:00
check "a third cycle sends nothing more" <<'PY'
assert len(mails("mail")) == 3, len(mails("mail"))
assert len(glob.glob(os.path.join(T, "hooks", "*.json"))) == 1
PY

exit 0
