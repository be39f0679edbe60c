#!/usr/bin/env python3
"""The browser's side of one Web Push message, by an implementation that is not ours.

tests/api/push.rs hands it, as JSON on stdin, what a local receiving endpoint got from the server
(the body and the Authorization header), the subscription's private key and auth secret, the
endpoint's origin and the time. It decrypts the body with `http_ece` (RFC 8188/8291, aes128gcm:
the sender's one-time public key is read from the record's key id), and checks the VAPID token
(RFC 8292) with `cryptography`: an ES256 signature by the key in `k=`, `aud` the endpoint's
origin, `exp` in the future and at most 24 hours away, `sub` a mailto: or https: URL.

Prints {"payload": <the decrypted JSON>, "claims": {...}, "k": "<the VAPID public key>"}; any
failure raises (non-zero exit, traceback on stderr).
"""

import base64
import json
import sys

import http_ece
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils


def b64d(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main():
    given = json.load(sys.stdin)

    # Decrypt as the browser would, with its own private key and auth secret.
    private_value = int.from_bytes(b64d(given["private_key"]), "big")
    private_key = ec.derive_private_key(private_value, ec.SECP256R1())
    plaintext = http_ece.decrypt(
        b64d(given["body"]),
        private_key=private_key,
        auth_secret=b64d(given["auth"]),
        version="aes128gcm",
    )

    # Check the VAPID identification: "vapid t=<JWT>, k=<public key>".
    scheme, _, params = given["authorization"].partition(" ")
    assert scheme.lower() == "vapid", given["authorization"]
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    token, k = fields["t"], fields["k"]
    head_b64, claims_b64, sig_b64 = token.split(".")
    header = json.loads(b64d(head_b64))
    assert header["alg"] == "ES256", header
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(k))
    raw = b64d(sig_b64)
    assert len(raw) == 64, len(raw)
    signature = utils.encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    public_key.verify(
        signature, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )
    claims = json.loads(b64d(claims_b64))
    assert claims["aud"] == given["origin"], (claims, given["origin"])
    now = given["now"]
    assert now < claims["exp"] <= now + 24 * 3600, (claims, now)
    assert claims["sub"].startswith(("mailto:", "https://")), claims

    json.dump({"payload": json.loads(plaintext), "claims": claims, "k": k}, sys.stdout)


if __name__ == "__main__":
    main()
