package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkEndToEnd drives the work API through the real binary: sign up, create a
// workspace, a project and tasks (one with an Idempotency-Key retried), move a task
// along its statuses with If-Match, page through the tasks with a cursor and read the
// audit log.
func TestWorkEndToEnd(t *testing.T) {
	t.Parallel()
	p := start(t, dbEnv(t), "serve")
	c := api{t: t, base: p.url}

	// send is api.call with request headers, returning the response headers too.
	send := func(method, path, bearer string, body any, header map[string]string, out any) (int, http.Header) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			require.NoError(t, err)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, p.url+path, rd)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if out != nil && len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, out), "%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, resp.Header
	}

	var signup struct {
		tokens
		Account      struct{ ID string }
		Organization struct{ ID, Slug string }
	}
	require.Equal(t, http.StatusCreated, c.call("POST", "/v1/signup", "", map[string]any{"email": "wanda@example.com",
		"password": "correct horse battery staple", "name": "Wanda", "organization_name": "Workshop"}, &signup))
	tok, org := signup.AccessToken, "/v1/orgs/"+signup.Organization.Slug

	var ws, pr struct{ ID string }
	status, hdr := send("POST", org+"/workspaces", tok, map[string]any{"name": "Engineering"}, nil, &ws)
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, org+"/workspaces/"+ws.ID, hdr.Get("Location"))
	require.NotEmpty(t, hdr.Get("ETag"))
	status, _ = send("POST", org+"/projects", tok, map[string]any{"workspace_id": ws.ID, "name": "API"}, nil, &pr)
	require.Equal(t, http.StatusCreated, status)

	type task struct {
		ID, Title, Status string
	}
	var tasks []task
	for _, title := range []string{"Design", "Build", "Test"} {
		var tk task
		key := map[string]string{"Idempotency-Key": "create-" + title}
		status, _ := send("POST", org+"/projects/"+pr.ID+"/tasks", tok, map[string]any{"title": title}, key, &tk)
		require.Equal(t, http.StatusCreated, status)
		var again task
		status, hdr := send("POST", org+"/projects/"+pr.ID+"/tasks", tok, map[string]any{"title": title}, key, &again)
		require.Equal(t, http.StatusCreated, status, "a retry")
		require.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
		require.Equal(t, tk, again)
		tasks = append(tasks, tk)
	}

	// Move the first task along: todo → in_progress → done, with If-Match.
	var cur task
	status, hdr = send("GET", org+"/tasks/"+tasks[0].ID, tok, nil, nil, &cur)
	require.Equal(t, http.StatusOK, status)
	etag := hdr.Get("ETag")
	status, hdr = send("PATCH", org+"/tasks/"+tasks[0].ID, tok, map[string]any{"status": "in_progress"}, map[string]string{"If-Match": etag}, &cur)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "in_progress", cur.Status)
	var pb problem
	status, _ = send("PATCH", org+"/tasks/"+tasks[0].ID, tok, map[string]any{"status": "done"}, map[string]string{"If-Match": etag}, &pb)
	require.Equal(t, http.StatusPreconditionFailed, status, "a stale ETag")
	status, _ = send("PATCH", org+"/tasks/"+tasks[0].ID, tok, map[string]any{"status": "done"}, map[string]string{"If-Match": hdr.Get("ETag")}, &cur)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "done", cur.Status)
	status, _ = send("PATCH", org+"/tasks/"+tasks[0].ID, tok, map[string]any{"status": "canceled"}, nil, &pb)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "task.invalid_transition", pb.Code)

	// Page through the tasks two at a time.
	var seen []task
	next := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		var pg struct {
			Data       []task  `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		require.Equal(t, http.StatusOK, c.call("GET", org+"/projects/"+pr.ID+"/tasks?limit=2"+next, tok, nil, &pg))
		seen = append(seen, pg.Data...)
		if pg.NextCursor == nil {
			break
		}
		next = "&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	require.Len(t, seen, 3)
	for i, tk := range tasks {
		require.Equal(t, tk.ID, seen[i].ID)
	}
	require.Equal(t, "done", seen[0].Status)
	var done struct{ Data []task }
	require.Equal(t, http.StatusOK, c.call("GET", org+"/projects/"+pr.ID+"/tasks?status=done", tok, nil, &done))
	require.Len(t, done.Data, 1)

	// The audit log, newest first: one row per change, none for the replays or the
	// refused changes.
	var log struct {
		Data []struct {
			Action    string  `json:"action"`
			ActorType string  `json:"actor_type"`
			ActorID   *string `json:"actor_id"`
		}
	}
	require.Equal(t, http.StatusOK, c.call("GET", org+"/audit-logs?limit=200", tok, nil, &log))
	var got []string
	for _, row := range log.Data {
		got = append(got, row.Action)
		require.Equal(t, "account", row.ActorType)
		require.NotNil(t, row.ActorID)
		require.Equal(t, signup.Account.ID, *row.ActorID)
	}
	require.Equal(t, []string{"task.update", "task.update", "task.create", "task.create", "task.create", "project.create",
		"workspace.create", "organization.create"}, got)
	var filtered struct{ Data []struct{ Action string } }
	require.Equal(t, http.StatusOK, c.call("GET", org+"/audit-logs?action=task.update", tok, nil, &filtered))
	require.Len(t, filtered.Data, 2)
}
