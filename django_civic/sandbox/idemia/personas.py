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
        # The same people as the Civic SIP and Civic Auth personas, so a signed-in carol proves carol.
        IdemiaPersona("alice", ("Alice",), "Walker", "1990-04-12", "F", "PASSPORT", "X1234567",
                      "GBR", "2021-06-01", "2031-05-31"),
        IdemiaPersona("bob", ("Bob",), "Stone", "1985-11-03", "M", "IDENTITY_CARD", "FR9988776",
                      "FRA", "2019-02-14", "2029-02-13"),
        IdemiaPersona("carol", ("Carol", "Susan"), "Danvers", "1984-11-23", "F", "PASSPORT", "P12345678",
                      "GBR", "2019-10-11", "2029-10-10"),
    )
}
DEFAULT_PERSONA = "alice"
