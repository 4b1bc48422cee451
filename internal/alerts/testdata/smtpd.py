# A real SMTP server for the email tests: aiosmtpd (Debian's
# python3-aiosmtpd) on a loopback port it prints, with STARTTLS required
# and AUTH PLAIN/LOGIN checked against one user, or, with "plain" as the
# certificate, neither. Each message lands in OUT_DIR as N.eml, with the
# envelope and session facts as X- headers first.
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cert, key, out_dir, user, password = sys.argv[1:6]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(out_dir) if f.endswith(".eml")])
        tmp = os.path.join(out_dir, "%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(("X-Mail-From: %s\r\nX-Rcpt-To: %s\r\nX-Authenticated: %s\r\nX-TLS: %s\r\n" % (
                envelope.mail_from, ",".join(envelope.rcpt_tos), bool(session.authenticated),
                session.ssl is not None)).encode())
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(out_dir, "%d.eml" % n))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)


async def main():
    kwargs = {}
    if cert != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs = dict(tls_context=ctx, require_starttls=True, authenticator=authenticate, auth_require_tls=True)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(Handler(), hostname="smtp.test", **kwargs), "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    # Ends when the test closes stdin, or kills it.
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
