"""A mail sink for the alert tests: aiosmtpd in plain, STARTTLS (required) or implicit-TLS
mode. Each mail is written as <n>.json (envelope, data, whether TLS was on); prints "ready"
once it accepts connections."""
import argparse
import json
import os
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--mode", choices=["plain", "starttls", "tls"], required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--out", required=True)
# LOGIN:PASSWORD: require SMTP AUTH with exactly these (a wrong password is refused).
p.add_argument("--auth")
args = p.parse_args()

lock = threading.Lock()
count = [0]


class Sink:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            count[0] += 1
            n = count[0]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "mode": args.mode,
            # Set only after STARTTLS; an implicit-TLS session is TLS by its port.
            "starttls": session.ssl is not None,
            # The login that authenticated (None without --auth).
            "auth_login": session.auth_data if session.authenticated else None,
        }
        tmp = os.path.join(args.out, f"{n:04d}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(args.out, f"{n:04d}.json"))
        return "250 OK"


ctx = None
if args.mode != "plain":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)

kw = {}
if args.mode == "starttls":
    kw = dict(tls_context=ctx, require_starttls=True)
elif args.mode == "tls":
    kw = dict(ssl_context=ctx, server_hostname="localhost")

if args.auth:
    from aiosmtpd.smtp import AuthResult

    want_login, want_password = args.auth.split(":", 1)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            auth_data.login.decode() == want_login
            and auth_data.password.decode() == want_password
        )
        # aiosmtpd keeps auth_data as session.auth_data on success.
        return AuthResult(success=ok, handled=False, auth_data=want_login if ok else None)

    # Only a plain sink may take AUTH without TLS (a local relay); the others need TLS first.
    kw.update(
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=args.mode != "plain",
    )

controller = Controller(Sink(), hostname="127.0.0.1", port=args.port, **kw)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
