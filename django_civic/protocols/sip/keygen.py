"""``civic-sip-keygen`` / ``python -m django_civic.protocols.sip.keygen``.

New SIP credentials in Civic's hex formats.
"""

from __future__ import annotations

import argparse
import json
import sys

from django_civic.protocols.sip.crypto import generate_app_secret, generate_key_pair


def generate() -> dict[str, str]:
    private_key, public_key = generate_key_pair()
    return {"privateKey": private_key, "publicKey": public_key, "appSecret": generate_app_secret()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a Civic SIP signing key pair and app secret.")
    parser.add_argument("--settings", action="store_true",
                        help="print a CIVIC['SIP'] snippet instead of JSON")
    args = parser.parse_args(argv)
    creds = generate()
    if args.settings:
        print(f'"APP_SECRET": "{creds["appSecret"]}",\n"PRIVATE_KEY": "{creds["privateKey"]}",'
              f'\n# register this public key with the app: {creds["publicKey"]}')
    else:
        json.dump(creds, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
