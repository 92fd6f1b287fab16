package cdp.egress_test

import rego.v1

# One purpose, the person granting every category: classes alone decide.
granted := {c: true | some c, _ in data.cdp.consent_categories}

egress(purpose, properties) := d if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "dest-1", "type": "webhook", "purpose": purpose},
		"properties": properties,
		"consent": granted,
	}
}

# A destination declaring its purposes, and the person's consent.
with_consent(purposes, properties, consent) := d if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "dest-1", "type": "webhook", "purposes": purposes},
		"properties": properties,
		"consent": consent,
	}
}

test_analytics_gets_no_personal_data if {
	d := egress("analytics", ["email", "plan", "first_name", "revenue"])
	d.allowed == ["plan", "revenue"]
	d.withheld == ["email", "first_name"]
	d.reasons == {
		"email": "class pii.contact not allowed for purpose analytics",
		"first_name": "class pii.name not allowed for purpose analytics",
	}
}

test_marketing_gets_contact_and_name if {
	d := egress("marketing", ["email", "last_name", "street", "plan"])
	d.allowed == ["email", "last_name", "plan"]
	d.withheld == ["street"]
}

test_support_gets_address_but_not_network if {
	d := egress("support", ["city", "ip", "phone"])
	d.allowed == ["city", "phone"]
	d.reasons == {"ip": "class pii.network not allowed for purpose support"}
}

test_sensitive_never_leaves_even_when_listed if {
	d := egress("research", ["health_condition", "plan"]) with data.cdp.purposes as {"research": {"allowed_classes": ["sensitive.health"]}}
	d.allowed == ["plan"]
	d.reasons.health_condition == "class sensitive.health never leaves the platform"
}

test_unknown_purpose_is_refused_and_named if {
	d := egress("lead-scoring", ["email", "street", "plan", "company"])
	d.allowed == []
	d.withheld == ["company", "email", "plan", "street"]
	d.reasons.plan == "unknown purpose lead-scoring"
}

test_unknown_purpose_among_declared_ones_refuses_all if {
	d := with_consent(["marketing", "lead-scoring"], ["email", "plan"], {"marketing": true})
	d.allowed == []
	d.refused == ["unknown purpose lead-scoring"]
	d.remove == false
}

test_missing_destination_is_refused if {
	d := data.cdp.egress.decision with input as {"properties": ["email", "plan"]}
	d.allowed == []
	d.withheld == ["email", "plan"]
	d.reasons.plan == "no purpose declared for the destination"
}

test_data_can_widen_a_purpose if {
	d := egress("analytics", ["ip"]) with data.cdp.purposes.analytics.allowed_classes as ["pii.network"]
	d.allowed == ["ip"]
	d.withheld == []
}

test_no_properties if {
	d := egress("marketing", [])
	[d.allowed, d.withheld, d.reasons, d.refused] == [[], [], {}, []]
}

# Consent --------------------------------------------------------------------------------------

test_marketing_granted_gets_contact_and_name if {
	d := with_consent(["marketing"], ["email", "street", "plan"], {"marketing": true})
	d.allowed == ["email", "plan"]
	d.withheld == ["street"]
	d.remove == false
	d.refused == []
	d.consent == {"marketing": "granted"}
}

test_marketing_denied_allows_nothing_and_asks_for_removal if {
	d := with_consent(["marketing"], ["email", "plan"], {"marketing": false, "analytics": true})
	d.allowed == []
	d.withheld == ["email", "plan"]
	d.remove == true
	d.refused == ["consent for marketing denied (needed by purpose marketing)"]
	d.reasons.plan == "consent for marketing denied (needed by purpose marketing)"
}

test_analytics_is_unaffected_by_a_marketing_denial if {
	d := with_consent(["analytics"], ["email", "plan"], {"marketing": false, "analytics": true})
	d.allowed == ["plan"]
	d.withheld == ["email"]
	d.remove == false
	d.consent == {"analytics": "granted"}
}

test_missing_consent_is_denied_by_default if {
	d := with_consent(["marketing"], ["email", "plan"], {"analytics": true})
	d.allowed == []
	d.remove == false
	d.refused == ["no consent for marketing (needed by purpose marketing): denied by default"]
	d.consent == {"marketing": "missing"}
}

