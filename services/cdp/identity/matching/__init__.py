"""Probabilistic record matching for identity resolution (Fellegi-Sunter), as a library.

Records come in one at a time (`Matcher.add`), are normalised, indexed under their blocking keys and scored
against the records sharing a key; `Matcher.train` fits the model on the records held, Splink's way (u from
random pairs, m by EM one session per blocking rule, term-frequency adjusted exact matches). Nothing here
knows about gRPC, storage or policies.
"""

from cdp.identity.matching.matcher import Candidate, Matcher
from cdp.identity.matching.model import Model
from cdp.identity.matching.settings import MatchSettings, settings_from

__all__ = ["Candidate", "MatchSettings", "Matcher", "Model", "settings_from"]
