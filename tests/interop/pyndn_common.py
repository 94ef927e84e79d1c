"""Shared pieces of the python-ndn interoperability scripts.

What lives here: the fixed key material both sides sign with, signers that
python-ndn lacks (HMAC with a KeyDigest locator, SignatureNonce/Time/SeqNum on
any signer), and the rendering of python-ndn's
parsed values into PiCasso's `picasso packet decode` JSON vocabulary
(canonical name URIs, camelCase field names, hex for byte strings).

No test logic lives here; pyndn_corpus.py and pyndn_check.py hold that.
"""

import hashlib
import hmac as hmac_mod
from typing import List, Optional

from Cryptodome.Signature import eddsa
from ndn.encoding import Component, Name, Signer, SignatureType, KeyLocator, parse_tl_num
from ndn.app_support import nfd_mgmt

# ---------------------------------------------------------------------------
# Fixed key material. Printed into every JSON line that needs it so the Rust
# side never has to agree with this file by copy.

HMAC_KEY = bytes(range(0x40, 0x60))  # 32 bytes
HMAC_KEY_NAME = "/picasso/KEY/hmac"
ED25519_SEED = bytes(range(1, 33))
ED25519_KEY_NAME = "/picasso/node/n1/KEY/%01%02"


def ed25519_key():
    return eddsa.import_private_key(ED25519_SEED)


def ed25519_public_raw() -> bytes:
    return ed25519_key().public_key().export_key(format="raw")


def ed25519_key_other_public() -> bytes:
    """A different Ed25519 public key: a signature must not verify with it."""
    return eddsa.import_private_key(bytes(32)).public_key().export_key(format="raw")


def ed25519_private_der() -> bytes:
    """The key as python-ndn's Ed25519Signer takes it (PKCS#8 DER)."""
    return ed25519_key().export_key(format="DER")


def key_json(kind: str) -> dict:
    """The `key` object of a JSON line: what a verifier needs."""
    if kind == "digest":
        return {"type": "digest"}
    if kind == "hmac":
        return {"type": "hmac", "secret": HMAC_KEY.hex(), "keyName": HMAC_KEY_NAME}
    if kind == "ed25519":
        return {
            "type": kind,
            "seed": ED25519_SEED.hex(),
            "public": ed25519_public_raw().hex(),
            "keyName": ED25519_KEY_NAME,
        }
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# Signers.


class HmacKeyDigestSigner(Signer):
    """HMAC-SHA256 whose KeyLocator is a KeyDigest (SHA-256 of the key), a
    form python-ndn parses but none of its signers writes."""

    def write_signature_info(self, signature_info):
        signature_info.signature_type = SignatureType.HMAC_WITH_SHA256
        signature_info.key_locator = KeyLocator()
        signature_info.key_locator.key_digest = hashlib.sha256(HMAC_KEY).digest()

    def get_signature_value_size(self):
        return 32

    def write_signature_value(self, wire, contents: List) -> int:
        h = hmac_mod.new(HMAC_KEY, digestmod=hashlib.sha256)
        for c in contents:
            h.update(bytes(c))
        wire[:] = h.digest()
        return 32


class InterestFields(Signer):
    """Wraps a signer and adds the signed-Interest v0.3 fields
    (SignatureNonce, SignatureTime, SignatureSeqNum) with fixed values."""

    def __init__(self, inner: Signer, nonce: Optional[int] = None,
                 time: Optional[int] = None, seq: Optional[int] = None):
        self.inner, self.nonce, self.time, self.seq = inner, nonce, time, seq

    def write_signature_info(self, signature_info):
        self.inner.write_signature_info(signature_info)
        signature_info.signature_nonce = self.nonce
        signature_info.signature_time = self.time
        signature_info.signature_seq_num = self.seq

    def get_signature_value_size(self):
        return self.inner.get_signature_value_size()

    def write_signature_value(self, wire, contents):
        return self.inner.write_signature_value(wire, contents)


# ---------------------------------------------------------------------------
# Rendering in PiCasso's JSON vocabulary.

_NUMBER_TYPES = {0x32: "seg", 0x34: "off", 0x36: "v", 0x38: "t", 0x3A: "seq"}
_UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def split_component(comp) -> (int, bytes):
    comp = bytes(comp)
    typ, a = parse_tl_num(comp, 0)
    length, b = parse_tl_num(comp, a)
    value = comp[a + b:]
    assert len(value) == length, "malformed component"
    return typ, value


