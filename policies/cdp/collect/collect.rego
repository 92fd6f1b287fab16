# Which events and properties each source may send: some events only from server-side sources,
# and properties nobody may collect (secrets, card data) are dropped or refused.
package cdp.collect

import rego.v1

default source_name := "unknown source"

source_name := n if {
	n := input.source.name
	is_string(n)
}

# Only an explicit true makes a source server-side: a missing flag is the client side.
server_side if input.source.server_side == true

# Settings a source overrides by name (data.cdp.collect.sources[name]), else the defaults. (Rules
# here are named apart from the data keys: data.cdp.collect.x and a rule x would be one document.)
overrides := o if {
	o := data.cdp.collect.sources[source_name]
	is_object(o)
} else := {}

server_only_events contains e if {
	some e in object.get(overrides, "server_side_only", data.cdp.collect.server_side_only)
}

forbidden contains p if {
	some p in object.get(overrides, "forbidden_properties", data.cdp.collect.forbidden_properties)
}

refuse_forbidden if object.get(overrides, "reject_on_forbidden", data.cdp.collect.reject_on_forbidden) == true

# Property names compare normalised, as cdp.pii does: "Card-Number" and "card number" are
# card_number (so data lists forbidden names in that form).
drop contains p if {
	some p in input.properties
	is_string(p)
	strings.replace_n({"-": "_", " ": "_"}, lower(p)) in forbidden
}

reasons contains msg if {
	is_string(input.event)
	input.event in server_only_events
	not server_side
	msg := sprintf("event '%s' must come from a server-side source; %s is client-side", [input.event, source_name])
}

reasons contains sprintf("property %s may not be collected", [p]) if {
	refuse_forbidden
	some p in drop
}

decision := {"allow": count(reasons) == 0, "reasons": sort(reasons), "drop": sort(drop)}
