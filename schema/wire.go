package schema

import "encoding/json"

// The JSON bodies of the registry's HTTP API under /api/v1/schemas, which a
// server serves and [Client] calls. docs/schemas.md describes each route.

// ProblemIncompatible is the problem type of a version refused by its
// subject's compatibility mode (409). Its errors list each reason.
const ProblemIncompatible = "urn:arus:problem:schema-incompatible"

// SubjectList is the answer to GET /api/v1/schemas/subjects.
type SubjectList struct {
	Subjects []Subject `json:"subjects"`
}

// VersionList is the answer to GET .../subjects/{subject}/versions.
type VersionList struct {
	Subject  string    `json:"subject"`
	Versions []Version `json:"versions"`
}

// Registered is the answer to registering a version: 201 when Created,
// 200 when the schema was registered already. Schema is left out.
type Registered struct {
	Version
	Created bool `json:"created"`
}

// ModeSetting is a compatibility mode, of a subject or the default.
type ModeSetting struct {
	Subject string `json:"subject,omitempty"`
	Mode    Mode   `json:"mode"`
	// Default says a subject follows the registry default.
	Default bool `json:"default,omitempty"`
}

// SubjectDeleted is the answer to deleting a subject.
type SubjectDeleted struct {
	Subject  string `json:"subject"`
	Versions []int  `json:"versions"`
}

// SchemaRequest is the body of register and check.
type SchemaRequest struct {
	// Schema is the JSON Schema document itself, not a string holding it.
	Schema json.RawMessage `json:"schema"`
}

// ModeRequest is the body of setting a compatibility mode.
type ModeRequest struct {
	Mode string `json:"mode"`
}

// Problem is an error answer of the API (RFC 9457 problem details).
type Problem struct {
	// Type is a URI naming the kind of problem, such as
	// [ProblemIncompatible].
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail says what was wrong with the request.
	Detail string `json:"detail,omitempty"`
	// Errors name the parts of the request at fault and why: the field
	// "schema" (or "schema.properties.total" within it), "subject",
	// "version", "mode" or a query parameter.
	Errors []ProblemField `json:"errors,omitempty"`
}

// ProblemField is one part of a request a [Problem] finds at fault.
type ProblemField struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
