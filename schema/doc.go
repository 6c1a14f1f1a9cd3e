// Package schema is the schema registry of Arus, and validation of record
// values against it before they are produced.
//
// A subject (by default one per topic, "<topic>-value", see [TopicValue])
// holds numbered versions of a JSON Schema (drafts 4 to 2020-12; 2020-12
// when $schema is absent). Every version gets a schema id that is unique
// across subjects and never reused. Records produced through a [Producer]
// carry the id of the version their value was validated against in the
// [HeaderSchemaID] header, so a consumer can always find the schema that
// wrote a record, even after the version was deleted.
//
// # Compatibility
//
// Each subject has a compatibility [Mode] (or follows the registry
// default, BACKWARD): NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE
// variants. A new version is checked when it is registered, and refused
// with an [*IncompatibleError] whose reasons name the path in the data,
// the rule and the change ("/total: type changed from number to string
// (breaks BACKWARD against version 3: new readers cannot read old data)").
//
// The check proves that every value valid under one schema is valid under
// the other. JSON Schema inclusion is not decidable in general, so the
// checker is sound and incomplete: it accepts only what its rules prove,
// and refuses what they cannot (rule "unprovable"), saying so. The rules
// are listed in docs/schemas.md; [Compare] runs them on two documents.
//
// # Validation
//
// A [Validator] compiles each version once, follows the latest version of
// a subject with a short cache ([ValidatorConfig].LatestTTL), and reports
// each failing place in a value by JSON Pointer ("/items/2/price: must be
// >= 0"). Its [Source] is a [*Registry] in the same process or a [*Client]
// of a server. A [Producer] wraps any stream.Producer with it.
//
// # Storage and API
//
// A [Registry] keeps its tables in the store it is opened on (SQLite or
// PostgreSQL, see package store; the server's is the "schema" component's)
// and may be shared by several processes. An Arus server serves its
// registry under /api/v1/schemas; [Client] calls those routes, with the
// bodies in wire.go, and so does the arus schemas command.
package schema
