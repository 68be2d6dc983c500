package local

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// WASI poll_oneoff ABI (snapshot preview1): 48-byte subscriptions in,
// 32-byte events out.
const (
	subscriptionSize = 48
	eventSize        = 32

	eventTypeClock   = 0
	eventTypeFdRead  = 1
	eventTypeFdWrite = 2

	errnoSuccess = 0
	errnoFault   = 21
	errnoInval   = 28
	errnoNotsup  = 58
)

// pollFallback bounds how long a listener guest waits for a wake-up
// before its sockets are reported ready anyway, in case a wake-up raced
// ahead of the bytes it announced.
const pollFallback = 20 * time.Millisecond

// pollState lets the host tell a guest's poll_oneoff that its sockets
// may have become ready. wazero cannot wait on a guest socket: its own
// poll_oneoff answers every socket subscription "ready" at once, and Go's
// wasip1 scheduler, finding nothing to accept or read, polls again, so an
// idle listener spins a whole core. Every byte a listener guest receives
// or sends passes through the host's wakeProxy, which signals wake; the
// guest's poll blocks until then.
type pollState struct {
	wake chan struct{} // buffered(1): a signal sent while nobody polls waits
}

type pollStateKey struct{}

// withPollState attaches st to the context a module instance runs with.
func withPollState(ctx context.Context, st *pollState) context.Context {
	return context.WithValue(ctx, pollStateKey{}, st)
}

// signal wakes the guest's current or next poll.
func (p *pollState) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pollOneoff implements WASI poll_oneoff for clock and descriptor
// subscriptions, replacing wazero's. Relative clocks sleep; absolute ones
// are refused as wazero does. Without a pollState (WAGI requests, whose
// only descriptors are in-memory stdio) descriptors are ready at once.
func pollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	in, out := uint32(stack[0]), uint32(stack[1])
	n, resultNevents := uint32(stack[2]), uint32(stack[3])
	st, _ := ctx.Value(pollStateKey{}).(*pollState)
	stack[0] = uint64(doPoll(ctx, st, mod.Memory(), in, out, n, resultNevents))
}

func doPoll(ctx context.Context, st *pollState, mem api.Memory, in, out, n, resultNevents uint32) uint32 {
	if n == 0 {
		return errnoInval
	}
	if uint64(n)*subscriptionSize > uint64(^uint32(0)) {
		return errnoFault
	}
	subs, ok := mem.Read(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	evts, ok := mem.Read(out, n*eventSize)
	if !ok {
		return errnoFault
	}
	subs = append([]byte(nil), subs...) // in and out may overlap

	clock := time.Duration(-1) // shortest relative clock, -1 if none
	fds := 0
	for i := range n {
		s := subs[i*subscriptionSize:]
		switch s[8] {
		case eventTypeClock:
			if flags := binary.LittleEndian.Uint16(s[40:]); flags != 0 {
				return errnoNotsup
			}
			d := time.Duration(min(binary.LittleEndian.Uint64(s[24:]), uint64(1<<63-1)))
			if clock < 0 || d < clock {
				clock = d
			}
		case eventTypeFdRead, eventTypeFdWrite:
			fds++
		default:
			return errnoInval
		}
	}

	clockFired, fdsReady := wait(ctx, st, clock, fds > 0)
	nevents := uint32(0)
	for i := range n {
		s := subs[i*subscriptionSize:]
		typ := s[8]
		if (typ == eventTypeClock && !clockFired) || (typ != eventTypeClock && !fdsReady) {
			continue
		}
		e := evts[nevents*eventSize : (nevents+1)*eventSize]
		clear(e)
		copy(e[0:8], s[0:8]) // userdata
		binary.LittleEndian.PutUint16(e[8:], errnoSuccess)
		e[10] = typ
		nevents++
	}
	if !mem.WriteUint32Le(resultNevents, nevents) {
		return errnoFault
	}
	return errnoSuccess
}

// wait blocks for the poll and says which kinds of subscription fired.
func wait(ctx context.Context, st *pollState, clock time.Duration, fds bool) (clockFired, fdsReady bool) {
	switch {
	case fds && (st == nil || st.wake == nil):
		return clock == 0, true
	case fds && clock == 0:
		// A non-blocking check, made by Go's scheduler before each
		// blocking poll: report sockets only on real news, or it would
		// wake the waiting goroutines forever.
		select {
		case <-st.wake:
			return true, true
		default:
			return true, false
		}
	case !fds && clock == 0:
		return true, false
	}

	d, dIsClock := clock, true
	if fds && (clock < 0 || clock > pollFallback) {
		d, dIsClock = pollFallback, false
	}
	var wake <-chan struct{}
	if fds {
		wake = st.wake
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		return clock >= 0 && time.Since(start) >= clock, true
	case <-t.C:
		return dIsClock, !dIsClock
	case <-ctx.Done():
		return false, false
	}
}
