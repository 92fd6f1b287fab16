# Which fields are personal data, by name and classification. The answer decides which fields are
# encrypted per data subject, so that forgetting a person (destroying their key) erases them.
package cdp.pii

import rego.v1

# Names compare normalised (lower case, "-" and " " as "_"), so "First-Name", "first name" and
# "FIRST_NAME" hit one key. Keys in data.cdp.classification are kept in this form (pii_test checks it).
normalised := {f: strings.replace_n({"-": "_", " ": "_"}, lower(f)) | some f in input.fields; is_string(f)}

# The class of each name in input.fields; unclassified names are absent. Other packages reuse it
# with `data.cdp.pii.classes with input as {"fields": names}`. It is a rule over all names rather
# than a per-name function because regorus pays microseconds for every function call, and because
# policies here never read `data` or `data.cdp` whole (that would evaluate every rule beneath it).
# A name listed in data wins.
classes[f] := cls if {
	some f, n in normalised
	cls := data.cdp.classification[n]
}

# Otherwise a name pattern catches what nobody listed ("work_email", "mobile_phone"); when several
# match, min() picks one so the answer never depends on iteration order (no match: undefined).
classes[f] := cls if {
	some f, n in normalised
	not data.cdp.classification[n]
	cls := min({c | some pattern, c in data.cdp.name_patterns; contains(n, pattern)})
}

# Identifying data (pii.*) and special-category data (sensitive.*) are both personal: leaving a
# person's religion or health in clear would survive a forget.
personal contains f if {
	some f, cls in classes
	some prefix in ["pii.", "sensitive."]
	startswith(cls, prefix)
}

# Always defined: no fields gives an empty list.
decision := {"personal": sort(personal)}
