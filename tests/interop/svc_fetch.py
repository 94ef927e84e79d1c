"""python-ndn fetches a service's answer through a node's gateway
(tests/node_docker.rs).

  svc_fetch.py NAME OUT_FILE

Expresses an Interest for NAME (CanBePrefix, MustBeFresh: a request to the
service), takes segment 0 named NAME/v=<ver>/seg=0 with its FinalBlockId,
fetches segments 1..last under NAME/v=<ver>, checks every segment's
DigestSha256 (python-ndn's default validator), joins the contents and
decodes the HttpResponse TLV (agent/src/gateway/message.rs: Status 0x86,
Header 0x82 = HeaderName 0x83 + HeaderValue 0x84, Body 0x85). Writes the
body to OUT_FILE and prints one JSON line: {"name", "status", "segments",
"headers"}. The forwarder comes from NDN_CLIENT_TRANSPORT (unix:///path).
Exits non-zero on any failure.
"""
import asyncio
import json
import sys

from ndn.app import NDNApp
from ndn.encoding import Component, Name
from ndn.security import KeychainDigest

STATUS, HEADER, HEADER_NAME, HEADER_VALUE, BODY = 0x86, 0x82, 0x83, 0x84, 0x85


def read_var(buf, pos):
    """An NDN TLV VAR-NUMBER at pos: (value, next position)."""
    first = buf[pos]
    if first < 253:
        return first, pos + 1
    size = {253: 2, 254: 4, 255: 8}[first]
    return int.from_bytes(buf[pos + 1:pos + 1 + size], "big"), pos + 1 + size


def elements(buf):
    """(type, value) of each TLV element of buf, in order."""
    pos = 0
    while pos < len(buf):
        typ, pos = read_var(buf, pos)
        length, pos = read_var(buf, pos)
        if pos + length > len(buf):
            raise ValueError(f"element {typ:#x} of {length} octets overruns the content")
        yield typ, buf[pos:pos + length]
        pos += length


def decode_response(content):
    items = list(elements(content))
    if not items or items[0][0] != STATUS:
        raise ValueError("the content does not start with Status")
    status = int.from_bytes(items[0][1], "big")
    headers, body = [], b""
    for typ, value in items[1:]:
        if typ == HEADER:
            parts = dict(elements(value))
            headers.append([parts[HEADER_NAME].decode(), parts[HEADER_VALUE].decode("latin-1")])
        elif typ == BODY:
            body = bytes(value)
    return status, headers, body


def main():
    name, out_file = sys.argv[1], sys.argv[2]
    app = NDNApp(keychain=KeychainDigest())
    result = {}

    async def fetch():
        try:
            data_name, meta, content = await app.express_interest(
                name, must_be_fresh=True, can_be_prefix=True, lifetime=4000)
            if Component.get_type(data_name[-1]) != Component.TYPE_SEGMENT \
                    or Component.get_type(data_name[-2]) != Component.TYPE_VERSION:
                raise ValueError(f"{Name.to_str(data_name)} is not <name>/v=<ver>/seg=<n>")
            result["name"] = Name.to_str(data_name)
            joined = bytes(content or b"")
            last = Component.to_number(meta.final_block_id) if meta.final_block_id else 0
            base = data_name[:-1]
            for seg in range(1, last + 1):
                _n, _m, more = await app.express_interest(
                    base + [Component.from_segment(seg)], lifetime=4000)
                joined += bytes(more or b"")
            result["segments"] = last + 1
            status, headers, body = decode_response(joined)
            result["status"] = status
            result["headers"] = headers
            with open(out_file, "wb") as f:
                f.write(body)
        finally:
            app.shutdown()

    app.run_forever(after_start=fetch())
    print(json.dumps(result), flush=True)
    sys.exit(0 if "status" in result else 1)


if __name__ == "__main__":
    main()
