package httpapi

import "github.com/coditect/coditect/internal/export"

// exportSchemas are the named schemas of the data export API.
func exportSchemas() map[string]jsonSchema {
	dateTime := jsonSchema{"type": "string", "format": "date-time"}
	optDateTime := func(description string) jsonSchema {
		return jsonSchema{"type": []string{"string", "null"}, "format": "date-time", "description": description}
	}
	statuses := []string{string(export.StatusPending), string(export.StatusRunning), string(export.StatusCompleted), string(export.StatusFailed)}
	required := []string{"id", "status", "requested_by", "created_at", "started_at", "completed_at", "expires_at", "expired",
		"size_bytes", "counts", "error", "download_url"}
	return map[string]jsonSchema{
		"ExportStatus": {"enum": statuses, "description": "pending (queued), running, completed (downloadable until expires_at) or failed."},
		"Export": {
			"type":     "object",
			"required": required,
			"properties": map[string]jsonSchema{
				"id":           {"type": "string", "format": "uuid"},
				"status":       ref("ExportStatus"),
				"requested_by": {"type": []string{"string", "null"}, "format": "uuid", "description": "The account, API key or OAuth client that requested it; null for the platform itself."},
				"created_at":   dateTime,
				"started_at":   optDateTime("When the job last started producing it."),
				"completed_at": optDateTime("When it completed or failed."),
				"expires_at":   optDateTime("When a completed export stops being downloadable and its archive is deleted."),
				"expired":      {"type": "boolean", "description": "The export is past expires_at: its download answers 404 export.expired."},
				"size_bytes":   {"type": "integer", "minimum": 0, "description": "The archive's size, once completed."},
				"counts": {"type": "object", "additionalProperties": jsonSchema{"type": "integer", "minimum": 0},
					"description": "Rows per file of the archive (organization, members, workspaces, projects, tasks, audit_logs), once completed."},
				"error": {"type": []string{"string", "null"}, "description": "Why it failed, when it did."},
				"download_url": {"type": []string{"string", "null"}, "format": "uri-reference",
					"description": "Where to download the archive while it is completed and not expired; null otherwise."},
			},
		},
		"ExportPage": {
			"type":     "object",
			"required": []string{"data", "next_cursor"},
			"properties": map[string]jsonSchema{
				"data":        {"type": "array", "items": ref("Export")},
				"next_cursor": {"type": []string{"string", "null"}, "description": "Pass as ?cursor= for the next page; null on the last page. At limit=200 a full page always has one, and the page after it may be empty."},
			},
		},
	}
}
