package httpapi

import (
	"github.com/coditect/coditect/internal/work"
)

// workSchemas are the named schemas of the work API: workspaces, projects, tasks and
// the audit log. Request bodies forbid other properties, as decodeJSON does.
func workSchemas() map[string]jsonSchema {
	uuid := jsonSchema{"type": "string", "format": "uuid"}
	optUUID := jsonSchema{"type": []string{"string", "null"}, "format": "uuid"}
	dateTime := jsonSchema{"type": "string", "format": "date-time"}
	optDateTime := jsonSchema{"type": []string{"string", "null"}, "format": "date-time"}
	name := jsonSchema{"type": "string", "minLength": 1, "maxLength": work.MaxNameLen,
		"description": "1 to 200 characters after trimming spaces; no control characters."}
	title := jsonSchema{"type": "string", "minLength": 1, "maxLength": work.MaxTitleLen,
		"description": "1 to 500 characters after trimming spaces; no control characters."}
	description := jsonSchema{"type": "string", "maxLength": work.MaxDescriptionLen,
		"description": "At most 10,000 characters; no control characters other than tab and line breaks."}
	dueAt := jsonSchema{"type": []string{"string", "null"}, "format": "date-time",
		"description": "RFC 3339, between 2000-01-01 and 2100-12-31 (UTC); stored in UTC at microsecond precision."}
	statuses := make([]string, 0, 4)
	for _, s := range work.TaskStatuses() {
		statuses = append(statuses, string(s))
	}
	object := func(required []string, props map[string]jsonSchema) jsonSchema {
		s := jsonSchema{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	request := func(required []string, props map[string]jsonSchema) jsonSchema {
		s := object(required, props)
		s["additionalProperties"] = false
		return s
	}
	pageOf := func(item string) jsonSchema {
		return object([]string{"data", "next_cursor"}, map[string]jsonSchema{
			"data":        {"type": "array", "items": ref(item)},
			"next_cursor": {"type": []string{"string", "null"}, "description": "Pass as ?cursor= for the next page; null on the last page. At limit=200 a full page always has one, and the page after it may be empty."},
		})
	}
	return map[string]jsonSchema{
		"UpdateOrganizationRequest": request([]string{"name"}, map[string]jsonSchema{"name": name}),

		"Workspace": object([]string{"id", "name", "description", "created_at", "updated_at"}, map[string]jsonSchema{
			"id": uuid, "name": {"type": "string"}, "description": {"type": "string"}, "created_at": dateTime, "updated_at": dateTime,
		}),
		"WorkspacePage":          pageOf("Workspace"),
		"CreateWorkspaceRequest": request([]string{"name"}, map[string]jsonSchema{"name": name, "description": description}),
		"UpdateWorkspaceRequest": request(nil, map[string]jsonSchema{"name": name, "description": description}),

		"Project": object([]string{"id", "workspace_id", "name", "description", "created_at", "updated_at"}, map[string]jsonSchema{
			"id": uuid, "workspace_id": uuid, "name": {"type": "string"}, "description": {"type": "string"}, "created_at": dateTime, "updated_at": dateTime,
		}),
		"ProjectPage": pageOf("Project"),
		"CreateProjectRequest": request([]string{"workspace_id", "name"}, map[string]jsonSchema{
			"workspace_id": {"type": "string", "format": "uuid", "description": "A workspace of this organization."},
			"name":         name, "description": description,
		}),
		"UpdateProjectRequest": request(nil, map[string]jsonSchema{"name": name, "description": description}),

		"TaskStatus": {"enum": statuses, "description": "Where a task is: todo, in_progress, done or canceled."},
		"Task": object([]string{"id", "project_id", "title", "description", "status", "assignee_id", "due_at", "created_at", "updated_at"}, map[string]jsonSchema{
			"id": uuid, "project_id": uuid, "title": {"type": "string"}, "description": {"type": "string"}, "status": ref("TaskStatus"),
			"assignee_id": optUUID, "due_at": optDateTime, "created_at": dateTime, "updated_at": dateTime,
		}),
		"TaskPage": pageOf("Task"),
		"CreateTaskRequest": request([]string{"title"}, map[string]jsonSchema{
			"title": title, "description": description,
			"status":      {"$ref": "#/components/schemas/TaskStatus", "description": "Default: todo."},
			"assignee_id": {"type": []string{"string", "null"}, "format": "uuid", "description": "A member of this organization, or null."},
			"due_at":      dueAt,
		}),
		"UpdateTaskRequest": request(nil, map[string]jsonSchema{
			"title": title, "description": description,
			"status":      {"$ref": "#/components/schemas/TaskStatus", "description": "Along the transition table (see updateTask)."},
			"assignee_id": {"type": []string{"string", "null"}, "format": "uuid", "description": "A member of this organization; null unassigns."},
			"due_at":      {"type": []string{"string", "null"}, "format": "date-time", "description": "As in CreateTaskRequest; null clears it."},
		}),

		"AuditLogEntry": object([]string{"id", "actor_id", "actor_type", "action", "target_type", "target_id", "ip", "user_agent", "created_at", "changes"}, map[string]jsonSchema{
			"id":          uuid,
			"actor_id":    {"type": []string{"string", "null"}, "format": "uuid", "description": "The account, API key or OAuth client that acted; null for the platform itself."},
			"actor_type":  {"enum": []string{"account", "api_key", "oauth_client", "system"}},
			"action":      {"type": "string", "examples": []string{"project.create", "task.update", "workspace.delete"}},
			"target_type": {"type": "string", "examples": []string{"workspace", "project", "task", "organization"}},
			"target_id":   {"type": "string"},
			"ip":          {"type": []string{"string", "null"}, "description": "The client's address, when known."},
			"user_agent":  {"type": "string"},
			"created_at":  dateTime,
			"changes":     {"type": "object", "description": "The fields changed (with previous_<field> for their old values), never secrets."},
		}),
		"AuditLogPage": pageOf("AuditLogEntry"),
	}
}
