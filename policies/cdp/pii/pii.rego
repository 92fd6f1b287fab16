# Which fields are personal data, by name and classification. The answer decides which fields are
# encrypted per data subject, so that forgetting a person (destroying their key) erases them.
package cdp.pii

import rego.v1

# Names compare normalised (camelCase split at its humps, lower case, "-" and " " as "_"), so
# "First-Name", "first name", "firstName", "FirstName" and "FIRST_NAME" hit one key ("IPAddress":
# ip_address). Keys in data.cdp.classification are kept in this form (pii_test checks it).
normalised := {f: strings.replace_n({"-": "_", " ": "_"}, lower(regex.replace(
	regex.replace(f, `([A-Z]+)([A-Z][a-z])`, "${1}_${2}"),
	`([a-z0-9])([A-Z])`, "${1}_${2}",
))) |
	some f in input.fields
	is_string(f)
}

# The same without the split at humps: "dateofBirth" is listed as dateofbirth, not as dateof_birth.
unsplit := {f: strings.replace_n({"-": "_", " ": "_"}, lower(f)) | some f in input.fields; is_string(f)}

# The class of each name in input.fields; unclassified names are absent. Other packages reuse it
# with `data.cdp.pii.classes with input as {"fields": names}`. It is a rule over all names rather
# than a per-name function because regorus pays microseconds for every function call, and because
# policies here never read `data` or `data.cdp` whole (that would evaluate every rule beneath it).
# A name listed in data wins.
classes[f] := cls if {
	some f, n in normalised
	cls := data.cdp.classification[n]
}

classes[f] := cls if {
	some f, n in normalised
	not data.cdp.classification[n]
	cls := data.cdp.classification[unsplit[f]]
}

# Otherwise a name pattern catches what nobody listed ("work_email", "mobile_phone"); when several
# match, min() picks one so the answer never depends on iteration order (no match: undefined).
classes[f] := cls if {
	some f, n in normalised
	not data.cdp.classification[n]
	not data.cdp.classification[unsplit[f]]
	cls := min({c | some pattern, c in data.cdp.name_patterns; contains(n, pattern)})
}

# Identifying data (pii.*) and special-category data (sensitive.*) are both personal: leaving a
# person's religion or health in clear would survive a forget.
is_personal(cls) if startswith(cls, "pii.")

is_personal(cls) if startswith(cls, "sensitive.")

personal contains f if {
	some f, cls in classes
	is_personal(cls)
}

# Names at depth come qualified by the key of the object holding them too ("device.id",
# "library.name"). A qualified name is classed only where data.cdp.classification lists it, and
# then its class wins over the key's own either way: context.device.id is personal though "id" is
# not, context.library.name is not though "name" is.
qualified_normalised := {f: strings.replace_n({"-": "_", " ": "_"}, lower(f)) | some f in input.qualified; is_string(f)}

qualified_classes[f] := cls if {
	some f, n in qualified_normalised
	cls := data.cdp.classification[n]
}

personal_qualified contains f if {
	some f, cls in qualified_classes
	is_personal(cls)
}

not_personal_qualified contains f if {
	some f, cls in qualified_classes
	not is_personal(cls)
}

# Values are personal by what they look like too (an email under a name nobody listed): the
# patterns of personal classes, applied by the caller to every value (regular expressions in the
# common subset of RE2 and Python's re; see data.cdp.value_patterns for their fields).
value_patterns[name] := p if {
	some name, p in data.cdp.value_patterns
	is_personal(p.class)
}

# Always defined: no fields gives empty lists.
decision := {
	"personal": sort(personal),
	"personal_qualified": sort(personal_qualified),
	"not_personal_qualified": sort(not_personal_qualified),
	"value_patterns": value_patterns,
}
