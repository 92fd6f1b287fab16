package cdp.collect_test

import rego.v1

server := {"id": "s1", "name": "backend", "server_side": true}

browser := {"id": "s2", "name": "web", "server_side": false}

test_server_side_signup_allowed if {
	d := data.cdp.collect.decision with input as {"source": server, "event_type": "track", "event": "Signed Up", "properties": ["plan"]}
	d.allow == true
	d.drop == []
}

test_client_side_signup_refused if {
	d := data.cdp.collect.decision with input as {"source": browser, "event_type": "track", "event": "Signed Up", "properties": []}
	d.allow == false
	contains(d.reasons[0], "server-side")
}

test_client_side_other_event_allowed if {
	d := data.cdp.collect.decision with input as {"source": browser, "event_type": "track", "event": "Button Clicked", "properties": []}
	d.allow == true
}

test_identify_not_bound_by_event_names if {
	d := data.cdp.collect.decision with input as {"source": browser, "event_type": "identify", "event": "", "properties": []}
	d.allow == true
}

test_forbidden_properties_dropped if {
	d := data.cdp.collect.decision with input as {"source": server, "event_type": "track", "event": "Order Completed", "properties": ["Password", "total", "ssn"]}
	d.allow == true
	d.drop == ["Password", "ssn"]
}

test_forbidden_properties_refused_when_configured if {
	d := data.cdp.collect.decision with input as {"source": server, "event_type": "track", "event": "X", "properties": ["password"]}
		with data.cdp.collect.reject_on_forbidden as true
	d.allow == false
}

test_missing_server_side_flag_counts_as_client_side if {
	d := data.cdp.collect.decision with input as {"source": {"id": "s3", "name": "x"}, "event_type": "track", "event": "Signed Up", "properties": []}
	not d.allow
}
