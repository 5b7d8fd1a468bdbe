"""Read and write Strata cache entries from Python, with only the `msgpack` package.

This is the reference companion of docs/wire-format.md; the Rust test suite runs it against
entries written by Rust (crates/strata-testkit/tests/it/python_interop.rs).

Usage as a script:
    python3 strata_wire.py key PREFIX APP_VERSION KIND SCHEMA ID [GENERATION] [--hash-tag]
    python3 strata_wire.py decode FILE          # prints {"meta": ..., "flags": ..., "payload": ...}
    python3 strata_wire.py encode JSON CREATED_MS TTL_MS SCHEMA FILE
"""

import hashlib
import json
import sys
import unicodedata

import msgpack

MAGIC = b"\xc1S"
FORMAT_VERSION = 1
FLAG_COMPRESSED = 0b001
FLAG_ABSENT = 0b010
FLAG_JSON = 0b100

# Unicode White_Space (what Rust's char::is_whitespace tests), written out so that every
# language agrees; control characters are general category Cc.
WHITE_SPACE = set(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
SEGMENT_ESCAPES = set("%:{}#*?[]\\")
ID_ESCAPES = set("%#{}")
MAX_SEGMENT_LEN = 64
MAX_PLAIN_ID_LEN = 200


def _unsafe(c):
    return c in WHITE_SPACE or unicodedata.category(c) == "Cc"


def _escape(text, chars):
    return "".join(
        "".join("%%%02X" % b for b in c.encode("utf-8")) if c in chars else c for c in text
    )


def segment(part, text):
    """Validates and escapes a prefix, app version or kind."""
    if not text:
        raise ValueError(f"invalid key {part}: it is empty")
    if len(text.encode("utf-8")) > MAX_SEGMENT_LEN:
        raise ValueError(f"invalid key {part}: longer than {MAX_SEGMENT_LEN} bytes")
    if any(_unsafe(c) for c in text):
        raise ValueError(f"invalid key {part}: whitespace or control character")
    return _escape(text, SEGMENT_ESCAPES)


def encode_id(raw):
    """The id part of a key: escaped, or '#' + 32 hex digits of SHA-256 when long or unsafe."""
    if not raw:
        raise ValueError("invalid key id: the id is empty")
    if not any(_unsafe(c) for c in raw):
        encoded = _escape(raw, ID_ESCAPES)
        if len(encoded.encode("utf-8")) <= MAX_PLAIN_ID_LEN:
            return encoded
    return "#" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def build_key(prefix, app_version, kind, schema, id, generation=0, hash_tag=False):
    """`{prefix}:{app_version}:{kind}:s{schema}[.g{generation}]:{id}`."""
    kind_part = segment("kind", kind)
    if hash_tag:
        kind_part = "{" + kind_part + "}"
    schema_part = f"s{schema}" + (f".g{generation}" if generation else "")
    return ":".join(
        [segment("prefix", prefix), segment("app version", app_version), kind_part, schema_part, encode_id(str(id))]
    )


def lease_key(prefix, key):
    """The load lease of entry `key`: `{prefix}:#lease:{key without "{prefix}:"}`.

    A writer that sets or deletes an entry deletes its lease in the same MULTI or script.
    """
    ns = segment("prefix", prefix) + ":"
    if not key.startswith(ns):
        raise ValueError(f"{key!r} is not under the prefix {prefix!r}")
    return ns + "#lease:" + key[len(ns):]


def schema_registry(prefix, app_version, kind):
    """The set of a kind's schema versions: `{prefix}:#schemas:{app_version}:{kind}:`.

    A writer adds its schema (SADD); an invalidation deletes the entity under every member.
    """
    return f"{segment('prefix', prefix)}:#schemas:{segment('app version', app_version)}:{segment('kind', kind)}:"


def current_counter(client, prefix, app_version, name, now_us, ttl_ms=None):
    """The current value of a version counter (`kind:{kind}` or `tag:{tag}`), created with
    `now_us` (microseconds since the epoch) when missing, as Strata does (wire-format.md 2.3).

    `client` is a redis-py client (anything with `get` and `set(key, value, nx=, px=)`). Tag
    counters get a TTL (`ttl_ms`: twice the longest entry lifetime, at least an hour).
    """
    key = build_key(prefix, app_version, "__version", 1, name)
    client.set(key, str(now_us), nx=True, px=ttl_ms)
    return int(client.get(key))


def counter_key(prefix, app_version, name):
    """The key of a version counter: `name` is `kind:{kind}` or `tag:{tag}` (wire-format.md 2.3)."""
    return build_key(prefix, app_version, "__version", 1, name)


def _form(text):
    """application/x-www-form-urlencoded as Strata writes it: alphanumerics and `*-._` kept,
    space as `+`, every other byte as %XX (uppercase)."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "*-._"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def response_id(path, query=(), identity=None):
    """The response cache's id of a request (wire-format.md 4.2): the path, `?` and the declared
    query parameters sorted by name (repeated ones in their order), and `#vary=` + the identity
    hash when the request carries what the layer varies by."""
    rid = path
    pairs = sorted(query, key=lambda kv: kv[0])
    if pairs:
        rid += "?" + "&".join(_form(k) + "=" + _form(v) for k, v in pairs)
    if identity:
        rid += "#vary=" + identity
    return rid


def response_payload(status, headers, body):
    """A response-cache payload: status, [[name, value]], the body as bytes (MessagePack bin)
    and its ETag."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
    return {"status": status, "headers": [[n, v] for n, v in headers], "body": body, "etag": etag}


def lz4_block_decompress(block):
    """Decompresses an lz4 block prefixed by its decompressed size (u32 little endian)."""
    size = int.from_bytes(block[:4], "little")
    src, i, out = block, 4, bytearray()
    while i < len(src):
        token = src[i]
        i += 1
        literals = token >> 4
        if literals == 15:
            while True:
                b = src[i]
                i += 1
                literals += b
                if b != 255:
                    break
        out += src[i : i + literals]
        i += literals
        if i >= len(src):
            break  # the last sequence has literals only
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        match_len = token & 15
        if match_len == 15:
            while True:
                b = src[i]
                i += 1
                match_len += b
                if b != 255:
                    break
        match_len += 4
        start = len(out) - offset
        if offset == 0 or start < 0:
            raise ValueError("corrupt lz4 block")
        for k in range(match_len):  # byte by byte: matches may overlap their own output
            out.append(out[start + k])
    if len(out) != size:
        raise ValueError("lz4 block decompressed to the wrong size")
    return bytes(out)


def decode_entry(data, expected_schema=None):
    """Returns (meta, flags, payload); raises ValueError for anything that is a miss."""
    if len(data) < 4 or data[:2] != MAGIC:
        raise ValueError("not a Strata envelope")
    if data[2] != FORMAT_VERSION:
        raise ValueError(f"unsupported format version {data[2]}")
    flags = data[3]
    if flags & ~(FLAG_COMPRESSED | FLAG_ABSENT | FLAG_JSON):
        raise ValueError("unknown flags")
    if flags & FLAG_JSON:
        body = json.loads(data[4:])
    else:
        body = msgpack.unpackb(data[4:], raw=False, strict_map_key=False)
    created_at_ms, expires_at_ms, schema, payload = body[:4]
    if expected_schema is not None and schema != expected_schema:
        raise ValueError("schema mismatch")
    if flags & FLAG_ABSENT:
        payload = None
    elif flags & FLAG_COMPRESSED:
        payload = msgpack.unpackb(lz4_block_decompress(payload), raw=False, strict_map_key=False)
    meta = {
        "created_at_ms": created_at_ms,
        "expires_at_ms": expires_at_ms,
        "schema": schema,
        "generation": body[4] if len(body) > 4 else 0,
        "tags": [[t, v] for t, v in body[5]] if len(body) > 5 else [],
    }
    return meta, flags, payload


def encode_entry(payload, created_at_ms, ttl_ms, schema, absent=False, generation=0, tags=()):
    """An uncompressed MessagePack entry (every Strata reader accepts it). `generation` and
    `tags` ([(tag, version)]) must be the current counters (wire-format.md 2.3), or Strata readers
    treat the entry as a miss."""
    flags = FLAG_ABSENT if absent else 0
    body = [created_at_ms, created_at_ms + ttl_ms, schema, None if absent else payload]
    if generation or tags:
        body.append(generation)
    if tags:
        body.append([[t, v] for t, v in tags])
    body = msgpack.packb(body, use_bin_type=True)
    return MAGIC + bytes([FORMAT_VERSION, flags]) + body


def _main(argv):
    cmd = argv[1]
    if cmd == "key":
        gen = int(argv[7]) if len(argv) > 7 and not argv[7].startswith("--") else 0
        print(build_key(argv[2], argv[3], argv[4], int(argv[5]), argv[6], gen, "--hash-tag" in argv))
    elif cmd == "lease":
        print(lease_key(argv[2], argv[3]))
    elif cmd == "registry":
        print(schema_registry(argv[2], argv[3], argv[4]))
    elif cmd == "decode":
        with open(argv[2], "rb") as f:
            meta, flags, payload = decode_entry(f.read())
        print(json.dumps({"meta": meta, "flags": flags, "payload": payload}, sort_keys=True))
    elif cmd == "counter-key":
        print(counter_key(argv[2], argv[3], argv[4]))
    elif cmd == "entry":
        # entry PREFIX APP_VERSION KIND SCHEMA ID PAYLOAD_JSON CREATED_MS TTL_MS GENERATION TAGS_JSON OUT
        key = build_key(argv[2], argv[3], argv[4], int(argv[5]), argv[6])
        tags = [(t, v) for t, v in json.loads(argv[11])]
        with open(argv[12], "wb") as f:
            f.write(encode_entry(json.loads(argv[7]), int(argv[8]), int(argv[9]), int(argv[5]),
                                 generation=int(argv[10]), tags=tags))
        print(key)
    elif cmd == "response":
        # response PREFIX APP_VERSION ROUTE_PREFIX PATH QUERY_JSON BODY CREATED_MS TTL_MS GENERATION OUT
        rid = response_id(argv[5], [(k, v) for k, v in json.loads(argv[6])])
        key = build_key(argv[2], argv[3], "api." + argv[4], 1, rid)
        payload = response_payload(200, [("content-type", "application/json")], argv[7].encode())
        with open(argv[11], "wb") as f:
            f.write(encode_entry(payload, int(argv[8]), int(argv[9]), 1, generation=int(argv[10])))
        print(key)
    elif cmd == "encode":
        with open(argv[6], "wb") as f:
            f.write(encode_entry(json.loads(argv[2]), int(argv[3]), int(argv[4]), int(argv[5])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    _main(sys.argv)
