"""A plain nats-py client of the dspex wire protocol, used by the integration tests.

Usage: natspy_call.py URL SUBJECT ENCODING JSON_BODY
Prints one JSON line: {"status": <error code header or null>, "headers": {...}, "body": <decoded>}.
"""

import asyncio
import json
import sys

import msgpack
import nats


async def main() -> None:
    url, subject, encoding, body = sys.argv[1:5]
    payload = json.loads(body)
    nc = await nats.connect(url)
    if encoding == "json":
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
    else:
        data = msgpack.packb(payload)
        headers = {}
    msg = await nc.request(subject, data, timeout=30, headers=headers)
    decoded = json.loads(msg.data) if encoding == "json" else msgpack.unpackb(msg.data)
    out_headers = dict(msg.headers or {})
    print(json.dumps({"status": out_headers.get("Nats-Service-Error-Code"), "headers": out_headers, "body": decoded}))
    await nc.close()


asyncio.run(main())
