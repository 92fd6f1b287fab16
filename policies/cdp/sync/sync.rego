# Four eyes on a sync that sends personal data: who may request, approve or reject a version of it.
#
# input.action: request | approve | reject; input.caller: {subject, roles};
# input.sync: {id, author, version, fields: the mapped traits, personal_fields: those the caller
#   knows to be personal (by value, say)}.
# A sync whose mapped traits include personal data (a pii.* or sensitive.* class of cdp.pii, or a
# field the caller names personal) needs approval of that very version by someone other than its
# author with one of data.cdp.sync.approver_roles; anything else is approved on request.
package cdp.sync

import rego.v1

actions := {"request", "approve", "reject"}

default action := ""

action := a if {
	a := input.action
	is_string(a)
}

default subject := ""

subject := s if {
	s := input.caller.subject
	is_string(s)
}

caller_roles contains r if {
	some r in input.caller.roles
	is_string(r)
}

default author := ""

author := a if {
	a := input.sync.author
	is_string(a)
}

approvers contains r if {
	some r in data.cdp.sync.approver_roles
}

version := input.sync.version if {
	is_number(input.sync.version)
	input.sync.version > 0
} else := input.sync.version if {
	is_string(input.sync.version)
	input.sync.version != ""
}

lists := {"fields", "personal_fields"}

listed(name) := input.sync[name] if is_array(input.sync[name])

fields contains f if {
	some f in listed("fields")
	is_string(f)
}

named_personal contains f if {
	some f in listed("personal_fields")
	is_string(f)
}

classes := c if {
	c := data.cdp.pii.classes with input as {"fields": [f | some f in fields | named_personal]}
}

personal[f] := cls if {
	some f, cls in classes
	data.cdp.pii.is_personal(cls)
}

personal[f] := "personal" if {
	some f in named_personal
	not data.cdp.pii.is_personal(classes[f])
}

default requires_approval := false

requires_approval if count(personal) > 0

is_author if {
	subject != ""
	lower(subject) == lower(author)
}

is_approver if count(caller_roles & approvers) > 0

reasons contains sprintf("unknown action '%s': one of request, approve, reject", [action]) if {
	not action in actions
}

reasons contains "caller.subject: required" if subject == ""

# A list that is not one could hide a personal field: the question is refused, not guessed at.
reasons contains sprintf("sync.%s: a list of field names", [name]) if {
	some name in lists
	_ = input.sync[name]
	not listed(name)
}

reasons contains "sync.author: required" if author == ""

reasons contains "sync.version: required (a positive number or a non-empty string)" if not version

reasons contains sprintf("%s may not approve a sync they wrote: another person must", [subject]) if {
	action == "approve"
	is_author
}

reasons contains msg if {
	action == "approve"
	not is_approver
	msg := sprintf("%s may not approve a sync: needs one of the roles [%s]", [subject, concat(", ", sort(approvers))])
}

# Rejecting only ever stops data: the author may withdraw their own version too.
reasons contains msg if {
	action == "reject"
	not is_author
	not is_approver
	msg := sprintf("%s may not reject a sync: needs one of the roles [%s], or to be its author", [subject, concat(", ", sort(approvers))])
}

default allow := false

allow if count(reasons) == 0

state := "pending" if {
	action == "request"
	requires_approval
} else := "approved" if {
	action in {"request", "approve"}
} else := "rejected" if {
	action == "reject"
}

decision := {
	"allow": allow,
	"reasons": sort(reasons),
	"requires_approval": requires_approval,
	"personal": personal,
	"state": state,
	"version": version,
} if {
	allow
} else := {
	"allow": false,
	"reasons": sort(reasons),
	"requires_approval": requires_approval,
	"personal": personal,
}
