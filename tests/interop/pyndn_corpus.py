#!/usr/bin/env python3
"""python-ndn encodes a corpus of packets; prints one JSON object per line.

Each line:
  case           unique name of the case
  hex            the packet as python-ndn encodes it
  expect         the fields, in `picasso packet decode` JSON vocabulary
                 (read back from the wire by python-ndn's own parser)
  signatureInfo  SignatureInfo fields beyond the type: keyLocatorName,
                 keyDigest, signatureNonce (hex), signatureTime, signatureSeqNum
  key            what verifies the signature: {"type": "digest"},
                 {"type": "hmac", "secret", "keyName"}, {"type": "ed25519",
                 "seed", "public", "keyName"} (PureEdDSA, RFC 8032),
                 {"type": "command-digest"} for the old command-Interest
                 form, or absent when unsigned
  bytesFixed     true when the spec fixes the encoding of these fields, so a
                 conforming encoder given the same fields yields these bytes
  sameElements   (when bytesFixed is false) the spec fixes each element's
                 encoding but python-ndn orders them differently: a
                 conforming encoder yields the same elements, in spec order
  pyndnParseError  python-ndn cannot parse a conforming encoding of these
                 fields: the substring its error must contain
  fragmentHex    (LpPacket) the inner packet bytes
  nameHex        (name cases) the Name TLV
  note           why the case exists

Everything is deterministic: fixed nonces, times and keys; python-ndn's
clock and random sources are patched where its API gives no choice.
"""

import asyncio
import json
import logging
import struct
import sys

from ndn.encoding import (Component, Name, InterestParam, MetaInfo, make_interest, make_data,
                          ContentType)
from ndn.encoding.ndnlp_v2 import LpPacket, LpPacketValue, NetworkNack, make_network_nack
from ndn.app_support import nfd_mgmt
from ndn.security import DigestSha256Signer, HmacSha256Signer, Ed25519Signer
from ndn.transport.face import Face

import pyndn_common as c

logging.disable(logging.CRITICAL)  # NDNApp logs the cancelled registrations

FIXED_TIME = 1_700_000_000_123  # ms since the epoch
FIXED_NONCE64 = 0xA1B2C3D4E5F60718
OUT = []


def emit(case, wire, key=None, bytes_fixed=True, note="", **extra):
    wire = bytes(wire)
    expect, sig_info = c.packet_json(wire)
    line = {"case": case, "hex": wire.hex(), "expect": expect, "signatureInfo": sig_info,
            "bytesFixed": bytes_fixed, "note": note}
    if key is not None:
        line["key"] = c.key_json(key) if key != "command-digest" else {"type": key}
    line.update(extra)
    OUT.append(line)


def interest(name, app_param=None, signer=None, **param):
    param.setdefault("nonce", 0x01020304)
    param.setdefault("lifetime", 4000)
    return make_interest(name, InterestParam(**param), app_param, signer=signer)


# --- names: every component type, wrapped in a minimal Interest -------------

DIGEST = bytes(range(0xE0, 0x100))
NAME_CASES = {
    "generic": ["hello", "world"],
    "implicit_digest": ["a", Component.from_bytes(DIGEST, Component.TYPE_IMPLICIT_SHA256)],
    "keyword": ["a", Component.from_bytes(b"kw\x01", 32)],
    "segment": ["a", Component.from_segment(0), Component.from_segment(2 ** 40 + 3)],
    "byte_offset": ["a", Component.from_byte_offset(65536)],
    "version": ["a", Component.from_version(1_699_999_999_999)],
    "timestamp": ["a", Component.from_timestamp(1_700_000_000_000_000)],
    "sequence_num": ["a", Component.from_sequence_num(255), Component.from_sequence_num(256)],
    "unknown_type_300": ["a", Component.from_bytes(b"x=y", 300)],
    "max_type_65535": [Component.from_bytes(b"z", 0xFFFF)],
    "percent_escaped": [Component.from_bytes(b"\x00\xff a/b%=?&\x7f")],
    "utf8": [Component.from_bytes("Kraus Bölter".encode())],
    "periods": [Component.from_bytes(b"..."), Component.from_bytes(b"."),
                Component.from_bytes(b"a.b")],
    "empty_component": ["a", Component.from_bytes(b""), "b"],
    "empty_name": [],
    "long_component": [Component.from_bytes(bytes(range(256)) * 2)],
    "number_type_non_nni": ["a", Component.from_bytes(b"\x01\x02\x03", 0x32)],
}
for case, comps in NAME_CASES.items():
    name = [Component.from_str(x) if isinstance(x, str) else x for x in comps]
    emit(f"name/{case}", interest(name), nameHex=bytes(Name.encode(name)).hex(),
         note="name component coverage")

