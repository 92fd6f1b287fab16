package cdp.pii_test

import rego.v1

personal(fields) := p if {
	p := data.cdp.pii.decision.personal with input as {"event_type": "identify", "fields": fields}
}

test_listed_names_are_personal if {
	personal(["email", "plan", "first_name", "city", "ip", "dob"]) == ["city", "dob", "email", "first_name", "ip"]
}

test_names_are_normalised if {
	personal(["First-Name", "firstName", "LAST NAME", "Postal-Code"]) == ["First-Name", "LAST NAME", "Postal-Code", "firstName"]
}

test_patterns_catch_unlisted_names if {
	personal(["work_email", "Mobile Phone", "company"]) == ["Mobile Phone", "work_email"]
}

test_sensitive_traits_are_personal if {
	personal(["religion", "health_condition", "plan"]) == ["health_condition", "religion"]
}

test_plain_fields_are_not_personal if {
	got := personal(["plan", "company", "industry", "Order Total", "email"])
	every f in ["plan", "company", "industry", "Order Total"] {
		not f in got
	}
}

test_non_strings_and_missing_fields if {
	personal([1, null, {"email": 1}, "email"]) == ["email"]
	data.cdp.pii.decision == {"personal": []} with input as {"event_type": "track"}
}

test_deployment_can_add_names if {
	got := personal(["loyalty_id", "plan"]) with data.cdp.classification.loyalty_id as "pii.identifier"
	got == ["loyalty_id"]
}

test_non_personal_class_is_not_personal if {
	personal(["plan"]) == [] with data.cdp.classification as {"plan": "internal.billing"}
}

class_of(name) := cls if {
	cls := data.cdp.pii.classes[name] with input as {"fields": [name]}
}

test_listed_name_wins_over_pattern if {
	class_of("email_verified") == "pii.contact"
	class_of("email_verified") == "internal.flag" with data.cdp.classification.email_verified as "internal.flag"
}

test_normalised if {
	got := data.cdp.pii.normalised with input as {"fields": ["First-Name", "Mobile Phone", "ZIP", 7]}
	got == {"First-Name": "first_name", "Mobile Phone": "mobile_phone", "ZIP": "zip"}
}

test_classification_keys_are_normalised if {
	keys := [k | some k, _ in data.cdp.classification]
	got := data.cdp.pii.normalised with input as {"fields": keys}
	every k in keys {
		got[k] == k
	}
}
