# Which caller may call which RPC, and who may read personal data in clear.
package cdp.access

import rego.v1

default method := ""

method := m if {
	m := input.method
	is_string(m)
}

default subject := "unknown caller"

subject := s if {
	s := input.caller.subject
	is_string(s)
}

default kind := ""

kind := k if {
	k := input.caller.kind
	is_string(k)
}

# A service's roles come from what it is, never from what it claims: "service" if it is one of the
# platform's services (the `cli` certificate alone is not), and "service:<name>" so data can grant a
# method or clear personal data to one service. A person's roles are the token's, minus these.
roles contains "service" if {
	kind == "service"
	subject in data.cdp.access.services
}

roles contains sprintf("service:%s", [subject]) if kind == "service"

roles contains r if {
	kind == "user"
	some r in input.caller.roles
	is_string(r)
	not startswith(r, "service")
}

# Methods are listed whole ("/pkg.Service/Method") or by prefix ending in "*"; their roles add up.
permitted_roles contains r if {
	some r in data.cdp.access.methods[method]
}

permitted_roles contains r if {
	some pattern, listed in data.cdp.access.methods
	endswith(pattern, "*")
	startswith(method, trim_suffix(pattern, "*"))
	some r in listed
}

reasons contains "no method given" if method == ""

reasons contains msg if {
	method != ""
	count(roles & permitted_roles) == 0
	msg := sprintf("%s may not call %s: needs one of the roles [%s]", [subject, method, concat(", ", sort(permitted_roles))])
}

default allow := false

allow if count(reasons) == 0

clear_roles contains r if {
	some r in data.cdp.access.pii_clear_roles
}

# Clear personal data goes only to callers admitted to the method in the first place.
default pii_clear := false

pii_clear if {
	allow
	count(roles & clear_roles) > 0
}

decision := {"allow": allow, "reasons": sort(reasons), "pii_clear": pii_clear}
