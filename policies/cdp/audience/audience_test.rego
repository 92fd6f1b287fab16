package cdp.audience_test

import rego.v1

audience(action, roles, traits, events) := d if {
	d := data.cdp.audience.decision with input as {
		"action": action,
		"caller": {"subject": "ana", "roles": roles},
		"audience": {"name": "Big spenders", "traits": traits, "events": events, "purpose": "marketing"},
	}
}

with_audience(action, roles, audience) := d if {
	d := data.cdp.audience.decision with input as {
		"action": action,
		"caller": {"subject": "ana", "roles": roles},
		"audience": audience,
	}
}

test_marketer_may_create if {
	audience("create", ["marketer"], ["plan"], ["Order Completed"]) == {"allow": true, "reasons": [], "personal": {}}
}

test_marketer_may_not_activate if {
	d := audience("activate", ["marketer"], ["plan"], [])
	not d.allow
	d.reasons == ["ana may not activate an audience: needs one of the roles [admin, service]"]
}

test_service_may_activate if {
	d := audience("activate", ["viewer", "service"], ["plan"], [])
	d.allow
}

test_sensitive_trait_is_never_targeted if {
	d := audience("create", ["admin"], ["plan", "religion"], [])
	not d.allow
	d.reasons == ["trait religion is sensitive.religion and may not be targeted"]
}

test_a_masked_caller_may_not_target_personal_traits if {
	d := audience("create", ["marketer"], ["plan", "email"], [])
	not d.allow
	d.reasons == ["trait email is pii.contact: ana may see it only masked, so may not target it"]
	audience("update", ["marketer"], ["first_name"], []).allow == false
}

test_a_caller_who_sees_personal_data_may_target_it if {
	audience("create", ["admin"], ["email"], []).allow
	audience("create", ["privacy_officer", "marketer"], ["email"], []).allow
	audience("create", ["service"], ["email"], []).allow
}

test_personal_traits_are_named_with_their_class if {
	d := audience("create", ["admin"], ["plan", "email", "contact.email", "city"], [])
	d.allow
	d.personal == {"email": "pii.contact", "contact.email": "pii.contact", "city": "pii.address"}
}

test_a_masked_caller_may_not_target_a_nested_personal_path if {
	d := audience("create", ["marketer"], ["contact", "contact.email"], [])
	d.reasons == ["trait contact.email is pii.contact: ana may see it only masked, so may not target it"]
}

test_a_nested_path_is_classed_by_its_last_key if {
	d := audience("create", ["marketer"], ["contact", "contact.first_name", "contact.plan"], [])
	d.reasons == ["trait contact.first_name is pii.name: ana may see it only masked, so may not target it"]
	audience("create", ["admin"], ["profile.address.city"], []).personal == {"profile.address.city": "pii.address"}
}

test_blocked_event_is_not_targeted if {
	d := audience("update", ["marketer"], [], ["Order Completed", "Loan Rejected"]) with data.cdp.audience.blocked_events as ["Loan Rejected"]
	d.reasons == ["event Loan Rejected may not be targeted"]
}

test_archive_ignores_targeting if {
	d := audience("archive", ["marketer"], ["religion"], ["Prescription Filled"])
	d.allow
}

test_unknown_action_is_denied if {
	d := audience("delete", ["admin"], [], [])
	d.reasons == ["unknown action 'delete'"]
}

test_roles_come_from_data if {
	analyst := audience("create", ["analyst"], [], []) with data.cdp.audience.roles.create as ["analyst"]
	analyst.allow
	marketer := audience("create", ["marketer"], [], []) with data.cdp.audience.roles.create as ["analyst"]
	not marketer.allow
}

test_missing_caller_is_denied if {
	d := data.cdp.audience.decision with input as {"action": "create", "audience": {"traits": ["plan"], "purpose": "analytics"}}
	d.reasons == ["unknown caller may not create an audience: needs one of the roles [admin, marketer, service]"]
}

test_every_reason_is_reported if {
	d := audience("activate", [], ["ethnicity", "plan"], ["Health Screening Completed"])
	count(d.reasons) == 3
	every r in d.reasons {
		not contains(r, "plan")
	}
}

test_event_properties_are_classed_refused_and_named_as_traits_are if {
	d := data.cdp.audience.decision with input as {
		"action": "create",
		"caller": {"subject": "ana", "roles": ["marketer"]},
		"audience": {"name": "By email", "traits": ["plan"], "events": ["Signed Up"], "properties": ["email", "total"], "purpose": "marketing"},
	}
	d.reasons == ["property email is pii.contact: ana may see it only masked, so may not target it"]
	allowed := data.cdp.audience.decision with input as {
		"action": "create",
		"caller": {"subject": "ops", "roles": ["admin"]},
		"audience": {"name": "By email", "traits": [], "events": ["Signed Up"], "properties": ["email"], "purpose": "support"},
	}
	allowed.allow
	allowed.personal == {"email": "pii.contact"}
}

