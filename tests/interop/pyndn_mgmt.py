"""python-ndn's NFD management helpers against a PiCasso forwarder.

Run with NDN_CLIENT_TRANSPORT=unix:///path/to/forwarder.sock. Registers a
prefix with NDNApp.register (the older command-Interest form), sends
rib/register with make_command and fib/add-nexthop as a v0.3 signed
Interest (make_command_v2), fetches faces/list, fib/list, rib/list and
status/general with the segment fetcher, parses them with nfd_mgmt's
models and prints what it found as one JSON object on stdout.
"""

import json
import sys

from ndn.app import NDNApp
from ndn.app_support import nfd_mgmt as m
from ndn.app_support.segment_fetcher import segment_fetcher
from ndn.encoding import Name
from ndn.security import DigestSha256Signer, KeychainDigest

# No user keychain: NFD's localhost policy takes DigestSha256 commands.
app = NDNApp(keychain=KeychainDigest())
out = {}


async def dataset(path):
    buf = b''
    async for seg in segment_fetcher(app, path, timeout=2000):
        buf += bytes(seg)
    return buf


def reply_fields(reply):
    r = m.parse_response(reply)
    return {
        'status_code': r['status_code'],
        'name': Name.to_str(r['name']) if r['name'] is not None else None,
        'face_id': r['face_id'],
        'origin': r['origin'],
        'cost': r['cost'],
        'flags': r['flags'],
    }


async def main():
    try:
        out['register'] = await app.register('/pyndn/prefix', lambda *args: None)
        _, _, reply = await app.express_interest(
            m.make_command('rib', 'register', name=Name.from_str('/pyndn/two'), cost=5),
            lifetime=2000)
        out['register_reply'] = reply_fields(reply)
        _, _, reply = await app.express_interest(
            m.make_command_v2('fib', 'add-nexthop', name=Name.from_str('/pyndn/v3'), cost=3),
            app_param=b'', signer=DigestSha256Signer(for_interest=True), lifetime=2000)
        out['v3_reply'] = reply_fields(reply)

        faces = m.FaceStatusMsg.parse(await dataset('/localhost/nfd/faces/list'))
        out['faces'] = [{'face_id': f.face_id, 'uri': f.uri, 'local_uri': f.local_uri,
                         'n_in_interests': f.n_in_interests}
                        for f in faces.face_status]
        fib = m.FibStatus.parse(await dataset('/localhost/nfd/fib/list'))
        out['fib'] = {Name.to_str(e.name): [[h.face_id, h.cost] for h in e.next_hop_records]
                      for e in fib.entries}
        rib = m.RibStatus.parse(await dataset('/localhost/nfd/rib/list'))
        out['rib'] = {Name.to_str(e.name): [[r.face_id, r.origin, r.cost] for r in e.routes]
                      for e in rib.entries}
        st = m.GeneralStatus.parse(await dataset('/localhost/nfd/status/general'))
        out['status'] = {'nfd_version': st.nfd_version, 'n_fib_entries': st.n_fib_entries,
                         'start': st.start_timestamp, 'current': st.current_timestamp,
                         'n_in_interests': st.n_in_interests}
    except Exception as e:  # reported to the Rust test, which fails on it
        out['error'] = f'{type(e).__name__}: {e}'
    finally:
        print(json.dumps(out), flush=True)
        app.shutdown()


if __name__ == '__main__':
    app.run_forever(after_start=main())
    sys.exit(0 if 'error' not in out else 1)