# A ParametersSha256DigestComponent needs ApplicationParameters to cover.
emit("name/params_digest", interest("/a/b", app_param=b"\x01\x02"),
     note="params-sha256 computed by python-ndn")

# --- Interests: each field -------------------------------------------------

emit("interest/minimal", interest("/picasso/svc/echo"))
emit("interest/no_nonce_no_lifetime", interest("/picasso/svc/echo", nonce=None, lifetime=None),
     note="Nonce and InterestLifetime are optional in v0.3")
emit("interest/can_be_prefix", interest("/p", can_be_prefix=True))
emit("interest/must_be_fresh", interest("/p", must_be_fresh=True))
emit("interest/forwarding_hint", interest(
    "/picasso/svc/echo", forwarding_hint=["/edge/n1", "/edge/n2/seg=3", "/"]),
    note="ForwardingHint with several names, one of them empty")
emit("interest/nonce_max", interest("/p", nonce=0xFFFFFFFF))
emit("interest/nonce_zero", interest("/p", nonce=0))
emit("interest/lifetime_small", interest("/p", lifetime=10))
emit("interest/lifetime_2byte", interest("/p", lifetime=10_000))
emit("interest/lifetime_8byte", interest("/p", lifetime=2 ** 32 + 5))
emit("interest/lifetime_zero", interest("/p", lifetime=0))
emit("interest/hop_limit", interest("/p", hop_limit=64))
emit("interest/hop_limit_zero", interest("/p", hop_limit=0))
emit("interest/app_params", interest("/picasso/svc/echo", app_param=b'{"x":1}'))
emit("interest/app_params_empty", interest("/picasso/svc/echo", app_param=b""))
emit("interest/app_params_large", interest("/picasso/svc/echo", app_param=bytes(range(256)) * 3),
     note="3-byte TLV-LENGTH")
emit("interest/all_fields", interest(
    "/picasso/svc/echo/v=3", app_param=b"body", can_be_prefix=True, must_be_fresh=True,
    forwarding_hint=["/edge/n1", "/edge/n2"], nonce=0xDEADBEEF, lifetime=1234, hop_limit=7))

# --- signed Interests (v0.3) -----------------------------------------------

emit("signed_interest/digest_sha256",
     interest("/picasso/node/n1/cmd/list", app_param=b"",
              signer=c.InterestFields(DigestSha256Signer(), FIXED_NONCE64, FIXED_TIME)),
     key="digest", note="as python-ndn's DigestSha256Signer(for_interest=True), fixed nonce/time")
emit("signed_interest/hmac_nonce_time_seq",
     interest("/picasso/node/n1/cmd/deploy", app_param=b'{"imageName":"busybox"}',
              signer=c.InterestFields(HmacSha256Signer(c.HMAC_KEY_NAME, c.HMAC_KEY),
                                      FIXED_NONCE64, FIXED_TIME, 42)),
     key="hmac")
emit("signed_interest/hmac_seq_only",
     interest("/picasso/node/n1/cmd/stop", app_param=b"x",
              signer=c.InterestFields(HmacSha256Signer(c.HMAC_KEY_NAME, c.HMAC_KEY), seq=2 ** 33)),
     key="hmac")
emit("signed_interest/ed25519",
     interest("/picasso/node/n1/cmd/remove", app_param=b"r",
              signer=c.InterestFields(Ed25519Signer(c.ED25519_KEY_NAME, c.ed25519_private_der()),
                                      FIXED_NONCE64, FIXED_TIME)),
     key="ed25519", note="python-ndn's Ed25519Signer: PureEdDSA (RFC 8032), deterministic")


# --- what NDNApp.register and NDNAppv2.register put on the wire --------------

class CaptureFace(Face):
    """A face that records what the app sends and answers nothing."""

    def __init__(self):
        super().__init__()
        self.sent = []
        self.running = True

    async def open(self):
        self.running = True

    def shutdown(self):
        self.running = False

    def send(self, data):
        self.sent.append(bytes(data))

    async def run(self):
        pass

    def isLocalFace(self):
        return True


async def capture_register(app):
    task = asyncio.ensure_future(app.register("/picasso/svc/echo", None) if not hasattr(app, "registerer")
                                 else app.register("/picasso/svc/echo"))
    for _ in range(100):
        await asyncio.sleep(0.001)
        if app.face.sent:
            break
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    assert len(app.face.sent) == 1, "register sent no packet"
    return app.face.sent[0]


def patch_clock():
    import ndn.app as app_mod
    import ndn.security.signer.sha256_digest_signer as dsig
    import ndn.utils as utils
    nfd_mgmt.timestamp = lambda: FIXED_TIME
    nfd_mgmt.gen_nonce_64 = lambda: FIXED_NONCE64
    dsig.timestamp = lambda: FIXED_TIME
    dsig.gen_nonce_64 = lambda: FIXED_NONCE64
    app_mod.gen_nonce = lambda: 0x0A0B0C0D
    utils.timestamp = lambda: FIXED_TIME - 1
    utils.gen_nonce = lambda: 0x0A0B0C0D


