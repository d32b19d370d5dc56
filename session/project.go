package session

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2/google"
)

// DefaultProject returns the project that bills a read and holds tables named without one, as
// bq and the client libraries find it: given (a flag), else GOOGLE_CLOUD_PROJECT, else, for the
// Google service (endpoint ""), the project of the Application Default Credentials, else
// gcloud's configured core/project. It returns "" when none is set.
func DefaultProject(ctx context.Context, given, endpoint string) string {
	switch {
	case given != "":
		return given
	case os.Getenv("GOOGLE_CLOUD_PROJECT") != "":
		return os.Getenv("GOOGLE_CLOUD_PROJECT")
	case endpoint != "":
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if creds, err := google.FindDefaultCredentials(ctx); err == nil && creds.ProjectID != "" {
		return creds.ProjectID
	}
	return gcloudProject()
}

// gcloudProject returns core/project of gcloud's active configuration, "" when there is none.
func gcloudProject() string {
	dir := os.Getenv("CLOUDSDK_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config", "gcloud")
	}
	name := "default"
	if data, err := os.ReadFile(filepath.Join(dir, "active_config")); err == nil && strings.TrimSpace(string(data)) != "" {
		name = strings.TrimSpace(string(data))
	}
	f, err := os.Open(filepath.Join(dir, "configurations", "config_"+name))
	if err != nil {
		return ""
	}
	defer f.Close()
	section := ""
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if key, value, ok := strings.Cut(line, "="); ok && section == "core" && strings.TrimSpace(key) == "project" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
