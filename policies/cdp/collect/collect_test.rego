package cdp.collect_test

import rego.v1

web := {"id": "src-web", "name": "web", "server_side": false}

backend := {"id": "src-api", "name": "backend", "server_side": true}

collect(source, event, properties) := d if {
	d := data.cdp.collect.decision with input as {
		"source": source,
		"event_type": "track",
		"event": event,
		"properties": properties,
	}
}

test_an_ordinary_event_passes if {
	collect(web, "Product Viewed", ["sku", "price"]) == {"allow": true, "reasons": [], "drop": []}
}

test_server_side_events_are_refused_from_the_client if {
	d := collect(web, "Signed Up", ["total"])
	not d.allow
	d.reasons == ["event 'Signed Up' must come from a server-side source; web is client-side"]
	collect(backend, "Signed Up", ["total"]).allow
}

test_a_source_without_the_flag_is_client_side if {
	d := collect({"id": "s", "name": "mystery"}, "Signed Up", [])
	d.reasons == ["event 'Signed Up' must come from a server-side source; mystery is client-side"]
}

test_forbidden_properties_are_dropped if {
	d := collect(backend, "Signed Up", ["email", "password", "Card-Number", "plan"])
	d == {"allow": true, "reasons": [], "drop": ["Card-Number", "password"]}
}

test_reject_on_forbidden_refuses_instead if {
	d := collect(web, "Product Viewed", ["cvv", "sku"]) with data.cdp.collect.reject_on_forbidden as true
	not d.allow
	d.reasons == ["property cvv may not be collected"]
	d.drop == ["cvv"]
}

test_identify_and_page_have_no_event_name if {
	d := data.cdp.collect.decision with input as {"source": web, "event_type": "identify", "properties": ["email", "ssn"]}
	d == {"allow": true, "reasons": [], "drop": ["ssn"]}
}

test_a_source_overrides_by_name if {
	d := collect(web, "Order Completed", ["password", "pin"]) with data.cdp.collect.sources as {"web": {
		"server_side_only": [],
		"forbidden_properties": ["pin"],
	}}
	d == {"allow": true, "reasons": [], "drop": ["pin"]}
	strict := collect(backend, "Product Viewed", ["ssn"]) with data.cdp.collect.sources as {"backend": {"reject_on_forbidden": true}}
	strict.reasons == ["property ssn may not be collected"]
	other := collect(web, "Product Viewed", ["ssn"]) with data.cdp.collect.sources as {"backend": {"reject_on_forbidden": true}}
	other.allow
}

test_every_reason_is_reported if {
	d := collect(web, "Subscription Started", ["ssn", "password"]) with data.cdp.collect.reject_on_forbidden as true
	count(d.reasons) == 3
	d.drop == ["password", "ssn"]
}
