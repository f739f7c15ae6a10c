"""People the sandbox's simulated IDEMIA journey can prove. Fictional; documented in docs/sandbox.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdemiaPersona:
    key: str
    given_names: tuple[str, ...]
    surname: str
    date_of_birth: str
    gender: str
    document_type: str
    document_number: str
    issuing_country: str
    issuing_date: str
    expiry_date: str

    @property
    def display_name(self) -> str:
        return f"{' '.join(self.given_names)} {self.surname}"


PERSONAS: dict[str, IdemiaPersona] = {
    persona.key: persona
    for persona in (
        IdemiaPersona("alice", ("Alice", "Marie"), "Sandbox", "1990-04-12", "F", "PASSPORT", "X1234567",
                      "GBR", "2021-06-01", "2031-05-31"),
        IdemiaPersona("bruno", ("Bruno",), "Testeur", "1985-11-03", "M", "IDENTITY_CARD", "FR9988776",
                      "FRA", "2019-02-14", "2029-02-13"),
        IdemiaPersona("chen", ("Chen", "Wei"), "Example", "2001-01-30", "M", "DRIVING_LICENSE", "D55501234",
                      "USA", "2022-09-09", "2030-01-30"),
    )
}
DEFAULT_PERSONA = "alice"
