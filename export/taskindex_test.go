package export

import (
	"errors"
	"os"
	"testing"
)

func TestTaskIndex(t *testing.T) {
	tests := []struct {
		name    string
		given   int
		env     map[string]string
		want    int
		wantErr bool
	}{
		{"given", 3, map[string]string{"JOB_COMPLETION_INDEX": "9"}, 3, false},
		{"kubernetes", -1, map[string]string{"JOB_COMPLETION_INDEX": "9"}, 9, false},
		{"cloud run", -1, map[string]string{"CLOUD_RUN_TASK_INDEX": "4"}, 4, false},
		{"slurm", -1, map[string]string{"SLURM_ARRAY_TASK_ID": "0"}, 0, false},
		{"slurm rerun of one index", -1, map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "3"}, 3, false},
		{"aws batch", -1, map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "7"}, 7, false},
		{"first wins", -1, map[string]string{"JOB_COMPLETION_INDEX": "1", "SLURM_ARRAY_TASK_ID": "2"}, 1, false},
		{"none", -1, nil, 0, true},
		{"not a number", -1, map[string]string{"CLOUD_RUN_TASK_INDEX": "x"}, 0, true},
		{"negative", -1, map[string]string{"CLOUD_RUN_TASK_INDEX": "-2"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range append(IndexEnv, "SLURM_ARRAY_TASK_MIN") {
				t.Setenv(name, "") // restored after the test
				os.Unsetenv(name)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := taskIndex(tt.given)
			if tt.wantErr {
				if !errors.Is(err, ErrUsage) {
					t.Errorf("taskIndex = %d, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("taskIndex = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