def register_cases():
    patch_clock()
    from ndn.app import NDNApp
    from ndn.appv2 import NDNApp as NDNAppV2
    from ndn.transport.nfd_registerer import NfdRegister
    from ndn.security import KeychainDigest

    app = NDNApp(face=CaptureFace(), keychain=KeychainDigest())
    app._prefix_register_semaphore = asyncio.Semaphore(1)
    v1 = asyncio.run(capture_register(app))
    emit("command_interest/ndnapp_register", v1, key="command-digest",
         note="ndn.app.NDNApp.register: old signed command-Interest form, "
              "/localhost/nfd/rib/register/<ControlParameters>/<timestamp>/<nonce>"
              "/<SignatureInfo>/<SignatureValue>, an unsigned v0.3 Interest on the wire")

    app2 = NDNAppV2(face=CaptureFace(), registerer=NfdRegister())
    app2.registerer._prefix_register_semaphore = asyncio.Semaphore(1)
    v2 = asyncio.run(capture_register(app2))
    # The v2 Nonce is random even with gen_nonce patched in some paths; the
    # encoding is still fixed for the fields it has.
    emit("signed_interest/ndnappv2_register", v2, key="digest",
         note="ndn.appv2.NDNApp.register (NfdRegister): v0.3 signed Interest, DigestSha256, "
              "SignatureNonce + SignatureTime, empty ApplicationParameters")


register_cases()

# The same old command-Interest form for other verbs, built as make_command does.
emit("command_interest/strategy_set",
     interest(nfd_mgmt.make_command("strategy-choice", "set", None, name="/picasso",
                                    strategy="/localhost/nfd/strategy/best-route"), lifetime=1000),
     key="command-digest")

# --- Data ------------------------------------------------------------------


def data(name, content=None, signer=None, **meta):
    # MetaInfo() defaults ContentType to BLOB and python-ndn then writes it;
    # leave it out unless a case sets it, as most encoders do.
    # An all-None MetaInfo would still be written as an empty element.
    meta.setdefault("content_type", None)
    mi = MetaInfo(**meta) if any(v is not None for v in meta.values()) else None
    return make_data(name, mi, content, signer=signer)


DIGEST_SIGNER = DigestSha256Signer()
emit("data/digest_minimal", data("/picasso/node/n1/monitor", b'{"PiID":"SEG_1"}',
                                 DIGEST_SIGNER, freshness_period=1000), key="digest")
emit("data/meta_all", data(
    "/picasso/repo/image/busybox/v=1/seg=3", bytes(range(64)), DIGEST_SIGNER,
    content_type=ContentType.BLOB + 2, freshness_period=10_000,
    final_block_id=Component.from_segment(9)), key="digest")
emit("data/content_type_nack_empty", data("/p", b"", DIGEST_SIGNER, content_type=ContentType.NACK),
     key="digest", note="application Nack (ContentType 3) with empty Content")
emit("data/content_type_blob_explicit", data("/p", b"x", DIGEST_SIGNER, content_type=ContentType.BLOB),
     key="digest", note="python-ndn's MetaInfo() default: ContentType 0 written explicitly")
emit("data/no_meta_info", make_data("/p", None, b"x", signer=DIGEST_SIGNER), key="digest")
emit("data/empty_meta_info", make_data("/p", MetaInfo(content_type=None), b"x", signer=DIGEST_SIGNER),
     key="digest", bytes_fixed=False, note="an empty MetaInfo element, as python-ndn writes for MetaInfo(None)")
emit("data/no_content", data("/p", None, DIGEST_SIGNER, freshness_period=1), key="digest",
     note="Content element absent")
emit("data/content_type_unknown", data("/p", b"x", DIGEST_SIGNER, content_type=1000), key="digest")
emit("data/freshness_zero", data("/p", b"x", DIGEST_SIGNER, freshness_period=0), key="digest")
emit("data/final_block_generic", data("/p/last", b"x", DIGEST_SIGNER,
                                      final_block_id=Component.from_str("last")), key="digest")
emit("data/large_content", data("/p", bytes(range(256)) * 8, DIGEST_SIGNER, freshness_period=1),
     key="digest", note="content with 3-byte TLV-LENGTH")
emit("data/hmac_key_name", data("/picasso/node/n1/monitor", b"{}",
                                HmacSha256Signer(c.HMAC_KEY_NAME, c.HMAC_KEY),
                                freshness_period=5000), key="hmac")
emit("data/hmac_key_digest", data("/picasso/node/n1/monitor", b"{}", c.HmacKeyDigestSigner(),
                                  freshness_period=5000), key="hmac", note="KeyLocator KeyDigest")
