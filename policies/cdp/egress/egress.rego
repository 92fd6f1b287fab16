# Which event properties may leave to a destination, given the purpose it was registered for.
package cdp.egress

import rego.v1

default purpose := ""

purpose := p if {
	p := input.destination.purpose
	is_string(p)
}

# An unknown or missing purpose gets no classes: only unclassified properties leave.
allowed_classes contains c if {
	some c in data.cdp.purposes[purpose].allowed_classes
}

properties contains p if {
	some p in input.properties
	is_string(p)
}

# Unclassified properties are absent here, hence get no reason, hence are allowed.
classes := c if {
	c := data.cdp.pii.classes with input as {"fields": input.properties}
}

# Special-category data never leaves, whatever a purpose lists.
reasons[p] := sprintf("class %s never leaves the platform", [cls]) if {
	some p, cls in classes
	startswith(cls, "sensitive.")
}

reasons[p] := sprintf("class %s not allowed for purpose %s", [cls, purpose]) if {
	some p, cls in classes
	not startswith(cls, "sensitive.")
	not cls in allowed_classes
}

withheld contains p if {
	some p, _ in reasons
}

decision := {
	"allowed": sort(properties - withheld),
	"withheld": sort(withheld),
	"reasons": reasons,
}
