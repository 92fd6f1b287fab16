# Identity resolution rules: which identifiers link, how many of each a person may hold, which
# values are junk, which persons never merge, and when a merge is too big to make unreviewed.
#
# The service asks `settings` once per policy revision (types, priorities, blocked values, matching
# settings), and `decision` for every link that would join identifiers not yet one person. Personal
# values never reach this policy: a decision sees only counts, flags and bands.
package cdp.identity

import rego.v1

type_settings(t) := s if {
	s := data.cdp.identity.types[t]
} else := data.cdp.identity.external_type_defaults

limit_of(t) := type_settings(t).limit

settings := {
	"types": data.cdp.identity.types,
	"external_type_defaults": data.cdp.identity.external_type_defaults,
	"never_link": data.cdp.identity.never_link,
	"blocked_values": array.concat(data.cdp.identity.blocked_values, data.cdp.identity.custom_blocked_values),
	"blocked_patterns": data.cdp.identity.blocked_patterns,
	"protected": data.cdp.identity.protected,
	"bands": data.cdp.identity.bands,
	"matching": data.cdp.identity.matching,
}

# Refusals: the link is kept as inactive evidence, and the weakest identifier of the call is left
# out before deciding again.
refusals contains sprintf("a person holds at most %d %s (this link would make %d)", [limit_of(t), t, n]) if {
	some t, n in input.counts
	n > limit_of(t)
}

refusals contains "a protected person is never merged with another" if input.protected == true

refusals contains sprintf("%s identifiers never link", [t]) if {
	some t, _ in input.counts
	t in data.cdp.identity.never_link
}

refusals contains "a model scored the pair below the review band" if {
	input.rule == "probabilistic"
	not input.band in {"link", "review"}
}

# Holds: the link waits for a reviewer (the mass-merge breaker; a model's uncertain pairs).
holds contains sprintf("would join %d persons at once (breaker: %d)", [input.persons, b]) if {
	b := data.cdp.identity.breaker.persons
	input.persons > b
}

holds contains sprintf("would make a person of %d identifiers (breaker: %d)", [input.identifiers, b]) if {
	b := data.cdp.identity.breaker.identifiers
	input.identifiers > b
}

holds contains "a model scored the pair in the review band" if {
	input.rule == "probabilistic"
	input.band == "review"
}

outcome := "refuse" if {
	count(refusals) > 0
} else := "hold" if {
	count(holds) > 0
} else := "link"

reasons := sort(refusals) if outcome == "refuse"

reasons := sort(holds) if outcome == "hold"

reasons := [] if outcome == "link"

decision := {"outcome": outcome, "reasons": reasons}

# A reviewer's verdict on a held link: who may give it.
review := {"allow": allow_review, "reasons": review_reasons}

default allow_review := false

allow_review if count(review_reasons) == 0

review_reasons contains "only a data steward, a privacy officer or an admin reviews identity links" if {
	count({r | some r in input.roles; r in {"data_steward", "privacy_officer", "admin"}}) == 0
}
