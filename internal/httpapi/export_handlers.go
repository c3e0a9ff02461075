package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coditect/coditect/internal/export"
)

// The data export API: an admin requests an export (202: a job produces it), follows
// its status, lists the organization's exports and downloads the archive until it
// expires. export.Service authorizes (admin or higher) and keeps the rules; the
// handlers shape the answers and stream the archive.

// exportBody is one export as the API shows it.
type exportBody struct {
	ID          export.ID        `json:"id"`
	Status      export.Status    `json:"status"`
	RequestedBy *string          `json:"requested_by"`
	CreatedAt   time.Time        `json:"created_at"`
	StartedAt   *time.Time       `json:"started_at"`
	CompletedAt *time.Time       `json:"completed_at"`
	ExpiresAt   *time.Time       `json:"expires_at"`
	Expired     bool             `json:"expired"`
	SizeBytes   int64            `json:"size_bytes"`
	Counts      map[string]int64 `json:"counts"`
	Error       *string          `json:"error"`
	DownloadURL *string          `json:"download_url"`
}

// exportOf presents e; the download URL is given while there is something to download.
func exportOf(r *http.Request, e export.Export) exportBody {
	b := exportBody{ID: e.ID, Status: e.Status, CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, CompletedAt: e.CompletedAt,
		ExpiresAt: e.ExpiresAt, Expired: e.Expired, SizeBytes: e.SizeBytes, Counts: e.Counts}
	if b.Counts == nil {
		b.Counts = map[string]int64{}
	}
	if e.RequestedBy != "" {
		b.RequestedBy = &e.RequestedBy
	}
	if e.Error != "" {
		b.Error = &e.Error
	}
	if e.Status == export.StatusCompleted && !e.Expired {
		u := location(r, "exports", e.ID.String()) + "/download"
		b.DownloadURL = &u
	}
	return b
}

// exportETag is the entity tag of an export as shown: it changes whenever any of it
// does (status, expiry). The download URL is left out: it follows how the request
// named the organization (slug or id), and the export is the same either way.
func exportETag(b exportBody) string {
	b.DownloadURL = nil
	raw, err := json.Marshal(b)
	if err != nil {
		panic(err) // plain values only: cannot happen
	}
	sum := sha256.Sum256(raw)
	return `"X1-` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// handleExportCreate: POST /v1/orgs/{org}/exports. The export is produced in the
// background, hence 202 with the pending export and its Location.
func handleExportCreate(svc ExportService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := svc.RequestExport(r.Context())
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		b := exportOf(r, e)
		h := w.Header()
		h.Set("Location", location(r, "exports", e.ID.String()))
		h.Set("ETag", exportETag(b))
		writeJSON(w, http.StatusAccepted, b)
	})
}

// handleExportList: GET /v1/orgs/{org}/exports, newest first; the cursor is the
// position (created_at, id) of the page's last export and the next page holds the
// exports before it.
func handleExportList(svc ExportService, pg pager) http.Handler {
	const list = "exports"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, pos, err := pg.parse(r, list)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		exports, err := svc.Exports(r.Context(), export.Page{Limit: min(limit+1, storeMaxPage), CreatedAt: pos.at, ID: pos.id})
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		items := make([]exportBody, 0, min(len(exports), limit))
		for _, e := range exports[:min(len(exports), limit)] {
			items = append(items, exportOf(r, e))
		}
		writePage(w, pg, list, items, morePages(len(exports), limit), func(e exportBody) (time.Time, [16]byte) { return e.CreatedAt, e.ID })
	})
}

// handleExportGet: GET /v1/orgs/{org}/exports/{id}.
func handleExportGet(svc ExportService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[export.ID](w, r, "id", "export")
		if !ok {
			return
		}
		e, err := svc.Export(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		b := exportOf(r, e)
		withETag(w, exportETag(b), b)
	})
}

// handleExportDownload: GET /v1/orgs/{org}/exports/{id}/download streams the archive.
// An archive can be far larger than what the server's WriteTimeout allows for, so this
// handler lifts the write deadline; the ReadTimeout and the idle timeout still apply.
func handleExportDownload(svc ExportService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID[export.ID](w, r, "id", "export")
		if !ok {
			return
		}
		rc, size, name, err := svc.Download(r.Context(), id)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		defer rc.Close()
		// Not supported only by test recorders; a real connection always allows it.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h := w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("Content-Disposition", `attachment; filename="`+safeFilename(name)+`"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
			// The status is sent; the short body (against Content-Length) tells the
			// client the download is incomplete. The cause goes to the access log.
			stateFrom(r.Context()).err = err
		}
	})
}

// safeFilename keeps a Content-Disposition file name to letters, digits, '.', '-' and
// '_', so it needs no escaping inside the quotes.
func safeFilename(name string) string {
	name = strings.Map(func(c rune) rune {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
			return c
		}
		return '_'
	}, name)
	if name == "" || strings.Trim(name, ".") == "" {
		return "coditect-export.tar.gz"
	}
	return name
}