def canonical_component(comp) -> str:
    """PiCasso's canonical URI of one component (NDN URI scheme, spec §2.1.1,
    with the naming-convention shorthands `seg=` … `seq=` and the digest
    forms), written independently of python-ndn's Component.to_str, which
    differs for all-period components."""
    typ, v = split_component(comp)
    if typ == 1 and len(v) == 32:
        return "sha256digest=" + v.hex()
    if typ == 2 and len(v) == 32:
        return "params-sha256=" + v.hex()
    if typ in _NUMBER_TYPES and len(v) in (1, 2, 4, 8):
        return f"{_NUMBER_TYPES[typ]}={int.from_bytes(v, 'big')}"
    out = "" if typ == 8 else f"{typ}="
    if all(c == 0x2E for c in v):
        out += "..."
    return out + "".join(chr(c) if c in _UNRESERVED else f"%{c:02X}" for c in v)


def canonical_name(name) -> str:
    name = Name.normalize(name)
    return "/" + "/".join(canonical_component(c) for c in name)


def name_components(name) -> list:
    """[[type, value-hex], ...]: the name compared without any URI rules."""
    return [[t, v.hex()] for t, v in (split_component(c) for c in Name.normalize(name))]


def sig_info_json(si) -> dict:
    """SignatureInfo fields beyond SignatureType, as `signatureInfo`."""
    out = {}
    if si is None:
        return out
    if si.key_locator is not None:
        if si.key_locator.name is not None:
            out["keyLocatorName"] = canonical_name(si.key_locator.name)
        if si.key_locator.key_digest is not None:
            out["keyDigest"] = bytes(si.key_locator.key_digest).hex()
    if si.signature_nonce is not None:
        # python-ndn models SignatureNonce as a NonNegativeInteger; the spec
        # says 1*OCTET. 8-byte values with a non-zero first byte are the same
        # bytes under both readings.
        out["signatureNonce"] = si.signature_nonce.to_bytes(8, "big").hex()
    if si.signature_time is not None:
        out["signatureTime"] = si.signature_time
    if si.signature_seq_num is not None:
        out["signatureSeqNum"] = si.signature_seq_num
    return out


CP_FIELDS = [
    # (python-ndn attribute, our JSON key)
    ("name", "name"), ("face_id", "faceId"), ("uri", "uri"), ("local_uri", "localUri"),
    ("origin", "origin"), ("cost", "cost"), ("capacity", "capacity"), ("count", "count"),
    ("base_congestion_mark_interval", "baseCongestionMarkingInterval"),
    ("default_congestion_threshold", "defaultCongestionThreshold"), ("mtu", "mtu"),
    ("flags", "flags"), ("mask", "mask"), ("strategy", "strategy"),
    ("expiration_period", "expirationPeriod"), ("face_persistency", "facePersistency"),
]


def cp_json(cpv: "nfd_mgmt.ControlParametersValue") -> dict:
    out = {}
    for attr, key in CP_FIELDS:
        val = getattr(cpv, attr)
        if val is None:
            continue
        if attr == "name":
            val = canonical_name(val)
        elif attr == "strategy":
            val = canonical_name(val.name)
        elif hasattr(val, "value"):  # Enum / Flag
            val = int(val.value)
        elif isinstance(val, (bytes, bytearray, memoryview)):
            val = bytes(val).decode()
        out[key] = val
    return out


def set_cp(cpv, fields: dict):
    """Fill a ControlParametersValue from our JSON keys."""
    by_key = {k: a for a, k in CP_FIELDS}
    for key, val in fields.items():
        attr = by_key[key]
        if attr == "strategy":
            s = nfd_mgmt.Strategy()
            s.name = val
            cpv.strategy = s
        elif attr in ("uri", "local_uri"):
            setattr(cpv, attr, val.encode())
        else:
            setattr(cpv, attr, val)


def comp_bytes(c) -> bytes:
    return bytes(c)


# ---------------------------------------------------------------------------
# Parsing with python-ndn into our JSON vocabulary.

