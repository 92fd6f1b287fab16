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
	data.cdp.pii.decision.personal == [] with input as {"event_type": "track"}
	data.cdp.pii.decision.personal_qualified == [] with input as {"event_type": "track"}
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

decision(fields, qualified) := d if {
	d := data.cdp.pii.decision with input as {"event_type": "track", "fields": fields, "qualified": qualified}
}

test_names_found_at_depth_are_personal if {
	got := personal(["advertisingId", "street", "addresses", "city", "region", "postalCode", "latitude", "longitude", "iban", "cardNumber", "ssn"])
	count(got) == 11
}

test_qualified_names_win_over_the_key_either_way if {
	d := decision(["id", "name", "version"], ["device.id", "library.name", "buyer.name", "library.version"])
	d.personal == ["name"]
	d.personal_qualified == ["device.id"]
	d.not_personal_qualified == ["library.name"]
}

test_qualified_names_take_no_pattern if {
	d := decision([], ["contact.email_opt_in", "Device.ID"])
	d.personal_qualified == ["Device.ID"]
	d.not_personal_qualified == []
}

test_value_patterns_come_with_every_decision if {
	d := decision([], [])
	every name in ["email", "phone_international", "ipv4", "ipv6", "card", "iban"] {
		d.value_patterns[name].pattern
	}
}

test_value_patterns_of_non_personal_classes_are_left_out if {
	d := data.cdp.pii.decision with input as {"fields": []}
		with data.cdp.value_patterns as {"a": {"class": "pii.contact", "pattern": "x"}, "b": {"class": "internal.x", "pattern": "y"}}
	d.value_patterns == {"a": {"class": "pii.contact", "pattern": "x"}}
}

test_a_deployment_can_add_a_value_pattern if {
	d := decision([], []) with data.cdp.value_patterns.loyalty as {"class": "pii.identifier", "pattern": "^LOY-[0-9]{6}$"}
	d.value_patterns.loyalty.class == "pii.identifier"
}

# The patterns are written in the common subset of RE2 (here) and Python's re (where they are
# applied): each matches what it is for and not what looks alike. The examples are values no test
# sends: every service records its policy sources, and a forget test scans stores for what it sent.
test_value_patterns_match_examples if {
	p := data.cdp.value_patterns
	regex.match(p.email.pattern, "Ada.Lovelace+x@Example.co.uk")
	not regex.match(p.email.pattern, "user@localhost")
	regex.match(p.phone_international.pattern, "+33 1 23 45 67 89")
	regex.match(p.phone_international.pattern, "+1 (415) 555-0123")
	not regex.match(p.phone_international.pattern, "+1")
	regex.match(p.phone_national.pattern, "(415) 555-0123")
	not regex.match(p.phone_national.pattern, "2024-01-15")
	regex.match(p.phone_grouped.pattern, "06 12 34 56 78")
	regex.match(p.ipv4.pattern, "192.0.2.44")
	not regex.match(p.ipv4.pattern, "Chrome/120.0.0.0 Safari")
	regex.match(p.ipv6.pattern, "2001:db8::1")
	regex.match(p.card.pattern, "4111 1111 1111 1111")
	not regex.match(p.card.pattern, "1700000000000")
	regex.match(p.iban.pattern, "DE89 3704 0044 0532 0130 00")
	regex.match(p.ssn.pattern, "078-05-1120")
}

test_value_pattern_classes_are_personal if {
	every name, p in data.cdp.value_patterns {
		data.cdp.pii.is_personal(p.class)
	}
}

test_camel_case_names_are_split_at_their_humps if {
	got := data.cdp.pii.normalised with input as {"fields": ["fullName", "FullName", "IPAddress", "birthDate", "streetName", "zipCode"]}
	got == {
		"fullName": "full_name", "FullName": "full_name", "IPAddress": "ip_address",
		"birthDate": "birth_date", "streetName": "street_name", "zipCode": "zip_code",
	}
	personal(["fullName", "givenName", "familyName", "customer_name", "streetName", "town", "birthDate", "dateofBirth"]) == [
		"birthDate", "customer_name", "dateofBirth", "familyName", "fullName", "givenName", "streetName", "town",
	]
	personal(["productName", "eventName", "pageTitle"]) == []
}