test_no_consent_object_with_purposes_is_denied_by_default if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "d", "type": "webhook", "purposes": ["marketing"]},
		"properties": ["plan"],
	}
	d.allowed == []
	d.consent == {"marketing": "missing"}
}

test_empty_or_malformed_consent_is_no_consent if {
	every consent in [{}, [], "yes", {"marketing": "true"}, {"marketing": 1}] {
		d := with_consent(["marketing"], ["plan"], consent)
		d.allowed == []
		d.consent == {"marketing": "missing"}
	}
}

test_a_purpose_consent_given_with_one_purpose if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "d", "type": "webhook", "purpose": "marketing"},
		"properties": ["email"],
		"consent": {"marketing": false},
	}
	d.allowed == []
	d.remove == true
}

test_segment_and_rudderstack_names_are_aliases if {
	with_consent(["marketing"], ["email"], {"Advertising": true}).allowed == ["email"]
	with_consent(["marketing"], ["email"], {"C0004": false}).remove == true
	with_consent(["analytics"], ["plan"], {"C0002": true}).allowed == ["plan"]
}

test_a_denial_under_any_name_wins if {
	d := with_consent(["marketing"], ["email"], {"Advertising": true, "C0004": false})
	d.remove == true
	d.allowed == []
}

test_support_needs_no_consent if {
	d := with_consent(["support"], ["email", "city"], {})
	d.allowed == ["city", "email"]
	d.remove == false
	d.consent == {}
}

test_several_purposes_need_every_category_and_share_only_common_classes if {
	both := {"marketing": true, "analytics": true}
	d := with_consent(["marketing", "analytics"], ["email", "plan"], both)
	d.allowed == ["plan"]
	d.reasons.email == "class pii.contact not allowed for purpose analytics"
	d.purposes == ["analytics", "marketing"]
	half := with_consent(["marketing", "analytics"], ["plan"], {"marketing": true})
	half.allowed == []
	half.refused == ["no consent for analytics (needed by purpose analytics): denied by default"]
}

test_a_destination_can_need_a_category_of_its_own if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "d", "type": "webhook", "purposes": ["support"], "consent_categories": ["functional"]},
		"properties": ["email"],
		"consent": {"Functional": false},
	}
	d.remove == true
	d.refused == ["consent for functional denied (needed by the destination)"]
}

test_data_names_the_categories_a_purpose_needs if {
	d := with_consent(["support"], ["email"], {}) with data.cdp.purposes.support.consent_categories as ["functional"]
	d.allowed == []
	d.consent == {"functional": "missing"}
}

test_a_question_without_consent_is_denied_by_default if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "d", "type": "webhook", "purpose": "marketing"},
		"properties": ["email", "plan"],
	}
	d.allowed == []
	d.refused == ["no consent for marketing (needed by purpose marketing): denied by default"]
	d.remove == false
}

test_malformed_destination_lists_are_no_purposes if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "d", "type": "webhook", "purposes": "marketing", "consent_categories": "functional"},
		"properties": ["plan"],
		"consent": {"marketing": true},
	}
	d.allowed == []
	d.refused == ["no purpose declared for the destination"]
}

test_only_an_approved_sync_sends if {
	question := {
		"destination": {"id": "d", "type": "webhook", "purposes": ["marketing"]},
		"properties": ["email"],
		"consent": {"marketing": true},
	}
	approved := data.cdp.egress.decision with input as object.union(question, {"sync": {"id": "s1", "approval": "approved"}})
	approved.allowed == ["email"]
	every state in ["pending", "rejected", "", null] {
		d := data.cdp.egress.decision with input as object.union(question, {"sync": {"id": "s1", "approval": state}})
		d.allowed == []
		d.remove == false
	}
	pending := data.cdp.egress.decision with input as object.union(question, {"sync": {"id": "s1", "approval": "pending"}})
	pending.refused == ["sync s1 is not approved (pending)"]
	unstated := data.cdp.egress.decision with input as object.union(question, {"sync": {"id": "s1"}})
	unstated.refused == ["sync s1 is not approved (missing)"]
}
