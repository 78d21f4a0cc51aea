"""Signs a test delivery the way each provider does, with the provider's own
library where one exists, and checks the result with that library's verifier.

Reads one JSON object on stdin:
  {"provider": "standard_webhooks" | "svix" | "stripe" | "shopify" | "linear",
   "secret": "...", "body": "...", "timestamp": 1700000000, "id": "msg_..."}
and prints {"headers": {name: value}} on stdout.
"""

import base64
import datetime
import hashlib
import hmac
import json
import sys


def standard_webhooks(req):
    from standardwebhooks.webhooks import Webhook

    ts = datetime.datetime.fromtimestamp(req["timestamp"], tz=datetime.timezone.utc)
    hook = Webhook(req["secret"])
    signature = hook.sign(req["id"], ts, req["body"])
    headers = {
        "webhook-id": req["id"],
        "webhook-timestamp": str(req["timestamp"]),
        "webhook-signature": signature,
    }
    if req.get("fresh", True):
        hook.verify(req["body"], headers)
    return headers


def svix(req):
    from svix.webhooks import Webhook

    ts = datetime.datetime.fromtimestamp(req["timestamp"], tz=datetime.timezone.utc)
    hook = Webhook(req["secret"])
    signature = hook.sign(req["id"], ts, req["body"])
    headers = {
        "svix-id": req["id"],
        "svix-timestamp": str(req["timestamp"]),
        "svix-signature": signature,
    }
    if req.get("fresh", True):
        hook.verify(req["body"], headers)
    return headers


def stripe(req):
    import stripe as lib

    header = lib.WebhookSignature.generate_signature_header(
        req["body"], req["secret"], timestamp=req["timestamp"]
    )
    if req.get("fresh", True):
        lib.WebhookSignature.verify_header(req["body"], header, req["secret"], 300)
    return {"stripe-signature": header}


# No official Python library signs these: the documented algorithms, written
# with Python's own hmac rather than hookgate's code.
def shopify(req):
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"x-shopify-hmac-sha256": base64.b64encode(mac.digest()).decode()}


def linear(req):
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"linear-signature": mac.hexdigest()}


def main():
    req = json.load(sys.stdin)
    sign = globals()[req["provider"]]
    json.dump({"headers": sign(req)}, sys.stdout)


if __name__ == "__main__":
    main()
