package ratelimit

import (
	"testing"
	"time"
)

func TestReservations(t *testing.T) {
	const window = 250 * time.Millisecond
	r := NewReservations(window, 64)
	now := time.Now()
	if ok, denied := r.Take("k", now); ok || denied != 0 {
		t.Fatalf("reservation out of nothing: %v %s", ok, denied)
	}
	if n := r.Want("k", 1000, now); n != 1 {
		t.Fatalf("a quiet bucket reserves %d", n)
	}
	// A busy bucket: 40 requests in a window, then it reserves ~41.
	for i := 0; i < 39; i++ {
		r.Take("k", now)
	}
	later := now.Add(window)
	if n := r.Want("k", 1000, later); n != 41 {
		t.Fatalf("a busy bucket reserves %d", n)
	}
	if n := r.Want("k", 32, later); n != 8 {
		t.Fatalf("reservation not capped by a quarter of the burst: %d", n)
	}
	if n := NewReservations(window, 8).Want("k", 1000, later); n != 1 {
		t.Fatalf("another replica's reservations: %d", n)
	}
	r.Grant("k", 3, later)
	for i := 0; i < 2; i++ {
		if ok, _ := r.Take("k", later); !ok {
			t.Fatalf("reserved request %d not taken", i+1)
		}
	}
	if ok, _ := r.Take("k", later); ok {
		t.Fatal("a third request taken from two reserved")
	}
	r.Grant("k", 6, later)
	if ok, _ := r.Take("k", later.Add(window)); ok {
		t.Fatal("reserved requests outlived their window")
	}
	// Long quiet: back to exact counting.
	if n := r.Want("k", 1000, later.Add(10*time.Second)); n != 1 {
		t.Fatalf("after a pause a bucket reserves %d", n)
	}
	// Refused: refused here until the next slot, at most a window.
	r.Refuse("k", time.Second, later)
	if ok, denied := r.Take("k", later.Add(time.Millisecond)); ok || denied != window-time.Millisecond {
		t.Fatalf("refused bucket: %v %s", ok, denied)
	}
	if _, denied := r.Take("k", later.Add(window)); denied != 0 {
		t.Fatalf("refusal outlived its window: %s", denied)
	}
	// Noted requests size the reservation but take nothing.
	for i := 0; i < 9; i++ {
		r.Note("n", now)
	}
	if n := r.Want("n", 1000, now.Add(window)); n != 10 {
		t.Fatalf("noted requests: reserves %d", n)
	}
}

func TestNoReservations(t *testing.T) {
	r := NewReservations(0, 0)
	now := time.Now()
	for i := 0; i < 100; i++ {
		r.Take("k", now)
	}
	if n := r.Want("k", 1000, now.Add(time.Second)); n != 1 {
		t.Fatalf("without a window a bucket reserves %d", n)
	}
	r.Grant("k", 5, now)
	if ok, _ := r.Take("k", now); ok {
		t.Fatal("a reservation without a window")
	}
	r.Refuse("k", time.Second, now)
	if _, denied := r.Take("k", now); denied != time.Millisecond {
		t.Fatalf("refused without a window for %s", denied)
	}
}
