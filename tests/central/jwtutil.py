"""Minimal RS256 JWT signing and verification (cryptography only).

Small on purpose: the token endpoint signs, the auth front verifies. Only what
those two need: RS256, a ``kid`` header, and the registered time claims.
"""
import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class TokenError(Exception):
    """A token that must be rejected; ``reason`` is a short machine word."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    text = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode("ascii"))


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_pem(data):
    return serialization.load_pem_public_key(data)


def sign(key, kid, claims):
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def unverified_header(token):
    try:
        header_b64 = token.split(".")[0]
        header = json.loads(b64url_decode(header_b64))
    except (ValueError, IndexError) as exc:
        raise TokenError("malformed", "token is not a JWT: %s" % exc)
    if not isinstance(header, dict):
        raise TokenError("malformed", "token header is not a JSON object")
    return header


def verify(token, public_key_for_kid, now=None, leeway=0):
    """Check signature and time claims; return the claims.

    ``public_key_for_kid(kid)`` returns a public key or None.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed", "token is not a JWT (expected 3 parts)")
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise TokenError("malformed", "unsupported token algorithm %r" % header.get("alg"))
    key = public_key_for_kid(header.get("kid"))
    if key is None:
        raise TokenError("bad_signature", "token signed by unknown key %r" % header.get("kid"))
    try:
        key.verify(b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"),
                   padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise TokenError("bad_signature", "token signature is invalid")
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        raise TokenError("malformed", "token claims are not JSON")
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        raise TokenError("malformed", "token has no exp claim")
    if now > exp + leeway:
        raise TokenError("expired", "token expired %d s ago" % int(now - exp))
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and now + leeway < nbf:
        raise TokenError("not_yet_valid", "token not valid before %d" % nbf)
    return claims
