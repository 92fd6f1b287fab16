"""The vault subject of an audience literal that names an email or a phone.

A condition such as `email eq "ada@x.io"` names a person. Segment seals its literal under a subject
made from a keyed hash of the normalised value, and identity, forgetting the person, destroys the
subjects of their emails and phones along with their keys: the literal reads as erased for ever.
The subject holds the keyed hash (its own domain, unlike identity's index or suppression), never the
value.
"""

from __future__ import annotations

from cdp.platform.identifiers import normal_email, normal_phone
from cdp.platform.vault import blind_index

LITERAL_KINDS = ("email", "phone")


def literal_subject(index_key: bytes, kind: str, value: str) -> str | None:
    """The subject of a literal naming this email or phone; None when the value is not one."""
    if kind == "email":
        normal = normal_email(value)
    elif kind == "phone":
        normal = normal_phone(value)
    else:
        return None
    if normal is None:
        return None
    return f"literal:{kind}:{blind_index(index_key, f'audience-literal.{kind}', normal)}"
