"""Signs a test delivery the way each provider does, with the provider's own
library where one exists, and checks the result with that library's verifier.

Reads one JSON object on stdin:
  {"provider": "standard_webhooks" | "svix" | "stripe" | "slack" | "shopify" | "linear" | "sentry" | "pagerduty" | …,
   "secret": "...", "body": "...", "timestamp": 1700000000, "id": "msg_..."}
or, for a generic HMAC, "provider": "hmac" with "algorithm", "encoding",
"content" (a template with {timestamp} and {body}), "header", and optionally
"prefix" and "timestamp_header"
and prints {"headers": {name: value}} on stdout.
"""

import base64
import datetime
import hashlib
import hmac
import json
import sys


def _webhook(req, library, prefix):
    """Standard Webhooks and Svix sign alike; Svix's headers say `svix-`."""
    ts = datetime.datetime.fromtimestamp(req["timestamp"], tz=datetime.timezone.utc)
    hook = library(req["secret"])
    signature = hook.sign(req["id"], ts, req["body"])
    headers = {
        f"{prefix}-id": req["id"],
        f"{prefix}-timestamp": str(req["timestamp"]),
        f"{prefix}-signature": signature,
    }
    if req.get("fresh", True):
        hook.verify(req["body"], headers)
    return headers


def standard_webhooks(req):
    from standardwebhooks.webhooks import Webhook

    return _webhook(req, Webhook, "webhook")


def svix(req):
    from svix.webhooks import Webhook

    return _webhook(req, Webhook, "svix")


def stripe(req):
    import stripe as lib

    header = lib.WebhookSignature.generate_signature_header(
        req["body"], req["secret"], timestamp=req["timestamp"]
    )
    if req.get("fresh", True):
        lib.WebhookSignature.verify_header(req["body"], header, req["secret"], 300)
    return {"stripe-signature": header}


def slack(req):
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(req["secret"])
    timestamp = str(req["timestamp"])
    signature = verifier.generate_signature(timestamp=timestamp, body=req["body"])
    if req.get("fresh", True):
        assert verifier.is_valid(req["body"], timestamp, signature)
    return {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}


# No official Python library signs these: the documented algorithms, written
# with Python's own hmac rather than hookgate's code.
def shopify(req):
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"x-shopify-hmac-sha256": base64.b64encode(mac.digest()).decode()}


def linear(req):
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"linear-signature": mac.hexdigest()}


def sentry(req):
    """As Sentry's integration-platform docs verify: hex HMAC-SHA256 of the body."""
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"sentry-hook-signature": mac.hexdigest(), "sentry-hook-timestamp": str(req["timestamp"])}


def pagerduty(req):
    """As PagerDuty's webhook-signature docs verify: `v1=` + hex HMAC-SHA256
    of the body, beside a signature made with an older secret."""
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    old = hmac.new(b"an-older-secret", req["body"].encode(), hashlib.sha256)
    return {"x-pagerduty-signature": f"v1={old.hexdigest()},v1={mac.hexdigest()}"}


def zendesk(req):
    """As Zendesk's "Verifying webhook authenticity" does: base64
    HMAC-SHA256 of the timestamp header's value followed by the body."""
    ts = datetime.datetime.fromtimestamp(req["timestamp"], tz=datetime.timezone.utc)
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(req["secret"].encode(), (stamp + req["body"]).encode(), hashlib.sha256)
    return {
        "x-zendesk-webhook-signature": base64.b64encode(mac.digest()).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def notion(req):
    """As Notion's webhook docs verify: `sha256=` + hex HMAC-SHA256 of the
    body, keyed with the subscription's verification_token."""
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"x-notion-signature": "sha256=" + mac.hexdigest()}


def intercom(req):
    """As Intercom's signed notifications are verified: `sha1=` + hex
    HMAC-SHA1 of the body with the app's client secret."""
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha1)
    return {"x-hub-signature": "sha1=" + mac.hexdigest()}


def jira(req):
    """As Atlassian documents secure admin webhooks: `sha256=` + hex
    HMAC-SHA256 of the body with the webhook's secret."""
    mac = hmac.new(req["secret"].encode(), req["body"].encode(), hashlib.sha256)
    return {"x-hub-signature": "sha256=" + mac.hexdigest()}


class _Form(dict):
    """Form parameters with repeated names, as Flask's MultiDict gives
    RequestValidator (`getall`)."""

    def getall(self, name):
        return self[name]


def twilio(req):
    """Twilio's RequestValidator signs the full URL ("url") and the form
    body's parameters, or for a JSON body the URL alone (which then holds
    bodySHA256); it must then validate what it signed."""
    from twilio.request_validator import RequestValidator
    from urllib.parse import parse_qs

    validator = RequestValidator(req["secret"])
    if "bodySHA256=" in req["url"]:
        params = req["body"]
        signature = validator.compute_signature(req["url"], {})
    else:
        params = _Form(parse_qs(req["body"], keep_blank_values=True))
        signature = validator.compute_signature(req["url"], params)
    assert validator.validate(req["url"], params, signature)
    return {"x-twilio-signature": signature}


def discord(req):
    """As Discord signs interactions: Ed25519 (PyNaCl) over the timestamp
    followed by the body; "secret" is the private key's 32-byte seed, hex."""
    from nacl.signing import SigningKey

    key = SigningKey(bytes.fromhex(req["secret"]))
    stamp = str(req["timestamp"])
    signed = key.sign((stamp + req["body"]).encode())
    key.verify_key.verify(signed)
    return {"x-signature-ed25519": signed.signature.hex(), "x-signature-timestamp": stamp}


def discord_public_key(req):
    """The public key (hex) Discord shows for the seed in "secret"."""
    from nacl.signing import SigningKey

    return {"public_key": SigningKey(bytes.fromhex(req["secret"])).verify_key.encode().hex()}


def hmac_generic(req):
    """A generic HMAC as the key's settings describe it."""
    digest = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}[req["algorithm"]]
    content = req["content"].replace("{timestamp}", str(req["timestamp"])).replace("{body}", req["body"])
    mac = hmac.new(req["secret"].encode(), content.encode(), digest).digest()
    encoded = mac.hex() if req["encoding"] == "hex" else base64.b64encode(mac).decode()
    headers = {req["header"]: req.get("prefix", "") + encoded}
    if req.get("timestamp_header"):
        headers[req["timestamp_header"]] = str(req["timestamp"])
    return headers


def main():
    req = json.load(sys.stdin)
    sign = hmac_generic if req["provider"] == "hmac" else globals()[req["provider"]]
    json.dump({"headers": sign(req)}, sys.stdout)


if __name__ == "__main__":
    main()
