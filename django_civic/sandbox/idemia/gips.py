"""What the sandbox's GIPS answers: the identity payload and the proof archive (idemia-ipa.md 1.2, 1.5)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from django_civic.sandbox.idemia.personas import PERSONAS
from django_civic.sandbox.idemia.state import VERIFIED, GipsIdentity

# Evidence strengths behind each LOA the sandbox hands out (idemia-ipa.md 1.4: LOA3 = a LEVEL3 document plus
# a portrait match; LOA2 = a LEVEL2 document plus a portrait match; LOA1 = one LEVEL2 document).
_STRENGTH = {"LOA0": "LEVEL0", "LOA1": "LEVEL2", "LOA2": "LEVEL2", "LOA3": "LEVEL3", "LOA4": "LEVEL4"}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def identity_payload(identity: GipsIdentity, *, processing: bool = False) -> dict[str, Any]:
    """``GET /gips/v1/identities/{id}`` in the shape IDEMIA's samples use."""
    persona = PERSONAS[identity.persona]
    verified = identity.outcome == VERIFIED
    level = identity.level_of_assurance
    document_status = "PROCESSING" if processing else ("VERIFIED" if verified else "NOT_VERIFIED")
    strength = _STRENGTH.get(level, "LEVEL2") if verified else "LEVEL0"
    return {
        "globalStatus": {
            "id": identity.identity_id,
            "status": "PROCESSING" if processing else "EXPECTING_INPUT",
            "levelOfAssurance": "LOA0" if processing else level,
            "creationDateTime": _iso(identity.created),
            "evaluationDateTime": _iso(identity.evaluated),
            "upgradePaths": {},
        },
        "consents": [{"consentId": f"{identity.identity_id}-consent", "approved": True, "type": "PORTRAIT",
                      "validityPeriod": {"from": _iso(identity.created)}}],
        "idDocuments": [{
            "evidenceId": f"{identity.identity_id}-doc",
            "evidenceStatus": {
                "status": document_status,
                "evaluationDateTime": _iso(identity.evaluated),
                "strength": strength,
                "score": strength,
                "isAdjudicable": False,
                "positiveIndicators": ["MRZ_CHECKSUMS_OK", "TEMPLATE_MATCHING_OK"] if verified else [],
                "unverifiedIndicators": [] if verified else ["SECURITY_FEATURES_UNVERIFIED"],
                "warningIndicators": [] if verified else ["MRZ_CHECKSUMS_FAILED"],
            },
            "idDocumentData": {
                "idDocumentType": persona.document_type,
                "idDocumentNumber": persona.document_number,
                "issuingCountry": persona.issuing_country,
                "issuingDate": persona.issuing_date,
                "expiryDate": persona.expiry_date,
                "personalAttributes": {
                    "givenNames": [{"value": name} for name in persona.given_names],
                    "surname": {"value": persona.surname},
                    "dateOfBirth": {"value": persona.date_of_birth},
                    "gender": {"value": persona.gender},
                },
            },
        }],
        "portrait": {
            "evidenceId": f"{identity.identity_id}-portrait",
            "type": "PORTRAIT",
            "submitDateTime": _iso(identity.created),
            "evidenceStatus": {"status": document_status,
                               "strength": "LEVEL4" if verified else "LEVEL0",
                               "score": "LEVEL4" if verified else "LEVEL0"},
            "portraitQuality": verified,
            "portraitData": {"source": "LIVE_CAPTURE_VIDEO", "channel": "webSDK"},
        },
    }


PROOF_BOUNDARY = "sandbox-gips-proof-boundary"
# Text that starts like a delimiter of the envelope but is not one: on a line of its own with more after
# the boundary, in mid-line, and the close delimiter's shape followed by more text.
BOUNDARY_LOOKALIKES = (f"\r\n--{PROOF_BOUNDARY}-not-the-end\r\nmid-line --{PROOF_BOUNDARY}\r\n"
                       f"--{PROOF_BOUNDARY}--but-not-closed\r\n").encode("ascii")


def proof_envelope(identity: GipsIdentity, *, encoding: str = "binary") -> bytes:
    """The proof: a ZIP (``<id>_<yyyyMMddHHmmssSSS>/proof.json``) inside a MIME multipart envelope.

    Like the envelope IDEMIA's sample parses, the part starts with a stray CRLF before the archive. Other
    legal envelopes a client must read: ``encoding="base64"`` sends the part with
    ``Content-Transfer-Encoding: base64``; ``encoding="boundary_text"`` adds to the archive a file stored
    uncompressed whose bytes look like the boundary without being a delimiter (RFC 2046 5.1.1).
    """
    stamp = identity.evaluated.strftime("%Y%m%d%H%M%S") + f"{identity.evaluated.microsecond // 1000:03d}"
    root = f"{identity.identity_id}_{stamp}"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        proof = {"identity": identity_payload(identity), "signature": "sandbox-unsigned"}
        zf.writestr(f"{root}/proof.json", json.dumps(proof, indent=2))
        zf.writestr(f"{root}/images/", b"")
        zf.writestr(f"{root}/videos/", b"")
        if encoding == "boundary_text":
            zf.writestr(f"{root}/images/note.txt", BOUNDARY_LOOKALIKES, compress_type=zipfile.ZIP_STORED)
    content = archive.getvalue()
    transfer = ""
    if encoding == "base64":
        content = base64.encodebytes(content).replace(b"\n", b"\r\n")
        transfer = "Content-Transfer-Encoding: base64\r\n"
    head = (f"--{PROOF_BOUNDARY}\r\nContent-Type: application/zip\r\n{transfer}"
            f'Content-Disposition: attachment; filename="{root}.zip"\r\n\r\n\r\n').encode("ascii")
    return head + content + f"\r\n--{PROOF_BOUNDARY}--\r\n".encode("ascii")
