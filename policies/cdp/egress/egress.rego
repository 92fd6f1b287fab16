# Which of a person's traits may leave to a destination, given the purposes it declares and the
# person's consent.
#
# input.destination: {id, type, purposes: [..], consent_categories: [..]} (or one purpose);
#   input.properties: the trait names; input.consent: {category: true|false}, keyed by a
#   category of data.cdp.consent_categories or any of its aliases (Segment's "Advertising",
#   RudderStack consent ids); a question without consent is one with none given.
# A purpose data does not list is refused. Each category a declared purpose (or the destination)
# needs must be granted: a category not stated is denied by default, a category denied asks for
# the person's removal from the destination (remove: true). Either way nothing leaves.
# input.sync (optional): {id, approval}: a sync not approved sends nothing.
package cdp.egress

import rego.v1

default purpose := ""

purpose := p if {
	p := input.destination.purpose
	is_string(p)
}

listed contains p if {
	is_array(input.destination.purposes)
	some p in input.destination.purposes
	is_string(p)
}

# The destination's purposes: those it lists, else its one purpose.
declared := listed if count(listed) > 0

declared := {purpose} if {
	count(listed) == 0
	purpose != ""
}

declared := set() if {
	count(listed) == 0
	purpose == ""
}

unknown contains p if {
	some p in declared
	not data.cdp.purposes[p]
}

refusals contains "no purpose declared for the destination" if count(declared) == 0

refusals contains sprintf("unknown purpose %s", [p]) if some p in unknown

# A sync's approval state (cdp.sync, four eyes), when the question is asked for a sync: only an
# approved one sends; pending, rejected or anything else sends nothing.
refusals contains sprintf("sync %v is not approved (%v)", [object.get(input.sync, "id", ""), approval]) if {
	is_object(input.sync)
	approval := object.get(input.sync, "approval", "missing")
	approval != "approved"
}

# Consent --------------------------------------------------------------------------------------

# [category, what needs it]
needs contains [c, sprintf("purpose %s", [p])] if {
	some p in declared
	some c in data.cdp.purposes[p].consent_categories
}

needs contains [c, "the destination"] if {
	is_array(input.destination.consent_categories)
	some c in input.destination.consent_categories
	is_string(c)
}

needed contains c if some [c, _] in needs

stated_consent := c if {
	is_object(input.consent)
	c := input.consent
} else := {}

names(category) := {category} | {a | some a in data.cdp.consent_categories[category].aliases}

# The person's choices for a category under any of its names (a value not a boolean is none).
stated(category) := {v | some k, v in stated_consent; k in names(category); is_boolean(v)}

# Denied under any name wins over granted under another.
consent_state[c] := "denied" if {
	some c in needed
	false in stated(c)
}

consent_state[c] := "granted" if {
	some c in needed
	stated(c) == {true}
}

consent_state[c] := "missing" if {
	some c in needed
	count(stated(c)) == 0
}

refusals contains sprintf("consent for %s denied (needed by %s)", [c, why]) if {
	some [c, why] in needs
	consent_state[c] == "denied"
}

refusals contains sprintf("no consent for %s (needed by %s): denied by default", [c, why]) if {
	some [c, why] in needs
	consent_state[c] == "missing"
}

# The person must be taken out of every destination of the purpose: they said no.
default remove := false

remove if {
	some c in needed
	consent_state[c] == "denied"
}

refused if count(refusals) > 0

# Traits ---------------------------------------------------------------------------------------

# A class leaves only if every declared purpose allows it.
allowed_classes contains c if {
	some p in declared
	some c in data.cdp.purposes[p].allowed_classes
	every q in declared {
		c in data.cdp.purposes[q].allowed_classes
	}
}

properties contains p if {
	some p in input.properties
	is_string(p)
}

# Unclassified properties are absent here, hence get no reason, hence are allowed.
classes := c if {
	c := data.cdp.pii.classes with input as {"fields": input.properties}
}

reasons[p] := concat("; ", sort(refusals)) if {
	refused
	some p in properties
}

# Special-category data never leaves, whatever a purpose lists.
reasons[p] := sprintf("class %s never leaves the platform", [cls]) if {
	not refused
	some p, cls in classes
	startswith(cls, "sensitive.")
}

reasons[p] := sprintf("class %s not allowed for purpose %s", [cls, refusing]) if {
	not refused
	some p, cls in classes
	not startswith(cls, "sensitive.")
	not cls in allowed_classes
	refusing := min({q | some q in declared; not cls in data.cdp.purposes[q].allowed_classes})
}

withheld contains p if {
	some p, _ in reasons
}

decision := {
	"allowed": sort(properties - withheld),
	"withheld": sort(withheld),
	"reasons": reasons,
	"remove": remove,
	"refused": sort(refusals),
	"purposes": sort(declared),
	"consent": consent_state,
}
