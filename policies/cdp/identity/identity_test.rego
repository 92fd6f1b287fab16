package cdp.identity_test

import rego.v1

base := {"rule": "seen-together", "persons": 1, "identifiers": 2, "protected": false, "band": ""}

decide(p) := d if {
	proposal := object.union(base, p)
	d := data.cdp.identity.decision with input as proposal
}

test_a_new_identifier_joins_a_person if {
	decide({"counts": {"user_id": 1, "anonymous_id": 1}}) == {"outcome": "link", "reasons": []}
}

test_a_second_user_id_is_refused if {
	d := decide({"counts": {"user_id": 2, "anonymous_id": 1}, "persons": 2, "identifiers": 3})
	d.outcome == "refuse"
	d.reasons == ["a person holds at most 1 user_id (this link would make 2)"]
}

test_a_sixth_email_is_refused if {
	decide({"counts": {"user_id": 1, "email": 6}}).outcome == "refuse"
	decide({"counts": {"user_id": 1, "email": 5}}).outcome == "link"
}

test_external_types_have_the_default_limit if {
	decide({"counts": {"crm_id": 5}}).outcome == "link"
	decide({"counts": {"crm_id": 6}}).outcome == "refuse"
}

test_ip_addresses_never_link if {
	d := decide({"counts": {"anonymous_id": 1, "ip": 1}})
	d.outcome == "refuse"
	d.reasons == ["ip identifiers never link"]
}

test_protected_persons_never_merge if {
	decide({"counts": {"anonymous_id": 2}, "persons": 2, "protected": true}).outcome == "refuse"
}

test_the_breaker_holds_mass_merges if {
	d := decide({"counts": {"anonymous_id": 4}, "persons": 4, "identifiers": 4})
	d.outcome == "hold"
	d.reasons == ["would join 4 persons at once (breaker: 3)"]
	decide({"counts": {"anonymous_id": 5}, "identifiers": 101}).outcome == "hold"
}

test_a_refusal_wins_over_a_hold if {
	decide({"counts": {"user_id": 2}, "persons": 5}).outcome == "refuse"
}

test_model_bands if {
	decide({"rule": "probabilistic", "band": "link", "counts": {"a_id": 1, "b_id": 1}}).outcome == "link"
	decide({"rule": "probabilistic", "band": "review", "counts": {"a_id": 1, "b_id": 1}}).outcome == "hold"
	decide({"rule": "probabilistic", "band": "reject", "counts": {"a_id": 1, "b_id": 1}}).outcome == "refuse"
}

test_settings_carry_the_junk_list_and_priorities if {
	s := data.cdp.identity.settings
	"undefined" in s.blocked_values
	"[object object]" in s.blocked_values
	s.types.user_id.priority < s.types.email.priority
	s.types.email.priority < s.types.anonymous_id.priority
}

test_custom_blocked_values_are_added if {
	s := data.cdp.identity.settings with data.cdp.identity.custom_blocked_values as ["qa-device"]
	"qa-device" in s.blocked_values
}

test_only_stewards_review if {
	data.cdp.identity.review.allow with input as {"roles": ["data_steward"]}
	not data.cdp.identity.review.allow with input as {"roles": ["marketer"]}
}
