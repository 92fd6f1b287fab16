package cdp.sync_test

import rego.v1

ann := {"subject": "ann@example.com", "roles": ["marketer"]}

olga := {"subject": "olga@example.com", "roles": ["privacy_officer"]}

sync(fields) := {"id": "s1", "author": "ann@example.com", "version": 3, "fields": fields}

decide(action, caller, s) := d if {
	d := data.cdp.sync.decision with input as {"action": action, "caller": caller, "sync": s}
}

test_a_sync_sending_personal_data_is_pending_on_request if {
	d := decide("request", ann, sync(["email", "plan"]))
	d.allow == true
	d.state == "pending"
	d.requires_approval == true
	d.personal == {"email": "pii.contact"}
	d.version == 3
}

test_a_sync_sending_nothing_personal_is_approved_on_request if {
	d := decide("request", ann, sync(["plan", "company"]))
	d.allow == true
	d.state == "approved"
	d.requires_approval == false
	d.personal == {}
}

test_a_field_the_caller_names_personal_needs_approval if {
	s := object.union(sync(["plan", "note"]), {"personal_fields": ["note"]})
	d := decide("request", ann, s)
	d.state == "pending"
	d.personal == {"note": "personal"}
}

test_sensitive_fields_need_approval if {
	d := decide("request", ann, sync(["religion"]))
	d.personal == {"religion": "sensitive.religion"}
	d.state == "pending"
}

test_the_author_may_not_approve_their_own_sync if {
	author_admin := {"subject": "ann@example.com", "roles": ["admin"]}
	d := decide("approve", author_admin, sync(["email"]))
	d.allow == false
	d.reasons == ["ann@example.com may not approve a sync they wrote: another person must"]
	not d.state
}

test_the_author_check_ignores_case if {
	d := decide("approve", {"subject": "ANN@example.com", "roles": ["admin"]}, sync(["email"]))
	d.allow == false
}

test_another_person_with_an_approver_role_approves if {
	d := decide("approve", olga, sync(["email"]))
	d.allow == true
	d.state == "approved"
	d.version == 3
	d.reasons == []
}

test_another_person_without_the_role_may_not_approve if {
	d := decide("approve", {"subject": "bob@example.com", "roles": ["marketer", "analyst"]}, sync(["email"]))
	d.allow == false
	d.reasons == ["bob@example.com may not approve a sync: needs one of the roles [admin, privacy_officer]"]
}

test_data_names_the_approver_roles if {
	steward := {"subject": "sam@example.com", "roles": ["data_steward"]}
	decide("approve", steward, sync(["email"])).allow == false
	d := decide("approve", steward, sync(["email"])) with data.cdp.sync.approver_roles as ["data_steward"]
	d.allow == true
}

test_an_approver_or_the_author_may_reject if {
	decide("reject", olga, sync(["email"])).state == "rejected"
	decide("reject", ann, sync(["email"])).state == "rejected"
	d := decide("reject", {"subject": "bob@example.com", "roles": ["marketer"]}, sync(["email"]))
	d.allow == false
	count(d.reasons) == 1
}

test_unknown_action_is_refused if {
	d := decide("publish", olga, sync(["email"]))
	d.allow == false
	d.reasons == ["unknown action 'publish': one of request, approve, reject"]
}

test_a_version_an_author_and_a_caller_are_required if {
	d := data.cdp.sync.decision with input as {"action": "approve", "caller": {"roles": ["admin"]}, "sync": {"fields": ["email"]}}
	d.allow == false
	d.requires_approval == true
	{"caller.subject: required", "sync.author: required", "sync.version: required (a positive number or a non-empty string)"} <= {r | some r in d.reasons}
	every bad in [0, -1, "", null, true] {
		not decide("approve", olga, object.union(sync(["email"]), {"version": bad})).allow
	}
	decide("approve", olga, object.union(sync(["email"]), {"version": "v7"})).version == "v7"
}

test_names_that_are_no_string_are_ignored if {
	d := decide("request", ann, sync([1, null, "plan"]))
	d.allow == true
	d.state == "approved"
}

test_a_list_that_is_not_one_is_refused if {
	d := decide("request", ann, object.union(sync(["plan"]), {"personal_fields": "email"}))
	d.allow == false
	d.reasons == ["sync.personal_fields: a list of field names"]
	decide("request", ann, object.union(sync(["plan"]), {"fields": {"email": 1}})).allow == false
}