test_a_marketer_may_preview_and_others_may_not if {
	audience("preview", ["marketer"], ["plan"], []).allow
	d := audience("preview", ["analyst"], ["plan"], [])
	d.reasons == ["ana may not preview an audience: needs one of the roles [admin, marketer, service]"]
}

test_preview_refuses_what_create_refuses if {
	audience("preview", ["admin"], ["religion"], []).reasons == ["trait religion is sensitive.religion and may not be targeted"]
	d := audience("preview", ["marketer"], ["email"], [])
	d.reasons == ["trait email is pii.contact: ana may see it only masked, so may not target it"]
}

test_update_refuses_what_create_refuses if {
	audience("update", ["admin"], ["plan", "religion"], []).reasons == ["trait religion is sensitive.religion and may not be targeted"]
	audience("update", ["marketer"], ["email"], []).reasons == ["trait email is pii.contact: ana may see it only masked, so may not target it"]
	audience("update", ["marketer"], ["plan"], []).allow
}

test_create_and_update_need_a_purpose if {
	needs := ["an audience needs a purpose: one of [analytics, marketing, reporting, support]"]
	with_audience("create", ["marketer"], {"name": "Pro", "traits": ["plan"], "events": []}).reasons == needs
	with_audience("update", ["marketer"], {"name": "Pro", "traits": ["plan"], "events": [], "purpose": ""}).reasons == needs
}

test_an_unknown_purpose_is_refused_naming_it if {
	d := with_audience("create", ["marketer"], {"name": "Pro", "traits": ["plan"], "events": [], "purpose": "profiling"})
	d.reasons == ["purpose 'profiling' is not one of the purposes [analytics, marketing, reporting, support]"]
	u := with_audience("update", ["admin"], {"name": "Pro", "traits": [], "events": [], "purpose": "resale"})
	u.reasons == ["purpose 'resale' is not one of the purposes [analytics, marketing, reporting, support]"]
}

test_purposes_come_from_data if {
	d := with_audience("create", ["marketer"], {"traits": [], "events": [], "purpose": "research"}) with data.cdp.purposes as {"research": {}}
	d.allow
	not with_audience("create", ["marketer"], {"traits": [], "events": [], "purpose": "marketing"}).allow with data.cdp.purposes as {"research": {}}
}

test_a_preview_checks_a_purpose_only_when_it_names_one if {
	with_audience("preview", ["marketer"], {"traits": ["plan"], "events": []}).allow
	d := with_audience("preview", ["marketer"], {"traits": ["plan"], "events": [], "purpose": "profiling"})
	d.reasons == ["purpose 'profiling' is not one of the purposes [analytics, marketing, reporting, support]"]
}

test_an_archived_audience_is_not_activated if {
	d := with_audience("activate", ["service"], {"name": "Old", "traits": [], "events": [], "status": "archived"})
	d.reasons == ["audience Old is archived and may not be activated"]
	with_audience("activate", ["service"], {"name": "New", "traits": [], "events": [], "status": "active"}).allow
}

test_an_audience_others_use_is_not_archived if {
	d := with_audience("archive", ["marketer"], {"name": "Pro", "traits": [], "events": [], "used_by": ["b-2", "a-1"]})
	d.reasons == ["audience Pro is used by the audiences [a-1, b-2]: archive or change them first"]
	with_audience("archive", ["marketer"], {"name": "Pro", "traits": [], "events": [], "used_by": []}).allow
}

test_archive_ignores_the_purpose if {
	with_audience("archive", ["marketer"], {"name": "Old", "traits": [], "events": [], "purpose": "gone"}).allow
}

test_a_computed_trait_needs_no_purpose_but_is_refused_a_sensitive_property if {
	ok := data.cdp.audience.decision with input as {
		"action": "create",
		"kind": "computed_trait",
		"caller": {"subject": "mia", "roles": ["marketer"]},
		"audience": {"name": "orders_30d", "traits": [], "properties": ["total"], "events": ["Order Completed"]},
	}
	ok.allow
	refused := data.cdp.audience.decision with input as {
		"action": "create",
		"kind": "computed_trait",
		"caller": {"subject": "mia", "roles": ["marketer"]},
		"audience": {"name": "faiths", "traits": [], "properties": ["religion"], "events": ["Signed Up"]},
	}
	not refused.allow
}
