"""python-ndn apps against `picasso fwd` (tests/interop_fwd.rs).

  fwd_app.py produce v1|v2 PREFIX CONTENT   register PREFIX, answer every
      Interest under it with CONTENT (prints "ready" once registered; exits
      after 60 s at the latest)
  fwd_app.py consume v1|v2 NAME             fetch NAME, print its content

The forwarder comes from NDN_CLIENT_TRANSPORT (unix:///path or
tcp://127.0.0.1:port), as python-ndn's client configuration reads it.
Exits non-zero on any failure.
"""
import asyncio
import sys

from ndn.encoding import Name
from ndn.security import DigestSha256Signer, KeychainDigest

LIFETIME_S = 60


def produce_v1(prefix, content):
    from ndn.app import NDNApp
    app = NDNApp(keychain=KeychainDigest())

    def on_interest(name, _param, _app_param):
        app.put_data(name, content=content, freshness_period=1000)

    async def after_start():
        ok = await app.register(prefix, on_interest)
        if not ok:
            print('registration failed', flush=True)
            app.shutdown()
            return
        print('ready', flush=True)
        await asyncio.sleep(LIFETIME_S)
        app.shutdown()

    app.run_forever(after_start=after_start())


def produce_v2(prefix, content):
    from ndn import appv2
    app = appv2.NDNApp()
    signer = DigestSha256Signer()

    def on_interest(name, _app_param, reply, _context):
        reply(app.make_data(name, content, signer, freshness_period=1000))

    app.attach_handler(prefix, on_interest)

    async def after_start():
        ok = await app.register(prefix)
        if not ok:
            print('registration failed', flush=True)
            app.shutdown()
            return
        print('ready', flush=True)
        await asyncio.sleep(LIFETIME_S)
        app.shutdown()

    app.run_forever(after_start=after_start())


def consume(version, name):
    result = {}
    if version == 'v1':
        from ndn.app import NDNApp
        app = NDNApp(keychain=KeychainDigest())

        async def fetch():
            try:
                _n, _meta, content = await app.express_interest(
                    name, must_be_fresh=True, can_be_prefix=False, lifetime=4000)
                result['content'] = bytes(content or b'')
            finally:
                app.shutdown()
    else:
        from ndn import appv2
        app = appv2.NDNApp()

        async def fetch():
            try:
                _n, content, _ctx = await app.express(
                    name, appv2.pass_all, must_be_fresh=True, can_be_prefix=False, lifetime=4000)
                result['content'] = bytes(content or b'')
            finally:
                app.shutdown()

    app.run_forever(after_start=fetch())
    if 'content' not in result:
        sys.exit('no content')
    sys.stdout.write(result['content'].decode())
    sys.stdout.flush()


def main():
    role, version = sys.argv[1], sys.argv[2]
    if role == 'produce':
        prefix, content = Name.from_str(sys.argv[3]), sys.argv[4].encode()
        (produce_v1 if version == 'v1' else produce_v2)(prefix, content)
    elif role == 'consume':
        consume(version, sys.argv[3])
    else:
        sys.exit(f'unknown role {role}')


if __name__ == '__main__':
    main()
