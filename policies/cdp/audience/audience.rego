# Who may create, change, archive, preview or activate an audience, which traits and events it may
# target, and for which purpose it is kept.
# input.audience.traits names each targeted trait and, for a literal that is an object, the paths of
# its keys ("contact.email"), so a literal cannot carry a personal field under a harmless name;
# input.audience.properties names the event properties its conditions filter or aggregate on, which
# are classed, refused and sealed as traits of the same name are.
package cdp.audience

import rego.v1

default action := ""

action := a if {
	a := input.action
	is_string(a)
}

default subject := "unknown caller"

subject := s if {
	s := input.caller.subject
	is_string(s)
}

caller_roles contains r if {
	some r in input.caller.roles
	is_string(r)
}

# Actions are those data gives roles for; an action missing from data is permitted to no one.
known_actions contains a if {
	some a, _ in data.cdp.audience.roles
}

permitted_roles contains r if {
	some r in data.cdp.audience.roles[action]
}

blocked contains e if {
	some e in data.cdp.audience.blocked_events
}

reasons contains sprintf("unknown action '%s'", [action]) if {
	not action in known_actions
}

reasons contains msg if {
	action in known_actions
	count(caller_roles & permitted_roles) == 0
	msg := sprintf("%s may not %s an audience: needs one of the roles [%s]", [subject, action, concat(", ", sort(permitted_roles))])
}

# Archiving takes an audience out of use, so what it targets must not block that.
targeting if action != "archive"

# Each audience is kept for one of the purposes egress knows (data.cdp.purposes): required when it is
# created or changed; a preview names one only if it wants it checked. A computed trait (input.kind
# "computed_trait", decided by the same rules of what may be targeted) is a trait of the profile,
# used by audiences that each have their own purpose, so it needs none.
purposes contains p if {
	some p, _ in data.cdp.purposes
}

computed_trait if input.kind == "computed_trait"

purpose_required if {
	action in {"create", "update"}
	not computed_trait
}

reasons contains sprintf("an audience needs a purpose: one of [%s]", [concat(", ", sort(purposes))]) if {
	purpose_required
	not input.audience.purpose
}

reasons contains sprintf("an audience needs a purpose: one of [%s]", [concat(", ", sort(purposes))]) if {
	purpose_required
	input.audience.purpose == ""
}

reasons contains msg if {
	targeting
	p := input.audience.purpose
	p != ""
	not p in purposes
	msg := sprintf("purpose '%v' is not one of the purposes [%s]", [p, concat(", ", sort(purposes))])
}

# An archived audience is out of use: nothing is sent of it.
reasons contains sprintf("audience %s is archived and may not be activated", [input.audience.name]) if {
	action == "activate"
	input.audience.status == "archived"
}

# Audiences that use its membership would silently hold nobody: they are archived (or changed) first.
used_by contains a if {
	some a in input.audience.used_by
	is_string(a)
}

reasons contains msg if {
	action == "archive"
	count(used_by) > 0
	msg := sprintf("audience %s is used by the audiences [%s]: archive or change them first", [input.audience.name, concat(", ", sort(used_by))])
}

targeted contains t if {
	some t in input.audience.traits
	is_string(t)
}

targeted contains p if {
	some p in input.audience.properties
	is_string(p)
}

# How a refusal names a field: a trait, unless only a property of that name is targeted.
kind_of(t) := "property" if {
	t in input.audience.properties
	not t in input.audience.traits
} else := "trait"

direct_classes := c if {
	c := data.cdp.pii.classes with input as {"fields": [t | some t in targeted]}
}

# A nested path ("contact.first_name") is classed as its last key when its whole name is not.
leaf_of(t) := parts[count(parts) - 1] if parts := split(t, ".")

leaf_classes := c if {
	leaves := {leaf_of(t) | some t in targeted; contains(t, ".")}
	c := data.cdp.pii.classes with input as {"fields": leaves}
}

trait_classes[t] := cls if {
	some t, cls in direct_classes
}

trait_classes[t] := cls if {
	some t in targeted
	contains(t, ".")
	not direct_classes[t]
	cls := leaf_classes[leaf_of(t)]
}

reasons contains sprintf("%s %s is %s and may not be targeted", [kind_of(t), t, cls]) if {
	targeting
	some t, cls in trait_classes
	startswith(cls, "sensitive.")
}

# A condition on a personal trait answers questions about its value (an email "lt" a guess, read
# through membership, is the email): only a caller who may see personal data in clear may set one.
clear_roles contains r if {
	some r in data.cdp.access.pii_clear_roles
}

clear_roles contains "service"

may_see_personal if count(caller_roles & clear_roles) > 0

reasons contains msg if {
	targeting
	not may_see_personal
	some t, cls in trait_classes
	startswith(cls, "pii.")
	msg := sprintf("%s %s is %s: %s may see it only masked, so may not target it", [kind_of(t), t, cls, subject])
}

reasons contains sprintf("event %s may not be targeted", [e]) if {
	targeting
	some e in input.audience.events
	e in blocked
}

# The targeted traits that are personal, with their class: segment stores the literals of their
# conditions sealed, so the refusal above and the sealing answer from one classification.
personal_traits[t] := cls if {
	some t, cls in trait_classes
	some prefix in ["pii.", "sensitive."]
	startswith(cls, prefix)
}

decision := {"allow": count(reasons) == 0, "reasons": sort(reasons), "personal": personal_traits}
