"""Probabilistic record matching for identity resolution (Fellegi-Sunter), as a library.

Records come in one at a time (`Matcher.add`), are normalised, indexed under their blocking keys and scored
against the records sharing a key; `Matcher.train` fits the model on the records held, Splink's way (u from
random pairs, m by EM one session per blocking rule, term-frequency adjusted exact matches). Nothing here
knows about gRPC, storage or policies.

- `normalise`: values as compared (lowercase, no punctuation, dates as YYYYMMDD); empty, "nan" -> null.
- `comparisons`: the levels of each kind ("name", "text", "date", "code", "exact"), columns of values by
  record slot with integer codes, so that exact agreement, nulls and term frequencies are numpy operations.
- `blocking`: the inverted index; keys holding more than `max_postings` records are skipped, by `add` and
  by `score_all` alike.
- `model`: the fitted m, u and prior (no values from records), with a content hash for its version.
- `training`: u, EM per blocking rule, and the prior.
- `clustering`: greedy one-to-one between sources, or each record's single best link.

A candidate's weight is the match weight as Splink has it: log2 of the prior odds plus every field's log2
Bayes factor (null: 0); its probability is 1 / (1 + 2^-weight).
"""

from cdp.identity.matching.matcher import Candidate, Matcher
from cdp.identity.matching.model import Model
from cdp.identity.matching.settings import MatchSettings, settings_from

__all__ = ["Candidate", "MatchSettings", "Matcher", "Model", "settings_from"]