emit("data/ed25519", data("/picasso/repo/image/busybox/v=1/manifest", b'{"size":1}',
                          Ed25519Signer(c.ED25519_KEY_NAME, c.ed25519_private_der()),
                          freshness_period=3600_000),
     key="ed25519", note="python-ndn's Ed25519Signer: PureEdDSA (RFC 8032), deterministic")


# --- LpPackets -------------------------------------------------------------

FRAG_INTEREST = interest("/picasso/svc/echo", nonce=0x11223344, lifetime=2000)
FRAG_DATA = data("/picasso/svc/echo", b"ok", DIGEST_SIGNER, freshness_period=0)


def lp(fragment=None, **fields):
    p = LpPacket()
    p.lp_packet = LpPacketValue()
    for k, v in fields.items():
        setattr(p.lp_packet, k, v)
    p.lp_packet.fragment = fragment
    return p.encode()


for reason in (50, 100, 150):
    emit(f"lp/nack_{reason}", make_network_nack(FRAG_INTEREST, reason),
         fragmentHex=bytes(FRAG_INTEREST).hex())
nack_none = NetworkNack()
emit("lp/nack_no_reason", lp(FRAG_INTEREST, nack=nack_none), fragmentHex=bytes(FRAG_INTEREST).hex(),
     note="Nack header without NackReason: reason None")
emit("lp/pit_token_interest", lp(FRAG_INTEREST, pit_token=b"\x01\x02\x03\x04"),
     fragmentHex=bytes(FRAG_INTEREST).hex())
emit("lp/pit_token_data", lp(FRAG_DATA, pit_token=bytes(range(32))), fragmentHex=bytes(FRAG_DATA).hex())
nack_cong = NetworkNack()
nack_cong.nack_reason = 50
emit("lp/pit_token_nack", lp(FRAG_INTEREST, pit_token=b"\xAA\xBB", nack=nack_cong),
     fragmentHex=bytes(FRAG_INTEREST).hex())
emit("lp/congestion_mark", lp(FRAG_DATA, congestion_mark=1), fragmentHex=bytes(FRAG_DATA).hex())

# --- NFD management --------------------------------------------------------


def cp(**fields):
    m = nfd_mgmt.ControlParameters()
    m.cp = nfd_mgmt.ControlParametersValue()
    c.set_cp(m.cp, fields)
    return m.encode()


emit("mgmt/cp_rib_register", cp(name="/picasso/svc/echo", faceId=300, origin=255, cost=10,
                                 flags=1, expirationPeriod=3_600_000))
emit("mgmt/cp_faces_create", cp(uri="udp4://192.0.2.1:6363", localUri="udp4://0.0.0.0:6363",
                                 facePersistency=1, baseCongestionMarkingInterval=100_000_000,
                                 defaultCongestionThreshold=65536, mtu=1400, flags=4, mask=4),
     bytes_fixed=False, sameElements=True,
     pyndnParseError="critical field of type 135 is unrecognized, redundant or out-of-order",
     note="python-ndn writes BaseCongestionMarkingInterval/DefaultCongestionThreshold/Mtu "
          "before Flags; the ControlParameters ABNF and ndn-cxx (so NFD) put them last, "
          "and python-ndn's parser then rejects the spec order (critical 0x87 out of order)")
emit("mgmt/cp_strategy_set", cp(name="/picasso", strategy="/localhost/nfd/strategy/best-route/v=5"))
emit("mgmt/cp_cs_config", cp(capacity=1000, count=10, flags=1, mask=1))
emit("mgmt/cp_empty", cp())


def cr(code, text, body=None):
    m = nfd_mgmt.ControlResponse()
    m.status_code = code
    m.status_text = text
    if body is not None:
        m.body = nfd_mgmt.ControlParametersValue()
        c.set_cp(m.body, body)
    value = bytes(m.encode())
    return bytes([0x65]) + _tl_len(len(value)) + value


def _tl_len(n):
    if n < 253:
        return bytes([n])
    return b"\xfd" + struct.pack("!H", n)


emit("mgmt/cr_ok", cr(200, "OK", {"name": "/picasso/svc/echo", "faceId": 300, "origin": 0,
                                   "cost": 0, "flags": 1, "expirationPeriod": 3_600_000}))
emit("mgmt/cr_error", cr(404, "face not found"))

# Wrap a command response as the reply Data it arrives in.
emit("data/control_response", data("/localhost/nfd/rib/register", cr(200, "OK", {"name": "/a"}),
                                   DIGEST_SIGNER), key="digest")

names = [o["case"] for o in OUT]
assert len(names) == len(set(names)), "duplicate case names"
for o in OUT:
    sys.stdout.write(json.dumps(o, sort_keys=True) + "\n")
