#!/usr/bin/env python3
"""Writes seed inputs for the cargo-fuzz targets, encoded by python-ndn 0.4.2.

    python3 tlv/fuzz/seeds/gen_pyndn_seeds.py     # (in a venv with python-ndn)

Each seed is a real packet from an independent NDN implementation, so the
fuzzers start from inputs that reach deep into the decoders. Our own
encoder's seeds come from `cargo run -p picasso-tlv --example fuzz_seeds`.
"""
import os
import struct

from ndn.encoding import (Component, InterestParam, MetaInfo, Name, make_data,
                          make_interest)
from ndn.encoding.ndnlp_v2 import (LpPacket, LpPacketValue, NetworkNack,
                                   make_network_nack)
from ndn.security import DigestSha256Signer, HmacSha256Signer

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "pyndn-" + name), "wb") as f:
        f.write(bytes(data))


def tlv(typ, value):
    def varnum(n):
        if n < 253:
            return bytes([n])
        if n <= 0xFFFF:
            return b"\xfd" + struct.pack(">H", n)
        return b"\xfe" + struct.pack(">I", n)
    return varnum(typ) + varnum(len(value)) + bytes(value)


def interest(name, app_param=None, signer=None, **kw):
    p = InterestParam()
    for k, v in kw.items():
        setattr(p, k, v)
    return bytes(make_interest(name, p, app_param=app_param, signer=signer))


HMAC = HmacSha256Signer("/picasso/KEY/hmac", b"secret")
DIGEST = DigestSha256Signer()

# --- packet: Interests, Data, LpPackets as a face receives them ------------
ints = {
    "interest_min": interest("/a", nonce=1),
    "interest_typical": interest("/picasso/svc/S1/index.html/seg=0", nonce=0x01020304,
                                 lifetime=4000),
    "interest_flags": interest("/picasso/svc/v=3/seg=12", can_be_prefix=True,
                               must_be_fresh=True, nonce=0xDEADBEEF, lifetime=1000,
                               hop_limit=32),
    "interest_hint": interest("/picasso/data", forwarding_hint=["/edge/n1", "/core"],
                              nonce=7),
    "interest_params": interest("/picasso/exec/f1", app_param=b'{"x":1}', nonce=9),
    "interest_signed_digest": interest("/picasso/cmd/deploy", app_param=b"{}", signer=DIGEST,
                                       nonce=3),
    "interest_signed_hmac": interest("/picasso/cmd/stop", app_param=b"svc=S1", signer=HMAC,
                                     nonce=4, lifetime=2000),
    "interest_typed": interest(Name.from_str("/32=kw/t=1700000000000000/seq=5/off=10"),
                               nonce=5),
}
datas = {
    "data_digest": bytes(make_data("/picasso/svc/S1/index.html", MetaInfo(), b"hello",
                                   DIGEST)),
    "data_meta": bytes(make_data("/picasso/repo/v=1/seg=0",
                                 MetaInfo(content_type=0, freshness_period=10000,
                                          final_block_id=Component.from_segment(3)),
                                 b"x" * 200, DIGEST)),
    "data_hmac": bytes(make_data("/picasso/status", MetaInfo(freshness_period=0),
                                 b'{"ok":true}', HMAC)),
    "data_nack_type": bytes(make_data("/picasso/missing", MetaInfo(content_type=3), b"",
                                      DIGEST)),
}
for k, v in {**ints, **datas}.items():
    write("packet", k, v)


def lp(fragment=None, **fields):
    p = LpPacket()
    p.lp_packet = LpPacketValue()
    for k, v in fields.items():
        setattr(p.lp_packet, k, v)
    p.lp_packet.fragment = fragment
    return bytes(p.encode())


write("packet", "lp_nack", make_network_nack(ints["interest_typical"], 150))
write("packet", "lp_pit_token", lp(ints["interest_flags"], pit_token=b"\x01\x02\x03\x04"))
write("packet", "lp_congestion_data", lp(datas["data_meta"], congestion_mark=1))
write("packet", "lp_plain", lp(datas["data_digest"]))

# --- name_uri: URIs in canonical and non-canonical spellings ---------------
uris = [
    "/picasso/svc/S1/index.html", "ndn:/a/b/c", "/", "/a//b/", "/hello%20world/%7e",
    "/.../..../.....", "/8=a/32=kw/9=%00", "/seg=3/off=7/v=1000/t=5/seq=0",
    "/50=%01%00", "/50=%00%01", "/x/sha256digest=" + "ab" * 32,
    "/params-sha256=" + "0F" * 32, "/1=" + "%AB" * 32, "/65535=%FF",
]
for n in ["/picasso/svc/S1/v=3/seg=12", "/32=kw/t=1700000000000000/seq=5/off=10"]:
    uris.append(str(Name.to_str(Name.from_str(n))))
for i, u in enumerate(uris):
    write("name_uri", f"uri{i:02}", u.encode())

# --- lp_reassembly: streams of fragments (hand-built: python-ndn 0.4.2 has
# no fragmenter), each LpPacket TLV back to back ---------------------------
def frag(seq, index, count, payload, extra=b""):
    return tlv(0x64, tlv(0x51, struct.pack(">Q", seq)) + tlv(0x52, bytes([index])) +
               tlv(0x53, bytes([count])) + extra + tlv(0x50, payload))


whole = datas["data_meta"]
parts = [whole[i:i + 80] for i in range(0, len(whole), 80)]
n = len(parts)
write("lp_reassembly", "in_order",
      b"".join(frag(100 + i, i, n, p, tlv(0x62, b"\x09\x09") if i == 0 else b"")
               for i, p in enumerate(parts)))
write("lp_reassembly", "reversed_dup",
      b"".join(frag(7 + i, i, n, p) for i, p in reversed(list(enumerate(parts)))) +
      frag(7, 0, n, parts[0]))
write("lp_reassembly", "interleaved",
      b"".join(frag(10 + i, i, 2, p) + frag(50 + i, i, 2, q)
               for i, (p, q) in enumerate(zip([ints["interest_flags"][:20],
                                               ints["interest_flags"][20:]],
                                              [ints["interest_min"][:4],
                                               ints["interest_min"][4:]]))))
write("lp_reassembly", "mixed_unfragmented",
      lp(ints["interest_typical"]) + frag(1, 0, 2, b"ab") + make_network_nack(
          ints["interest_min"], 50) + frag(2, 1, 2, b"cd"))
print("seeds written under", HERE)
