# What each source may send: events that must come from a server-side source,
# and properties that must never be collected.
package cdp.collect

import rego.v1

default server_side := false

server_side := s if {
	s := input.source.server_side
	is_boolean(s)
}

# A client-side call can fire before the thing it reports happened (a signup
# click before the signup succeeds), so some events count only from servers.
reasons contains sprintf("event \"%s\" must come from a server-side source; %s is client-side", [input.event, input.source.name]) if {
	input.event_type == "track"
	input.event in data.cdp.collect.server_side_only
	not server_side
}

forbidden contains p if {
	some p in input.properties
	lower(p) in data.cdp.collect.forbidden_properties
}

reasons contains sprintf("properties %v may not be collected", [sort(forbidden)]) if {
	count(forbidden) > 0
	data.cdp.collect.reject_on_forbidden == true
}

decision := {
	"allow": count(reasons) == 0,
	"reasons": sort(reasons),
	"drop": sort(forbidden),
}
