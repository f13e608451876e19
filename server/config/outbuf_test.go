package config

import "testing"

func TestOutputLimitsParse(t *testing.T) {
	def, err := parseOutputLimits(OutputBufferLimits{}, defaultOutputBufferLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"", defaultOutputBufferLimits, nil},
		{"pubsub 32mb 8mb 60", defaultOutputBufferLimits, nil},
		{"pubsub 1kb 1k 5", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1024 1000 5", nil},
		{"replica 1 2 3 NORMAL 4 5 6", "normal 4 5 6 slave 1 2 3 pubsub 33554432 8388608 60", nil},
		{"slave 1gb 0 0", "normal 0 0 0 slave 1073741824 0 0 pubsub 33554432 8388608 60", nil},
		{"pubsub 1 2", "", errOBLArgs},
		{"master 1 2 3", "", errOBLClass},
		{"bogus 1 2 3", "", errOBLClass},
		{"pubsub x 2 3", "", errOBLValues},
		{"pubsub 1 2 -3", "", errOBLValues},
		{"pubsub -1 2 3", "", errOBLValues},
		{"pubsub 1 2 3s", "", errOBLValues},
		{"normal 1 1 1 pubsub 1 2 x", "", errOBLValues}, // all or nothing
	} {
		got, err := parseOutputLimits(def, tc.in)
		if err != tc.err {
			t.Errorf("%q: err %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && formatOutputLimits(got) != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, formatOutputLimits(got), tc.want)
		}
	}
}

func FuzzOutputLimits(f *testing.F) {
	for _, s := range []string{defaultOutputBufferLimits, "pubsub 1 2 3", "x", "normal 1gb 1mb -1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseOutputLimits(OutputBufferLimits{}, s)
		if err != nil {
			return
		}
		again, err := parseOutputLimits(OutputBufferLimits{}, formatOutputLimits(l))
		if err != nil || again != l {
			t.Fatalf("%q: round trip %+v -> %+v (%v)", s, l, again, err)
		}
	})
}