from ndn.encoding import parse_interest, parse_data, parse_tl_num as _ptl  # noqa: E402
from ndn.encoding import MetaInfo  # noqa: E402
from ndn.encoding.ndn_format_0_3 import DataPacketValue  # noqa: E402
from ndn.encoding.ndnlp_v2 import LpPacketValue  # noqa: E402
from ndn.encoding import parse_and_check_tl  # noqa: E402


def outer_type(wire: bytes) -> int:
    return _ptl(wire, 0)[0]


def interest_json(wire: bytes) -> (dict, dict):
    """(fields, signatureInfo) of an Interest as python-ndn parses it."""
    name, p, app_param, sig = parse_interest(wire, with_tl=True)
    out = {"type": "Interest", "name": canonical_name(name)}
    if p.can_be_prefix:
        out["canBePrefix"] = True
    if p.must_be_fresh:
        out["mustBeFresh"] = True
    if p.forwarding_hint:
        out["forwardingHint"] = [canonical_name(n) for n in p.forwarding_hint]
    if p.nonce is not None:
        out["nonce"] = f"{p.nonce:08x}"
    if p.lifetime is not None:
        out["interestLifetime"] = p.lifetime
    if p.hop_limit is not None:
        out["hopLimit"] = p.hop_limit
    if app_param is not None:
        out["applicationParameters"] = bytes(app_param).hex()
    if sig.signature_info is not None:
        out["signatureType"] = sig.signature_info.signature_type
    return out, sig_info_json(sig.signature_info)


def data_json(wire: bytes) -> (dict, dict):
    name, meta, content, sig = parse_data(wire, with_tl=True)
    # parse_data substitutes MetaInfo() (ContentType BLOB) for an absent
    # MetaInfo; read the element itself to tell absent from present.
    if DataPacketValue.parse(parse_and_check_tl(memoryview(wire), 0x06), {}).meta_info is None:
        meta = MetaInfo(content_type=None)
    out = {"type": "Data", "name": canonical_name(name)}
    if meta.content_type is not None:
        out["contentType"] = meta.content_type
    if meta.freshness_period is not None:
        out["freshnessPeriod"] = meta.freshness_period
    if meta.final_block_id is not None:
        out["finalBlockId"] = canonical_component(meta.final_block_id)
    if content is not None:
        out["content"] = bytes(content).hex()
    if sig.signature_info is not None:
        out["signatureType"] = sig.signature_info.signature_type
    return out, sig_info_json(sig.signature_info)


def lp_json(wire: bytes) -> (dict, dict):
    v = LpPacketValue.parse(parse_and_check_tl(memoryview(wire), 0x64), {}, ignore_critical=True)
    # `picasso packet decode` names an LpPacket with a Nack header "Nack",
    # and lifts the fragment's Name to the top level.
    out = {"type": "Nack" if v.nack is not None else "LpPacket"}
    if v.pit_token is not None:
        out["pitToken"] = bytes(v.pit_token).hex()
    if v.nack is not None:
        # A Nack header with no NackReason means reason None (0), NDNLPv2 §Nack.
        out["nackReason"] = v.nack.nack_reason if v.nack.nack_reason is not None else 0
    if v.congestion_mark is not None:
        out["congestionMark"] = v.congestion_mark
    if v.fragment is not None:
        out["fragment"], _ = packet_json(bytes(v.fragment))
        if "name" in out["fragment"]:
            out["name"] = out["fragment"]["name"]
    return out, {}


def control_parameters_json(wire: bytes) -> (dict, dict):
    cp = nfd_mgmt.ControlParameters.parse(wire)
    out = {"type": "ControlParameters"}
    out.update(cp_json(cp.cp))
    return out, {}


def control_response_json(wire: bytes) -> (dict, dict):
    cr = nfd_mgmt.ControlResponse.parse(parse_and_check_tl(memoryview(wire), 0x65))
    out = {"type": "ControlResponse", "statusCode": cr.status_code, "statusText": cr.status_text}
    if cr.body is not None:
        out["body"] = cp_json(cr.body)
    return out, {}


def packet_json(wire: bytes) -> (dict, dict):
    t = outer_type(wire)
    if t == 0x05:
        return interest_json(wire)
    if t == 0x06:
        return data_json(wire)
    if t == 0x64:
        return lp_json(wire)
    if t == 0x68:
        return control_parameters_json(wire)
    if t == 0x65:
        return control_response_json(wire)
    raise ValueError(f"unknown outer TLV type {t}")
