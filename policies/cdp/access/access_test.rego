package cdp.access_test

import rego.v1

user(method, roles) := d if {
	d := data.cdp.access.decision with input as {
		"method": method,
		"caller": {"subject": "ana", "kind": "user", "roles": roles},
	}
}

service(method, name) := d if {
	d := data.cdp.access.decision with input as {
		"method": method,
		"caller": {"subject": name, "kind": "service", "roles": ["service"]},
	}
}

test_admin_may_call_anything if {
	d := user("/cdp.collector.v1.CollectorService/CreateSource", ["admin"])
	d == {"allow": true, "reasons": [], "pii_clear": true}
	user("/cdp.some.v9.Unlisted/Anything", ["admin"]).allow
}

test_marketer_works_on_audiences if {
	user("/cdp.segment.v1.SegmentService/CreateAudience", ["marketer"]) == {"allow": true, "reasons": [], "pii_clear": false}
	user("/cdp.segment.v1.SegmentService/ArchiveAudience", ["marketer"]).allow
	user("/cdp.profile.v1.ProfileService/GetProfile", ["marketer"]).allow
	user("/cdp.activation.v1.ActivationService/ListDestinations", ["marketer"]).allow
	# At the door a marketer may ask; cdp.audience decides whether they may activate.
	user("/cdp.activation.v1.ActivationService/CreateDestination", ["marketer"]).allow
	not user("/cdp.identity.v1.IdentityService/Forget", ["marketer"]).allow
}

test_analyst_only_reads if {
	user("/cdp.profile.v1.ProfileService/ListProfiles", ["analyst"]).allow
	user("/cdp.segment.v1.SegmentService/ListMembers", ["analyst"]).allow
	user("/cdp.activation.v1.ActivationService/ListDeliveries", ["analyst"]).allow
	d := user("/cdp.segment.v1.SegmentService/CreateAudience", ["analyst"])
	not d.allow
	d.reasons == ["ana may not call /cdp.segment.v1.SegmentService/CreateAudience: needs one of the roles [admin, marketer]"]
}

test_privacy_officer_forgets_and_reads_in_clear if {
	user("/cdp.identity.v1.IdentityService/Forget", ["privacy_officer"]) == {"allow": true, "reasons": [], "pii_clear": true}
	user("/cdp.eventlog.v1.EventLogService/Read", ["privacy_officer"]).allow
	not user("/cdp.segment.v1.SegmentService/CreateAudience", ["privacy_officer"]).allow
}

test_ingest_role_only_ingests if {
	user("/cdp.collector.v1.CollectorService/Ingest", ["ingest"]).allow
	user("/cdp.collector.v1.CollectorService/IngestStream", ["ingest"]).allow
	not user("/cdp.collector.v1.CollectorService/CreateSource", ["ingest"]).allow
}

test_services_call_internal_methods if {
	every m in [
		"/cdp.eventlog.v1.EventLogService/Read",
		"/cdp.identity.v1.IdentityService/Resolve",
		"/cdp.identity.v1.IdentityService/GetPerson",
		"/cdp.profile.v1.ProfileService/GetProfiles",
		"/cdp.profile.v1.ProfileService/GetProfile",
		"/cdp.segment.v1.SegmentService/GetAudience",
	] {
		service(m, "profile").allow
	}
	not service("/cdp.segment.v1.SegmentService/CreateAudience", "profile").allow
	not service("/cdp.identity.v1.IdentityService/Forget", "activation").allow
}

test_only_activation_among_services_reads_in_clear if {
	service("/cdp.profile.v1.ProfileService/GetProfiles", "activation").pii_clear
	not service("/cdp.profile.v1.ProfileService/GetProfiles", "segment").pii_clear
	not user("/cdp.profile.v1.ProfileService/GetProfiles", ["marketer", "analyst"]).pii_clear
}

test_a_person_cannot_claim_to_be_a_service if {
	d := user("/cdp.eventlog.v1.EventLogService/Read", ["service", "service:activation"])
	not d.allow
	not d.pii_clear
}

test_the_cli_certificate_alone_is_not_a_service if {
	d := service("/cdp.eventlog.v1.EventLogService/Read", "cli")
	d.reasons == ["cli may not call /cdp.eventlog.v1.EventLogService/Read: needs one of the roles [admin, privacy_officer, service]"]
}

test_an_unlisted_method_is_denied_by_name if {
	d := user("/cdp.collector.v1.CollectorService/Purge", ["marketer", "analyst"])
	d == {
		"allow": false,
		"reasons": ["ana may not call /cdp.collector.v1.CollectorService/Purge: needs one of the roles [admin]"],
		"pii_clear": false,
	}
}

test_no_method_no_caller_is_denied if {
	d := data.cdp.access.decision with input as {}
	not d.allow
	"no method given" in d.reasons
}

test_methods_come_from_data if {
	d := user("/cdp.x.v1.X/Y", ["analyst"]) with data.cdp.access.methods as {"/cdp.x.v1.*": ["analyst"]}
	d.allow
	not user("/cdp.x.v1.X/Y", ["admin"]).allow with data.cdp.access.methods as {"/cdp.x.v1.*": ["analyst"]}
}

test_accounts_and_timelines_are_read_by_marketers_analysts_and_privacy_officers if {
	every m in [
		"/cdp.profile.v1.ProfileService/GetAccount",
		"/cdp.profile.v1.ProfileService/ListAccountMembers",
		"/cdp.profile.v1.ProfileService/ListEvents",
	] {
		user(m, ["marketer"]) == {"allow": true, "reasons": [], "pii_clear": false}
		user(m, ["analyst"]).allow
		user(m, ["admin"]).pii_clear
		not user(m, ["ingest"]).allow
	}
	user("/cdp.profile.v1.ProfileService/ListEvents", ["privacy_officer"]).pii_clear
	user("/cdp.profile.v1.ProfileService/GetAccount", ["privacy_officer"]).pii_clear
	not user("/cdp.profile.v1.ProfileService/ListAccountMembers", ["privacy_officer"]).allow
	d := user("/cdp.profile.v1.ProfileService/ListEvents", ["data_steward"])
	d.reasons == ["ana may not call /cdp.profile.v1.ProfileService/ListEvents: needs one of the roles [admin, analyst, marketer, privacy_officer]"]
}

test_services_read_accounts_but_not_timelines if {
	service("/cdp.profile.v1.ProfileService/GetAccount", "segment").allow
	service("/cdp.profile.v1.ProfileService/ListAccountMembers", "segment").allow
	not service("/cdp.profile.v1.ProfileService/GetAccount", "segment").pii_clear
	not service("/cdp.profile.v1.ProfileService/ListEvents", "segment").allow
}
