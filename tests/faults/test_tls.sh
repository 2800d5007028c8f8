#!/bin/sh
# TLS is never downgraded: an SMTP server that does not offer STARTTLS is
# refused when starttls = true (the default), smtps:// and an https webhook
# with a certificate from an unknown CA are refused; in each case nothing
# reaches the server, the message waits in the outbox and the error says
# why.  With the right ca_file the same messages go.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - tls # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }
TLS="$TESTS_DIR/data/tls"
smtp plain; PLAIN=$port                                   # no STARTTLS offered
smtp smtps --smtps --tls-cert "$TLS/localhost.pem" --tls-key "$TLS/localhost.key"; SMTPS=$port
http web --tls-cert "$TLS/localhost.pem" --tls-key "$TLS/localhost.key"; HS=$port
printf 'Codice;Mese;Valore\r\nA-01;01/10/2026;50\r\n' >"$T/d.csv"
tconf() {   # tconf FILE CA-SETTING
	cat >"$1" <<EOF
daemon = { state_dir = "state"; language = "en"; };
sources = ( { name = "d"; type = "csv"; path = "d.csv"; } );
indicators = ( { id = "A-01"; name = "a"; department = "D"; owner = "o@comune.test"; target = 90.0; } );
channels = (
  { name = "nostarttls"; type = "email"; url = "smtp://localhost:$PLAIN"; from = "t@comune.test"; $2 },
  { name = "smtps"; type = "email"; url = "smtps://localhost:$SMTPS"; from = "t@comune.test"; $2 },
  { name = "hook"; type = "webhook"; url = "https://localhost:$HS/hooks/x"; $2 }
);
routes = ( { name = "r"; channels = ["nostarttls", "smtps", "hook"]; to = ["@owner"]; } );
EOF
}
tconf "$T/no-ca.conf" ""
tconf "$T/ca.conf" "ca_file = \"$TLS/ca.pem\";"

run "unknown CA, no STARTTLS: nothing sent" 4 "$TRAGUARDO" -c "$T/no-ca.conf" once --now 2026-11-10T09:00
sane "unknown CA"
contains "no STARTTLS offered: refused, saying so" "$T/err" "STARTTLS"
contains "unknown CA: says it is the certificate" "$T/err" "certificate"
check "nothing reached any server; 3 messages wait" <<'PY'
assert mails("plain") == [] and mails("smtps") == [], (len(mails("plain")), len(mails("smtps")))
assert glob.glob(os.path.join(T, "hooks", "*.json")) == []
assert len(ls("state/outbox/new")) == 3, ls("state/outbox/new")
PY
run "with the CA: smtps and https go, the server without STARTTLS still refused" 4 \
	"$TRAGUARDO" -c "$T/ca.conf" once --now 2026-11-10T09:10
check "delivered over TLS only; the plain server got nothing" <<'PY'
assert mails("plain") == [], len(mails("plain"))
ms = mails("smtps")
assert len(ms) == 1 and ms[0][1]["tls"], [x[1] for x in ms]
assert len(glob.glob(os.path.join(T, "hooks", "*.json"))) == 1
new = [json.load(open(os.path.join(T, "state/outbox/new", f))) for f in ls("state/outbox/new")]
assert [m["channel"] for m in new] == ["nostarttls"], [m["channel"] for m in new]
PY

exit 0
