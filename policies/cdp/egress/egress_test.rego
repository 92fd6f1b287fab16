package cdp.egress_test

import rego.v1

egress(purpose, properties) := d if {
	d := data.cdp.egress.decision with input as {
		"destination": {"id": "dest-1", "type": "webhook", "purpose": purpose},
		"properties": properties,
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

test_unknown_purpose_allows_only_unclassified if {
	d := egress("lead-scoring", ["email", "street", "plan", "company"])
	d.allowed == ["company", "plan"]
	every p in ["email", "street"] {
		not p in d.allowed
	}
}

test_missing_destination_withholds_classified if {
	d := data.cdp.egress.decision with input as {"properties": ["email", "plan"]}
	d.allowed == ["plan"]
	d.withheld == ["email"]
}

test_data_can_widen_a_purpose if {
	d := egress("analytics", ["ip"]) with data.cdp.purposes.analytics.allowed_classes as ["pii.network"]
	d.allowed == ["ip"]
	d.withheld == []
}

test_no_properties if {
	egress("marketing", []) == {"allowed": [], "withheld": [], "reasons": {}}
}
