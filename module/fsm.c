// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate's TCP state machine.  See fsm.h for the contract.
 *
 * Each segment is an event for both endpoints: its sender sends it and its
 * receiver is sent it.  A segment is checked first (flags, handshake acks,
 * RST window) and, if it passes, looked up in one const table twice: once
 * for the sender, once for the receiver.  A state changes on the segment
 * that proves it, the way the textbook ladder diagrams draw it:
 *
 *	client                                      server
 *	CLOSED                                      LISTEN
 *	SYN_SENT     --- S   seq=x --------------->
 *	ESTABLISHED  <-- S.  seq=y ack=x+1 --------  SYN_RCVD
 *	             --- .   ack=y+1 ------------->  ESTABLISHED
 *	FIN_WAIT_1   --- F.  seq=u --------------->  CLOSE_WAIT
 *	FIN_WAIT_2   <-- .   ack=u+1 -------------
 *	TIME_WAIT    <-- F.  seq=w ack=u+1 --------  LAST_ACK
 *	             --- .   ack=w+1 ------------->  CLOSED
 *	CLOSED  (2MSL later, by the timer)
 */

#include "fsm.h"

/* What a segment is, from its flags alone. */
enum seg_class {
	C_INVALID,		/* no place in TCP: counted, ignored */
	C_SYN,			/* SYN without ACK: an active open */
	C_SYNACK,		/* SYN with ACK: the answer to a SYN */
	C_ACK,			/* ACK, with or without data */
	C_FIN,			/* FIN with ACK */
	C_RST,			/* RST, with or without ACK */
};

#define F_	TCPSTATE_TCP_FIN
#define S_	TCPSTATE_TCP_SYN
#define R_	TCPSTATE_TCP_RST
#define P_	TCPSTATE_TCP_PSH
#define A_	TCPSTATE_TCP_ACK
#define U_	TCPSTATE_TCP_URG

/* A class for one flag set, whatever PSH and URG say. */
#define ANY_PU(flags, class)						\
	[(flags)] = (class), [(flags) | P_] = (class),			\
	[(flags) | U_] = (class), [(flags) | P_ | U_] = (class)

/*
 * The valid flag combinations, indexed by the low six flag bits (ECE and
 * CWR never change the class).  Everything not listed is C_INVALID: no
 * flags at all, SYN+FIN without ACK (a listener discards it), SYN+RST,
 * RST+FIN, FIN without ACK, PSH or URG alone.
 *
 * SYN+ACK+FIN is a SYN/ACK: Linux, in SYN_SENT, takes the SYN and the ACK
 * and discards the rest of the segment, data and FIN
 * (tcp_rcv_synsent_state_process() sets rcv_nxt to seq + 1); the sender
 * has to send them again, and only then do they count.
 */
static const u8 seg_class_of[64] = {
	ANY_PU(S_, C_SYN),
	ANY_PU(S_ | A_, C_SYNACK),
	ANY_PU(S_ | A_ | F_, C_SYNACK),
	ANY_PU(A_, C_ACK),
	ANY_PU(F_ | A_, C_FIN),
	ANY_PU(R_, C_RST),
	ANY_PU(R_ | A_, C_RST),
};

/* The events of one endpoint: rows of the transition table. */
enum fsm_event {
	EV_SND_SYN,		/* it sends a SYN */
	EV_SND_SYNACK,		/* it sends a SYN/ACK */
	EV_SND_ACK,		/* it sends an ACK, with or without data */
	EV_SND_FIN,		/* it sends a FIN */
	EV_SND_FIN_CROSSED,	/* it sends a FIN that does not ack the
				 * peer's FIN, which it was taken to have
				 */
	EV_SND_RST,		/* it sends an acceptable RST */
	EV_SND_RST_REFUSAL,	/* it sends a RST that answers a SYN/ACK it
				 * refused (TCPSTATE_P_REFUSED)
				 */
	EV_RCV_SYNACK,		/* it is sent a SYN/ACK acking its SYN */
	EV_RCV_SYNACK_SIM,	/* the same, in a simultaneous open */
	EV_RCV_ACK,		/* it is sent the ACK of its SYN or FIN */
	EV_RCV_FIN,		/* it is sent a FIN */
	EV_RCV_FINACK,		/* it is sent a FIN that acks its SYN or FIN */
	EV_RCV_RST,		/* it is sent an acceptable RST */
	EV_TIMER,		/* 2MSL has passed */
	NR_EVENTS,
	EV_NONE = NR_EVENTS
};

/* Short names keep the table's rows on one line each. */
#define sCL TCPSTATE_CLOSED
#define sLI TCPSTATE_LISTEN
#define sSS TCPSTATE_SYN_SENT
#define sSR TCPSTATE_SYN_RCVD
#define sES TCPSTATE_ESTABLISHED
#define sF1 TCPSTATE_FIN_WAIT_1
#define sF2 TCPSTATE_FIN_WAIT_2
#define sCW TCPSTATE_CLOSE_WAIT
#define sCG TCPSTATE_CLOSING
#define sLA TCPSTATE_LAST_ACK
#define sTW TCPSTATE_TIME_WAIT
/* Cells that are not a state: */
#define sNO 0x10		/* no change */
#define sRT 0x11		/* no change: a retransmission, counted */
#define sIV 0x12		/* no change: no place here, the segment is refused */
#define sQC 0x13		/* quietly CLOSED: it never left CLOSED */

/*
 * fsm_table[event][state] = the endpoint's next state.
 *
 * Columns:  CLOSED LISTEN SYN_SENT SYN_RCVD ESTABLISHED FIN_WAIT_1
 *           FIN_WAIT_2 CLOSE_WAIT CLOSING LAST_ACK TIME_WAIT
 */
static const u8 fsm_table[NR_EVENTS][TCPSTATE_NR_STATES] = {
/*
 * Sends a SYN.
 * CLOSED -> SYN_SENT: the active open.
 * LISTEN -> SYN_SENT: the presumed listener opens too (simultaneous open).
 * SYN_SENT: the same SYN again.
 * SYN_RCVD and later: a SYN inside a connection has no place.  (A SYN
 * from CLOSED or TIME_WAIT on a finished flow starts a new generation
 * before the table is consulted.)
 */
	[EV_SND_SYN] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sSS, sSS, sRT, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
/*
 * Sends a SYN/ACK.
 * LISTEN -> SYN_RCVD: it got the SYN and answers; this proves it listened.
 * SYN_SENT -> SYN_RCVD: it got the peer's crossing SYN (simultaneous open).
 * SYN_RCVD, ESTABLISHED: the same SYN/ACK again (its ACK was lost).
 * CLOSED and the closing states: no place.
 */
	[EV_SND_SYNACK] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sIV, sSR, sSR, sRT, sRT, sIV, sIV, sIV, sIV, sIV, sIV},
/*
 * Sends an ACK (data or not).
 * SYN_SENT -> ESTABLISHED: it acks the peer's SYN, which it can only have
 * had by a SYN/ACK the observer never saw as acking (split handshake).
 * TIME_WAIT: the final ACK again, for a retransmitted FIN.
 * CLOSED, LISTEN: an endpoint without a connection sends no ACK.
 * Everything else: data flows, nothing moves (half-close included).
 */
	[EV_SND_ACK] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sIV, sIV, sES, sNO, sNO, sNO, sNO, sNO, sNO, sNO, sRT},
/*
 * Sends a FIN.
 * ESTABLISHED -> FIN_WAIT_1: the active close.
 * SYN_RCVD -> FIN_WAIT_1: a close before the handshake completed.
 * CLOSE_WAIT -> LAST_ACK: the passive close, after the peer's FIN.
 * FIN_WAIT_1 and later: the same FIN again.
 */
	[EV_SND_FIN] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sIV, sIV, sIV, sF1, sF1, sRT, sRT, sLA, sRT, sRT, sRT},
/*
 * Sends a FIN whose ack does not cover the peer's FIN: the two FINs
 * crossed (simultaneous close).
 * CLOSE_WAIT -> CLOSING: it was taken to have the peer's FIN when that FIN
 * was seen; its own FIN shows it closed first and now waits for its ACK.
 * The other cells are those of an ordinary FIN.
 */
	[EV_SND_FIN_CROSSED] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sIV, sIV, sIV, sF1, sF1, sRT, sRT, sCG, sRT, sRT, sRT},
/*
 * Sends an acceptable RST: it aborts.
 * LISTEN: the port was closed all along (a refused SYN): quietly CLOSED.
 * SYN_SENT .. LAST_ACK -> CLOSED: an abort.
 * CLOSED, TIME_WAIT: a reset from no connection changes nothing.
 */
	[EV_SND_RST] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sQC, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sNO},
/*
 * Sends a RST that answers the SYN/ACK it was just sent and the observer
 * refused too: one whose ack is not its ISN + 1 (RFC 793: "send a reset
 * <SEQ=SEG.ACK><CTL=RST> and discard the segment") or whose timestamp
 * echo is none of its SYNs' (RFC 7323 PAWS; Linux counts it as
 * PAWSActiveRejected).
 * SYN_SENT: it stays, waiting for an acceptable SYN/ACK.
 * Only a SYN_SENT end is ever sent such a SYN/ACK; the other cells are
 * those of an ordinary RST.
 */
	[EV_SND_RST_REFUSAL] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sQC, sNO, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sNO},
/*
 * Is sent a SYN/ACK that acks its SYN (the ack was checked).
 * SYN_SENT -> ESTABLISHED: the second step of the three-way handshake.
 * SYN_RCVD -> ESTABLISHED: simultaneous open, its own SYN/ACK went first.
 */
	[EV_RCV_SYNACK] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sES, sES, sNO, sNO, sNO, sNO, sNO, sNO, sNO},
/*
 * The same in a simultaneous open (it sent a SYN of its own).
 * SYN_SENT: no change yet; its own SYN/ACK will prove SYN_RCVD, or its
 * ACK will prove ESTABLISHED.
 * SYN_RCVD -> ESTABLISHED: both SYN/ACKs are out.
 */
	[EV_RCV_SYNACK_SIM] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sNO, sES, sNO, sNO, sNO, sNO, sNO, sNO, sNO},
/*
 * Is sent the ACK of its SYN or of its FIN.
 * SYN_RCVD -> ESTABLISHED: the third step of the handshake (or any later
 * segment that acks the SYN when the third ACK was lost).
 * FIN_WAIT_1 -> FIN_WAIT_2: its FIN is acked, the peer may still send.
 * CLOSING -> TIME_WAIT: its FIN is acked after the FINs crossed.
 * LAST_ACK -> CLOSED: the last ACK of the four-way close.
 */
	[EV_RCV_ACK] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sNO, sES, sNO, sF2, sNO, sNO, sTW, sCL, sNO},
/*
 * Is sent a FIN that does not ack its own SYN or FIN.
 * ESTABLISHED -> CLOSE_WAIT: the peer closed first.
 * FIN_WAIT_1 -> CLOSING: the FINs crossed (simultaneous close).
 * FIN_WAIT_2 -> TIME_WAIT: the peer's FIN after the ACK of ours.
 * Elsewhere the FIN is one it already had.
 */
	[EV_RCV_FIN] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sNO, sNO, sCW, sCG, sTW, sNO, sNO, sNO, sNO},
/*
 * Is sent a FIN that also acks its SYN or FIN.
 * SYN_RCVD: never looked up here: such a FIN is taken as the ACK that
 * completes the handshake (RCV_ACK), then as a FIN (RCV_FIN), in the order
 * RFC 793 processes a segment's ACK and FIN bits.
 * FIN_WAIT_1 -> TIME_WAIT: the peer's FIN came with the ACK of ours.
 * FIN_WAIT_2 -> TIME_WAIT: the peer's FIN, ours acked before.
 * CLOSING -> TIME_WAIT: a retransmitted FIN that carries the ACK of ours.
 * LAST_ACK -> CLOSED: the same, seen from the other side.
 */
	[EV_RCV_FINACK] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sNO, sNO, sCW, sTW, sTW, sNO, sTW, sCL, sNO},
/*
 * Is sent an acceptable RST.
 * SYN_SENT -> CLOSED: its SYN was refused.
 * SYN_RCVD .. LAST_ACK -> CLOSED: the peer aborted.
 * TIME_WAIT -> CLOSED: Linux lets a RST end TIME_WAIT (no RFC 1337).
 * CLOSED, LISTEN: nothing to reset.
 */
	[EV_RCV_RST] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
/*
 * The 2MSL timer.
 * TIME_WAIT -> CLOSED: nothing old can still be in flight.
 */
	[EV_TIMER] =
	/*	 sCL  sLI  sSS  sSR  sES  sF1  sF2  sCW  sCG  sLA  sTW */
		{sNO, sNO, sNO, sNO, sNO, sNO, sNO, sNO, sNO, sNO, sCL},
};

/* The sender's row for each class. */
static const u8 snd_event_of[] = {
	[C_INVALID] = EV_NONE,
	[C_SYN] = EV_SND_SYN,
	[C_SYNACK] = EV_SND_SYNACK,
	[C_ACK] = EV_SND_ACK,
	[C_FIN] = EV_SND_FIN,
	[C_RST] = EV_SND_RST,
};

/* History letters: upper case for the client, lower for the server. */
enum hist_letter { H_SYN, H_SYNACK, H_ACK, H_DATA, H_FIN, H_RST, H_RETRANS,
		   NR_LETTERS };
static const char hist_upper[NR_LETTERS] = "SHADFRT";
static_assert(NR_LETTERS == TCPSTATE_HISTORY_LETTERS,
	      "fsm.h's tcpstate_fsm_sent() reads the letters' layout");
static_assert(2 * NR_LETTERS == TCPSTATE_REUSE_SHIFT,
	      "the reuse bits sit just above both sides' letters");

static bool seq_before(u32 a, u32 b)
{
	return (s32)(a - b) < 0;
}

/* a <= x <= b in sequence space */
static bool seq_between(u32 x, u32 a, u32 b)
{
	return !seq_before(x, a) && !seq_before(b, x);
}

void tcpstate_fsm_init(struct tcpstate_fsm *f)
{
	*f = (struct tcpstate_fsm){ 0 };
	f->end[TCPSTATE_CLIENT].state = TCPSTATE_CLOSED;
	f->end[TCPSTATE_SERVER].state = TCPSTATE_LISTEN;
	f->end[TCPSTATE_CLIENT].wscale = TCPSTATE_WSCALE_NONE;
	f->end[TCPSTATE_SERVER].wscale = TCPSTATE_WSCALE_NONE;
}

bool tcpstate_fsm_opens(const struct tcpstate_seg *s)
{
	u8 c = seg_class_of[s->flags & 0x3f];

	return c != C_INVALID && c != C_RST;
}

/* CLOSED, or a LISTEN that never took part in this connection. */
static bool ended(u8 state)
{
	return state == TCPSTATE_CLOSED || state == TCPSTATE_LISTEN;
}

bool tcpstate_fsm_finished(const struct tcpstate_fsm *f)
{
	return (f->flags & TCPSTATE_F_STARTED) &&
	       ended(f->end[0].state) && ended(f->end[1].state);
}

static bool synchronized(u8 state)
{
	return state >= TCPSTATE_ESTABLISHED;
}

/* Record one state change of @side, if it is one. */
static void fsm_move(struct tcpstate_fsm *f, struct tcpstate_result *r,
		     u8 side, u8 next, u32 now_us)
{
	struct tcpstate_end *e = &f->end[side];

	if (next == e->state)
		return;
	if (r->nr < TCPSTATE_MAX_TRANS) {
		r->trans[r->nr].side = side;
		r->trans[r->nr].old_state = e->state;
		r->trans[r->nr].new_state = next;
		r->nr++;
	}
	if (next == TCPSTATE_TIME_WAIT &&
	    f->end[!side].state != TCPSTATE_TIME_WAIT)
		f->mark_us = now_us;
	e->state = next;
}

/*
 * Apply one table row to @side.  Returns the cell when it is not a state
 * (sNO, sRT, sIV, sQC), so the caller can count it.
 */
static __always_inline u8 fsm_apply(struct tcpstate_fsm *f,
				     struct tcpstate_result *r,
				     u8 side, u8 ev, u32 now_us)
{
	u8 cell;

	if (ev >= NR_EVENTS)
		return sNO;
	cell = fsm_table[ev][f->end[side].state];
	if (cell < TCPSTATE_NR_STATES) {
		fsm_move(f, r, side, cell, now_us);
		return sNO;
	}
	if (cell == sQC)
		f->end[side].state = TCPSTATE_CLOSED;
	return cell;
}

/*
 * How many letters @history holds.  Their codes are 1 .. 14, never 0, and
 * each is appended in the lowest free nibble, so the held ones fill the
 * low nibbles without a gap and the highest bit set counts them.
 */
static unsigned int history_len(u64 history)
{
	return history ? (67 - __builtin_clzll(history)) / 4 : 0;
}

/*
 * Append a letter the first time it occurs.  Each of the 14 letters is
 * recorded once, so the 16 nibbles never overflow.
 */
static void history_add(struct tcpstate_fsm *f, u8 side, u8 letter)
{
	u8 code = 1 + letter + side * NR_LETTERS;	/* 1 .. 14 */
	u16 bit = 1u << (code - 1);

	if (f->seen & bit)
		return;
	f->history |= (u64)code << (4 * history_len(f->history));
	f->seen |= bit;
}

/* @len: the payload that counts as data (a keep-alive's byte does not) */
static __always_inline void history_note(struct tcpstate_fsm *f, u8 side,
					  u8 cls, u32 len, bool retrans)
{
	switch (cls) {
	case C_SYN:
		history_add(f, side, H_SYN);
		if (len)	/* TCP Fast Open */
			history_add(f, side, H_DATA);
		break;
	case C_SYNACK:
		history_add(f, side, H_SYNACK);
		if (len)
			history_add(f, side, H_DATA);
		break;
	case C_ACK:
		history_add(f, side, len ? H_DATA : H_ACK);
		break;
	case C_FIN:
		if (len)
			history_add(f, side, H_DATA);
		history_add(f, side, H_FIN);
		break;
	case C_RST:
		history_add(f, side, H_RST);
		break;
	}
	if (retrans)
		history_add(f, side, H_RETRANS);
}

/*
 * The receiver's window: scaled only if both SYNs offered scaling, and
 * never while the last window it sent was its SYN's.
 */
static u32 rcv_window(const struct tcpstate_end *snd,
		      const struct tcpstate_end *rcv)
{
	u32 shift = 0;

	if (rcv->state > TCPSTATE_SYN_RCVD &&
	    snd->wscale != TCPSTATE_WSCALE_NONE &&
	    rcv->wscale != TCPSTATE_WSCALE_NONE)
		shift = rcv->wscale > 14 ? 14 : rcv->wscale;
	return (u32)rcv->win << shift;
}

/* @seq is what the sender was to send next, give or take the window. */
static bool in_window(u32 seq, const struct tcpstate_end *snd,
		      const struct tcpstate_end *rcv)
{
	s32 d = (s32)(seq - snd->nxt);
	u32 win;

	if (!d)
		return true;
	win = rcv_window(snd, rcv);
	if (win > 0x7fffffff)
		win = 0x7fffffff;
	/* The distance in u32: -d overflows for d == S32_MIN. */
	return (d < 0 ? 0u - (u32)d : (u32)d) < win;
}

/*
 * A RST counts when it answers the receiver's SYN (its ack is ISN + 1),
 * when it aborts the sender's own SYN, or when its seq falls in the
 * receiver's window around what the sender was to send next.  An end in
 * TIME_WAIT has had everything the sender sent, its FIN last, so there,
 * as in Linux's timewait code, only the very next seq counts: an RST
 * that answers an old segment of its own (seq = that segment's ack)
 * leaves TIME_WAIT alone.
 */
static bool rst_acceptable(const struct tcpstate_seg *s,
			   const struct tcpstate_end *snd,
			   const struct tcpstate_end *rcv)
{
	if (rcv->state == TCPSTATE_SYN_SENT)
		return (s->flags & TCPSTATE_TCP_ACK) && s->ack == rcv->isn + 1;
	if (snd->state == TCPSTATE_SYN_SENT)
		return seq_between(s->seq, snd->isn, snd->nxt);
	if (rcv->state == TCPSTATE_TIME_WAIT)
		return s->seq == snd->nxt;
	return in_window(s->seq, snd, rcv);
}

/* The ack covers the receiver's SYN or FIN, which is what it waits for. */
static __always_inline bool acks_receiver(const struct tcpstate_seg *s,
					  const struct tcpstate_end *rcv)
{
	if (!(s->flags & TCPSTATE_TCP_ACK))
		return false;
	switch (rcv->state) {
	case TCPSTATE_SYN_RCVD:
		return seq_between(s->ack, rcv->isn + 1, rcv->nxt);
	case TCPSTATE_FIN_WAIT_1:
	case TCPSTATE_FIN_WAIT_2:
	case TCPSTATE_CLOSING:
	case TCPSTATE_LAST_ACK:
	case TCPSTATE_TIME_WAIT:
		return s->ack == rcv->nxt;
	default:
		return false;
	}
}

/*
 * The segment acks what the receiver has not sent: RFC 793 (and Linux's
 * tcp_ack()) drop it whole, FIN and data with it.  Judged only where the
 * observer saw every segment of the receiver since its SYN; a picked-up
 * flow may have missed some.
 */
static bool acks_unsent(const struct tcpstate_fsm *f,
			const struct tcpstate_seg *s,
			const struct tcpstate_end *rcv)
{
	return !(f->flags & TCPSTATE_F_PICKUP) &&
	       (s->flags & TCPSTATE_TCP_ACK) && synchronized(rcv->state) &&
	       seq_before(rcv->nxt, s->ack);
}

/*
 * The checks the textbooks teach.  Returns a verdict other than OK when
 * the segment must change nothing.
 */
static u8 fsm_check(const struct tcpstate_fsm *f, const struct tcpstate_seg *s,
		    u8 cls, const struct tcpstate_end *snd,
		    const struct tcpstate_end *rcv)
{
	switch (cls) {
	case C_SYNACK:
		/*
		 * It must answer a SYN, and ack that SYN's ISN + 1; with TCP
		 * Fast Open, also the data the SYN carried, if it took it.
		 */
		if (rcv->state == TCPSTATE_CLOSED ||
		    rcv->state == TCPSTATE_LISTEN)
			return TCPSTATE_V_UNEXPECTED;
		if (!seq_between(s->ack, rcv->isn + 1, rcv->nxt))
			return TCPSTATE_V_BAD_ACK;
		/*
		 * RFC 7323 PAWS on the handshake: the echo must be the TSval
		 * of one of the SYNs the listener still keeps (fsm.h).  An
		 * echo of 0 is not checked, as in Linux.
		 */
		if (snd->state == TCPSTATE_LISTEN && snd->isn && s->tsecr &&
		    !seq_between(s->tsecr, snd->isn, snd->nxt))
			return TCPSTATE_V_BAD_ACK;
		break;
	case C_ACK:
	case C_FIN:
		/* Acking the peer's SYN from SYN_SENT needs that SYN. */
		if (snd->state == TCPSTATE_SYN_SENT &&
		    (rcv->state == TCPSTATE_LISTEN ||
		     rcv->state == TCPSTATE_CLOSED ||
		     !seq_between(s->ack, rcv->isn + 1, rcv->nxt)))
			return TCPSTATE_V_BAD_ACK;
		/*
		 * Whatever reaches SYN_RCVD must ack its SYN, and from
		 * inside its window: only then is it the third step.
		 */
		if (rcv->state == TCPSTATE_SYN_RCVD && !acks_receiver(s, rcv))
			return TCPSTATE_V_BAD_ACK;
		if (rcv->state == TCPSTATE_SYN_RCVD &&
		    !in_window(s->seq, snd, rcv))
			return TCPSTATE_V_BAD_SEQ;
		if (acks_unsent(f, s, rcv))
			return TCPSTATE_V_BAD_ACK;
		break;
	case C_RST:
		if (!rst_acceptable(s, snd, rcv))
			return TCPSTATE_V_BAD_RST;
		break;
	}
	return TCPSTATE_V_OK;
}

/*
 * The states an end sends keep-alive probes in.  Linux's
 * tcp_keepalive_timer() probes only when nothing it sent is unacked, so
 * never with its FIN in flight (FIN_WAIT_1, CLOSING, LAST_ACK), nor before
 * the handshake is done; ESTABLISHED, CLOSE_WAIT and a FIN_WAIT_2 whose
 * socket is still open are left.  The peer must still hold the connection:
 * synchronized, and not in TIME_WAIT.
 */
#define KA_STATES	((1u << TCPSTATE_ESTABLISHED) |			\
			 (1u << TCPSTATE_FIN_WAIT_2) |			\
			 (1u << TCPSTATE_CLOSE_WAIT))

/*
 * A keep-alive probe, from its header and the two ends (fsm.h,
 * TCPSTATE_N_KA_PROBE): an ACK of at most one byte that starts one below
 * what the sender is to send next, so that it carries nothing new.
 */
static bool ka_probe(const struct tcpstate_seg *s, u8 cls,
		     const struct tcpstate_end *snd,
		     const struct tcpstate_end *rcv)
{
	return cls == C_ACK && s->len <= 1 && s->seq + 1 == snd->nxt &&
	       ((1u << snd->state) & KA_STATES) &&
	       synchronized(rcv->state) && rcv->state != TCPSTATE_TIME_WAIT;
}

/*
 * The answer to an outstanding probe of the receiver (TCPSTATE_N_KA_ACK):
 * a pure ACK that repeats what the sender said last, nothing sent, all of
 * the prober's segments acked, the same window.
 */
static bool ka_answer(const struct tcpstate_seg *s, u8 cls,
		      const struct tcpstate_end *snd,
		      const struct tcpstate_end *rcv)
{
	return cls == C_ACK && !s->len && s->seq == snd->nxt &&
	       s->ack == rcv->nxt && s->win && s->win == snd->win;
}

/*
 * A RST from @snd closes the connection: what it says about keep-alive,
 * given the probes that were outstanding (@probing, TCPSTATE_P_PROBE).
 */
static u16 ka_reset(u8 probing, u8 snd)
{
	if (probing & TCPSTATE_P_PROBE(snd))
		return TCPSTATE_N_KA_GAVEUP;
	if (probing & TCPSTATE_P_PROBE(!snd))
		return TCPSTATE_N_KA_RESET;
	return 0;
}

/*
 * Track what the sender has sent: its ISN, next seq and window.  Inlined
 * into both callers (fsm_step(), fsm_open()), each of which knows @cls.
 */
static __always_inline void track_sender(struct tcpstate_end *e,
					 const struct tcpstate_seg *s, u8 cls)
{
	u32 end;

	if (cls == C_RST)
		return;
	e->win = s->win;
	if (cls == C_SYN || cls == C_SYNACK) {
		/*
		 * A FIN on a SYN/ACK was sent too, if not taken.  Another
		 * SYN with the same ISN (a retransmission, or a simultaneous
		 * open's SYN/ACK) may carry less data than the first, which
		 * a Fast Open peer may still ack: keep the furthest end.
		 */
		end = s->seq + 1 + s->len + (s->flags & TCPSTATE_TCP_FIN ? 1 : 0);
		if (e->state <= TCPSTATE_LISTEN || e->isn != s->seq ||
		    !e->nxt || seq_before(e->nxt, end)) {
			e->isn = s->seq;
			e->nxt = end;
		}
		e->wscale = s->wscale;
		return;
	}
	end = s->seq + s->len + (cls == C_FIN ? 1 : 0);
	if (seq_before(e->nxt, end))
		e->nxt = end;
}

/*
 * A finished flow sees a SYN again: finish the old generation (TIME_WAIT
 * ends close now) and start over with the SYN's sender as the client.
 */
static void fsm_new_generation(struct tcpstate_fsm *f,
			       const struct tcpstate_seg *s, u32 now_us,
			       struct tcpstate_result *r)
{
	u8 snd = tcpstate_fsm_side(f, s->end), rcv = !snd;
	u16 reuse = 0;
	int side;

	/*
	 * What a TIME_WAIT end had received from the SYN's sender is all
	 * the sender had sent: its next seq.  (Roles are the old ones.)
	 */
	if (f->end[rcv].state == TCPSTATE_TIME_WAIT)
		reuse = seq_before(f->end[snd].nxt, s->seq) ?
			TCPSTATE_REUSE_SEQ : TCPSTATE_REUSE_TS;
	else if (f->end[snd].state == TCPSTATE_TIME_WAIT)
		reuse = TCPSTATE_REUSE_OWN;
	for (side = 0; side < 2; side++)
		if (f->end[side].state == TCPSTATE_TIME_WAIT)
			fsm_move(f, r, side, TCPSTATE_CLOSED, now_us);
	tcpstate_fsm_init(f);
	f->flags = TCPSTATE_F_STARTED | TCPSTATE_F_REUSED |
		   (s->end ? TCPSTATE_F_CLIENT_B : 0);
	f->seen = reuse << TCPSTATE_REUSE_SHIFT;
	r->notes |= TCPSTATE_N_NEWGEN;
}

/* Nothing left of the connection but TIME_WAIT: a SYN may start anew. */
static bool generation_over(const struct tcpstate_fsm *f)
{
	u8 a = f->end[0].state, b = f->end[1].state;

	return (ended(a) || a == TCPSTATE_TIME_WAIT) &&
	       (ended(b) || b == TCPSTATE_TIME_WAIT);
}

/*
 * The first segment of a flow.  A SYN makes its sender the client.  A
 * SYN/ACK makes its sender the server and implies the SYN the observer
 * missed.  Anything else is a pickup in mid-stream: both ends become
 * ESTABLISHED and the lower, listener-like port is guessed the server.
 */
static bool fsm_start(struct tcpstate_fsm *f, const struct tcpstate_seg *s,
		      u8 cls, u32 now_us, struct tcpstate_result *r)
{
	bool sender_is_client;
	u8 snd, rcv;

	switch (cls) {
	case C_SYN:
		sender_is_client = true;
		break;
	case C_SYNACK:
		sender_is_client = false;
		break;
	case C_ACK:
	case C_FIN:
		sender_is_client = s->sport >= s->dport;
		f->flags |= TCPSTATE_F_PICKUP | TCPSTATE_F_GUESSED;
		r->notes |= TCPSTATE_N_PICKUP;
		break;
	default:
		r->verdict = TCPSTATE_V_UNEXPECTED;
		return false;
	}
	f->flags |= TCPSTATE_F_STARTED;
	if (sender_is_client == !!(s->end & 1))
		f->flags |= TCPSTATE_F_CLIENT_B;
	snd = tcpstate_fsm_side(f, s->end);
	rcv = !snd;

	if (cls == C_SYNACK) {
		/* The SYN it answers: seq ack - 1 from the client. */
		f->flags |= TCPSTATE_F_PICKUP;
		r->notes |= TCPSTATE_N_PICKUP;
		f->end[rcv].isn = s->ack - 1;
		f->end[rcv].nxt = s->ack;
		fsm_move(f, r, rcv, TCPSTATE_SYN_SENT, now_us);
		f->mark_us = now_us;
	} else if (cls != C_SYN) {
		f->end[snd].nxt = s->seq;
		f->end[snd].win = s->win;
		f->end[rcv].nxt = s->ack;
		fsm_move(f, r, TCPSTATE_CLIENT, TCPSTATE_ESTABLISHED, now_us);
		fsm_move(f, r, TCPSTATE_SERVER, TCPSTATE_ESTABLISHED, now_us);
	}
	return true;
}

/*
 * Microseconds from @then_us to @now_us, on a clock that wraps: a signed
 * difference, so that a @now_us read a moment before @then_us (on another
 * CPU, or by a caller preempted between its clock read and its step) is
 * "no time at all", never 71 minutes.
 */
static u32 since(u32 now_us, u32 then_us)
{
	s32 d = (s32)(now_us - then_us);

	return d > 0 ? (u32)d : 0;
}

/* A measured interval: since(), and never 0, which means "not measured". */
static u32 elapsed(u32 now_us, u32 then_us)
{
	u32 d = since(now_us, then_us);

	return d ? d : 1;
}

/*
 * The full path.  Not inlined: inlined, it makes the compiler save and
 * set up for it in tcpstate_fsm_step() before the fast path has even
 * looked at the segment.
 */
static TCPSTATE_NOINLINE void
fsm_step(struct tcpstate_fsm *f, const struct tcpstate_seg *s, u32 now_us,
	 struct tcpstate_result *r)
{
	struct tcpstate_end *snd_end, *rcv_end;
	bool was_synced, was_finished, refusal, probe;
	u8 cls, snd, rcv, ev, cell, old_snd, old_rcv, probing;

	cls = seg_class_of[s->flags & 0x3f];

	if (cls == C_INVALID) {
		r->verdict = TCPSTATE_V_BAD_FLAGS;
		return;
	}
	if (!(f->flags & TCPSTATE_F_STARTED)) {
		if (!fsm_start(f, s, cls, now_us, r))
			return;
	} else if (cls == C_SYN && generation_over(f)) {
		fsm_new_generation(f, s, now_us, r);
	}

	snd = tcpstate_fsm_side(f, s->end);
	rcv = !snd;
	snd_end = &f->end[snd];
	rcv_end = &f->end[rcv];
	probe = ka_probe(s, cls, snd_end, rcv_end);
	history_note(f, snd, cls, probe ? 0 : s->len, false);

	r->verdict = fsm_check(f, s, cls, snd_end, rcv_end);
	if (r->verdict != TCPSTATE_V_OK) {
		if (cls == C_SYNACK && r->verdict == TCPSTATE_V_BAD_ACK &&
		    rcv_end->state == TCPSTATE_SYN_SENT)
			f->pending = (f->pending & ~TCPSTATE_P_REFUSALS) |
				     TCPSTATE_P_REFUSED(rcv);
		return;
	}
	refusal = cls == C_RST && (f->pending & TCPSTATE_P_REFUSED(snd));
	f->pending &= ~TCPSTATE_P_REFUSALS;

	was_synced = synchronized(f->end[0].state) &&
		     synchronized(f->end[1].state);
	was_finished = tcpstate_fsm_finished(f);
	old_snd = snd_end->state;
	old_rcv = rcv_end->state;

	/* The sender: what sending this segment proves about it. */
	ev = snd_event_of[cls];
	if (cls == C_FIN && snd_end->state == TCPSTATE_CLOSE_WAIT &&
	    s->ack != rcv_end->nxt)
		ev = EV_SND_FIN_CROSSED;
	if (refusal)
		ev = EV_SND_RST_REFUSAL;
	cell = fsm_table[ev][snd_end->state];
	if (cell == sIV) {
		r->verdict = TCPSTATE_V_UNEXPECTED;
		return;
	}
	/*
	 * Keep-alive: whatever the machine takes ends the wait for an answer
	 * (from the prober it is news, from the peer a sign of life); a probe
	 * starts one.  The rest of the step treats a probe as the ACK it is:
	 * its byte is below the sender's next seq, which it leaves alone.
	 */
	probing = f->pending;
	f->pending &= ~TCPSTATE_P_WAITING;
	if (probe) {
		f->pending |= TCPSTATE_P_PROBE(snd);
		if (tcpstate_fsm_keepalives(f) < TCPSTATE_KEEPALIVES_MAX)
			f->pending += TCPSTATE_P_KA_ONE;
		r->notes |= TCPSTATE_N_KA_PROBE;
	} else if ((probing & TCPSTATE_P_PROBE(rcv)) &&
		 ka_answer(s, cls, snd_end, rcv_end))
		r->notes |= TCPSTATE_N_KA_ACK;
	track_sender(snd_end, s, cls);
	fsm_apply(f, r, snd, ev, now_us);
	/*
	 * What else the segment's class says about the sender, then the
	 * receiver's row: what being sent this segment proves about it.
	 */
	switch (cls) {
	case C_SYN:
		/* The listener keeps the SYNs' TSvals for the SYN/ACK's check. */
		if (rcv_end->state == TCPSTATE_LISTEN) {
			if (old_snd != TCPSTATE_SYN_SENT)
				rcv_end->isn = s->tsval;
			rcv_end->nxt = s->tsval;
		}
		/* The handshake's clock: from the last SYN, the answered one. */
		if (snd == TCPSTATE_CLIENT &&
		    (old_snd == TCPSTATE_CLOSED || cell == sRT))
			f->mark_us = now_us;
		if (old_snd == TCPSTATE_LISTEN) {
			f->flags |= TCPSTATE_F_SIMOPEN;
			r->notes |= TCPSTATE_N_SIMOPEN;
		}
		ev = EV_NONE;
		break;
	case C_SYNACK:
		if (old_snd == TCPSTATE_LISTEN &&
		    !(f->flags & TCPSTATE_F_PICKUP))
			f->rtt_syn_us = elapsed(now_us, f->mark_us);
		if (old_snd != snd_end->state)
			f->mark_us = now_us;
		/* Simultaneous open: the peer's SYN/ACK already acked our SYN. */
		if (old_snd == TCPSTATE_SYN_SENT &&
		    (f->seen & (1u << (H_SYNACK + rcv * NR_LETTERS))))
			fsm_apply(f, r, snd, EV_RCV_SYNACK_SIM, now_us);
		ev = (f->flags & TCPSTATE_F_SIMOPEN) ?
		     EV_RCV_SYNACK_SIM : EV_RCV_SYNACK;
		break;
	case C_ACK:
		ev = acks_receiver(s, rcv_end) ? EV_RCV_ACK : EV_NONE;
		break;
	case C_FIN:
		if (ev == EV_SND_FIN_CROSSED && old_snd == TCPSTATE_CLOSE_WAIT) {
			f->flags |= TCPSTATE_F_SIMCLOSE;
			r->notes |= TCPSTATE_N_SIMCLOSE;
		}
		ev = acks_receiver(s, rcv_end) ? EV_RCV_FINACK : EV_RCV_FIN;
		if (ev == EV_RCV_FINACK &&
		    rcv_end->state == TCPSTATE_SYN_RCVD) {
			fsm_apply(f, r, rcv, EV_RCV_ACK, now_us);
			ev = EV_RCV_FIN;
		}
		/* A retransmitted FIN restarts TIME_WAIT's 2MSL. */
		if (rcv_end->state == TCPSTATE_TIME_WAIT)
			f->mark_us = now_us;
		break;
	case C_RST:
		ev = EV_RCV_RST;
		break;
	default:
		ev = EV_NONE;
		break;
	}
	if (ev != EV_NONE)
		fsm_apply(f, r, rcv, ev, now_us);

	/*
	 * The sender repeated itself (sRT): a retransmission, unless what it
	 * repeated moved the receiver, as the first final ACK does.
	 */
	if (cell == sRT && !r->nr)
		r->verdict = TCPSTATE_V_RETRANS;
	if (cls == C_RST) {
		if (old_snd == TCPSTATE_LISTEN &&
		    old_rcv == TCPSTATE_SYN_SENT)
			r->notes |= TCPSTATE_N_REFUSED;
		else if (r->nr)
			r->notes |= TCPSTATE_N_RESET | ka_reset(probing, snd);
		if (!refusal)
			f->flags |= TCPSTATE_F_RESET;
	}
	if (!was_synced && synchronized(f->end[0].state) &&
	    synchronized(f->end[1].state) &&
	    !(f->flags & TCPSTATE_F_PICKUP)) {
		r->notes |= TCPSTATE_N_HANDSHAKE;
		if (!(f->flags & TCPSTATE_F_SIMOPEN) && f->rtt_syn_us)
			f->rtt_ack_us = elapsed(now_us, f->mark_us);
	}
	if (!was_finished && tcpstate_fsm_finished(f))
		r->notes |= TCPSTATE_N_FINISHED;
	if (r->verdict == TCPSTATE_V_RETRANS)
		history_note(f, snd, C_INVALID, 0, true);
}

/*
 * Most segments are data or ACKs between two ESTABLISHED ends.  There the
 * table says "no change" for both and only one check can fail (an ack of
 * what was never sent, left to the full path), so only what the sender
 * has sent and the history are brought up to date.  Keep-alive is left
 * to the full path too: any segment while something is pending (a probe
 * awaits its answer), and an old segment that may be a probe (at most one
 * byte at the sender's next seq - 1); new data is not even compared.
 * Returns false, having changed nothing, when the segment needs the full
 * path.
 */
static __always_inline bool fsm_step_quiet(struct tcpstate_fsm *f,
					   const struct tcpstate_seg *s)
{
	u8 side = tcpstate_fsm_side(f, s->end);
	struct tcpstate_end *e = &f->end[side];
	u32 end = s->seq + s->len;
	u8 letter = s->len ? H_DATA : H_ACK;

	if (seg_class_of[s->flags & 0x3f] != C_ACK ||
	    f->end[0].state != TCPSTATE_ESTABLISHED ||
	    f->end[1].state != TCPSTATE_ESTABLISHED)
		return false;
	if (f->pending & TCPSTATE_P_WAITING)
		return false;
	/* acks_unsent(), knowing the segment has ACK and both are synced */
	if (!(f->flags & TCPSTATE_F_PICKUP) &&
	    seq_before(f->end[!side].nxt, s->ack))
		return false;
	/* new data costs nothing more; an old segment may be a probe */
	if (seq_before(e->nxt, end))
		e->nxt = end;
	else if (s->seq + 1 == e->nxt && s->len <= 1)
		return false;
	e->win = s->win;
	if (!(f->seen & (1u << (letter + side * NR_LETTERS))))
		history_add(f, side, letter);
	return true;
}

bool tcpstate_fsm_step_quiet(struct tcpstate_fsm *f,
			     const struct tcpstate_seg *s)
{
	return fsm_step_quiet(f, s);
}

/*
 * Most flows start with a SYN, and a SYN flood is nothing else.  On a
 * flow as tcpstate_fsm_init() left it, what fsm_step() does with a SYN is
 * fixed: fsm_start() makes the sender the client, no check applies to a
 * SYN, the client records what it sent (track_sender()) and takes the
 * table's row for sending a SYN (CLOSED -> SYN_SENT), the presumed
 * listener keeps the SYN's TSval for the SYN/ACK's echo, the handshake's
 * clock starts, the receiver has no event, and nothing is noted (no
 * handshake yet; "finished" is noted only for a flow that was not, and a
 * flow that has only started counts as finished).  So that is all
 * fsm_open() does, for a segment fsm_first_syn() picks: the same helpers
 * and the same table, without the dispatch.  tests/unit and tests/fuzz
 * compare it with fsm_step().
 */
static bool fsm_first_syn(const struct tcpstate_fsm *f,
			  const struct tcpstate_seg *s)
{
	return !f->flags && !f->pending &&
	       f->end[TCPSTATE_CLIENT].state == TCPSTATE_CLOSED &&
	       f->end[TCPSTATE_SERVER].state == TCPSTATE_LISTEN &&
	       seg_class_of[s->flags & 0x3f] == C_SYN;
}

/* Out of line, so that the other segments' paths do not carry it. */
static TCPSTATE_NOINLINE void fsm_open(struct tcpstate_fsm *f,
				       const struct tcpstate_seg *s,
				       u32 now_us, struct tcpstate_result *r)
{
	struct tcpstate_end *l = &f->end[TCPSTATE_SERVER];

	f->flags = TCPSTATE_F_STARTED | (s->end & 1 ? TCPSTATE_F_CLIENT_B : 0);
	history_note(f, TCPSTATE_CLIENT, C_SYN, s->len, false);
	track_sender(&f->end[TCPSTATE_CLIENT], s, C_SYN);
	fsm_apply(f, r, TCPSTATE_CLIENT, EV_SND_SYN, now_us);
	l->isn = s->tsval;
	l->nxt = s->tsval;
	f->mark_us = now_us;
}

void tcpstate_fsm_step_full(struct tcpstate_fsm *f,
			    const struct tcpstate_seg *s, u32 now_us,
			    struct tcpstate_result *r)
{
	r->verdict = TCPSTATE_V_OK;
	r->nr = 0;
	r->notes = 0;
	if (fsm_first_syn(f, s))
		fsm_open(f, s, now_us, r);
	else
		fsm_step(f, s, now_us, r);
}

void tcpstate_fsm_step(struct tcpstate_fsm *f, const struct tcpstate_seg *s,
		       u32 now_us, struct tcpstate_result *r)
{
	r->verdict = TCPSTATE_V_OK;
	r->nr = 0;
	r->notes = 0;
	if (fsm_step_quiet(f, s))
		return;
	if (fsm_first_syn(f, s))
		fsm_open(f, s, now_us, r);
	else
		fsm_step(f, s, now_us, r);
}

u32 tcpstate_fsm_time_wait_left(const struct tcpstate_fsm *f, u32 now_us,
				u32 time_wait_us)
{
	u32 gone;

	if (f->end[0].state != TCPSTATE_TIME_WAIT &&
	    f->end[1].state != TCPSTATE_TIME_WAIT)
		return TCPSTATE_FOREVER;
	gone = since(now_us, f->mark_us);
	return gone < time_wait_us ? time_wait_us - gone : 0;
}

int tcpstate_fsm_tick(struct tcpstate_fsm *f, u32 now_us, u32 time_wait_us,
		      struct tcpstate_result *r)
{
	int side;

	r->verdict = TCPSTATE_V_OK;
	r->nr = 0;
	r->notes = 0;
	if (f->end[0].state != TCPSTATE_TIME_WAIT &&
	    f->end[1].state != TCPSTATE_TIME_WAIT)
		return 0;
	if (since(now_us, f->mark_us) < time_wait_us)
		return 0;
	for (side = 0; side < 2; side++)
		fsm_apply(f, r, side, EV_TIMER, now_us);
	if (r->nr && tcpstate_fsm_finished(f))
		r->notes |= TCPSTATE_N_FINISHED;
	return r->nr;
}

int tcpstate_fsm_close(struct tcpstate_fsm *f, struct tcpstate_result *r)
{
	int side;

	r->verdict = TCPSTATE_V_OK;
	r->nr = 0;
	r->notes = 0;
	for (side = TCPSTATE_CLIENT; side <= TCPSTATE_SERVER; side++) {
		if (f->end[side].state == TCPSTATE_CLOSED)
			continue;
		r->trans[r->nr++] = (struct tcpstate_trans){
			side, f->end[side].state, TCPSTATE_CLOSED
		};
		f->end[side].state = TCPSTATE_CLOSED;
	}
	if (r->nr)
		r->notes |= TCPSTATE_N_FINISHED;
	return r->nr;
}

unsigned int tcpstate_state_idle(unsigned int state)
{
	switch (state) {
	case TCPSTATE_SYN_SENT:
	case TCPSTATE_SYN_RCVD:
		return TCPSTATE_IDLE_SYN;
	case TCPSTATE_ESTABLISHED:
		return TCPSTATE_IDLE_ESTABLISHED;
	case TCPSTATE_FIN_WAIT_1:
	case TCPSTATE_FIN_WAIT_2:
	case TCPSTATE_CLOSING:
		return TCPSTATE_IDLE_FIN_WAIT;
	case TCPSTATE_CLOSE_WAIT:
		return TCPSTATE_IDLE_CLOSE_WAIT;
	case TCPSTATE_LAST_ACK:
		return TCPSTATE_IDLE_LAST_ACK;
	case TCPSTATE_TIME_WAIT:
		return TCPSTATE_IDLE_NEVER;
	default:
		return TCPSTATE_IDLE_CLOSE;
	}
}

bool tcpstate_fsm_one_way(const struct tcpstate_fsm *f)
{
	return (f->flags & TCPSTATE_F_PICKUP) &&
	       (!tcpstate_fsm_sent(f, TCPSTATE_CLIENT) ||
		!tcpstate_fsm_sent(f, TCPSTATE_SERVER));
}

u32 tcpstate_fsm_idle_limit(const struct tcpstate_fsm *f,
			    const u32 timeouts[TCPSTATE_IDLE_NR])
{
	unsigned int c = tcpstate_state_idle(f->end[TCPSTATE_CLIENT].state);
	unsigned int s = tcpstate_state_idle(f->end[TCPSTATE_SERVER].state);

	if (tcpstate_fsm_finished(f) || c == TCPSTATE_IDLE_NEVER ||
	    s == TCPSTATE_IDLE_NEVER)
		return TCPSTATE_FOREVER;
	if (tcpstate_fsm_one_way(f))
		c = s = TCPSTATE_IDLE_SYN;
	return timeouts[c] > timeouts[s] ? timeouts[c] : timeouts[s];
}

bool tcpstate_fsm_idle_expired(const struct tcpstate_fsm *f, u32 idle,
			       const u32 timeouts[TCPSTATE_IDLE_NR])
{
	u32 limit = tcpstate_fsm_idle_limit(f, timeouts);

	return limit != TCPSTATE_FOREVER && idle >= limit;
}

unsigned int tcpstate_fsm_evict_class(const struct tcpstate_fsm *f)
{
	u8 c = f->end[TCPSTATE_CLIENT].state;
	u8 s = f->end[TCPSTATE_SERVER].state;

	if (c == TCPSTATE_CLOSED && s == TCPSTATE_CLOSED)
		return 0;
	if (tcpstate_fsm_one_way(f))
		return 1;
	if (c == TCPSTATE_CLOSED || s == TCPSTATE_CLOSED ||
	    c == TCPSTATE_TIME_WAIT || s == TCPSTATE_TIME_WAIT ||
	    c == TCPSTATE_CLOSING || s == TCPSTATE_CLOSING ||
	    c == TCPSTATE_LAST_ACK || s == TCPSTATE_LAST_ACK)
		return 2;
	if (c == TCPSTATE_SYN_SENT || c == TCPSTATE_SYN_RCVD ||
	    s == TCPSTATE_SYN_RCVD || s == TCPSTATE_LISTEN)
		return 3;
	return TCPSTATE_EVICT_NEVER;
}

static const char *const state_names[TCPSTATE_NR_STATES] = {
	[TCPSTATE_CLOSED] = "CLOSED",
	[TCPSTATE_LISTEN] = "LISTEN",
	[TCPSTATE_SYN_SENT] = "SYN_SENT",
	[TCPSTATE_SYN_RCVD] = "SYN_RCVD",
	[TCPSTATE_ESTABLISHED] = "ESTABLISHED",
	[TCPSTATE_FIN_WAIT_1] = "FIN_WAIT_1",
	[TCPSTATE_FIN_WAIT_2] = "FIN_WAIT_2",
	[TCPSTATE_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCPSTATE_CLOSING] = "CLOSING",
	[TCPSTATE_LAST_ACK] = "LAST_ACK",
	[TCPSTATE_TIME_WAIT] = "TIME_WAIT",
};

const char *tcpstate_state_name(unsigned int state)
{
	return state < TCPSTATE_NR_STATES ? state_names[state] : "?";
}

const char *tcpstate_side_name(unsigned int side)
{
	return side == TCPSTATE_CLIENT ? "client" :
	       side == TCPSTATE_SERVER ? "server" : "?";
}

static const char *const verdict_names[TCPSTATE_V_NR] = {
	[TCPSTATE_V_OK] = "ok",
	[TCPSTATE_V_RETRANS] = "retransmission",
	[TCPSTATE_V_BAD_FLAGS] = "bad_flags",
	[TCPSTATE_V_BAD_ACK] = "bad_ack",
	[TCPSTATE_V_BAD_RST] = "bad_rst",
	[TCPSTATE_V_BAD_SEQ] = "bad_seq",
	[TCPSTATE_V_UNEXPECTED] = "unexpected",
};

const char *tcpstate_verdict_name(unsigned int verdict)
{
	return verdict < TCPSTATE_V_NR ? verdict_names[verdict] : "?";
}

static const char *const reason_names[TCPSTATE_REASON_NR] = {
	[TCPSTATE_REASON_SEGMENT] = "segment",
	[TCPSTATE_REASON_TIMER] = "timer",
	[TCPSTATE_REASON_EVICT] = "evict",
	[TCPSTATE_REASON_UNLOAD] = "unload",
	[TCPSTATE_REASON_RETRANSMIT] = "retransmit",
	[TCPSTATE_REASON_KEEPALIVE] = "keepalive",
	[TCPSTATE_REASON_KEEPALIVE_ACK] = "keepalive_ack",
};

const char *tcpstate_reason_name(unsigned int reason)
{
	return reason < TCPSTATE_REASON_NR ? reason_names[reason] : NULL;
}

static const char *const ka_end_names[TCPSTATE_KA_END_NR] = {
	[TCPSTATE_KA_END_PEER_RESET] = "peer_reset",
	[TCPSTATE_KA_END_TIMEOUT] = "timeout",
};

const char *tcpstate_ka_end_name(unsigned int ka_end)
{
	return ka_end < TCPSTATE_KA_END_NR ? ka_end_names[ka_end] : NULL;
}

void tcpstate_fsm_keepalives_format(const struct tcpstate_fsm *f,
				    char buf[TCPSTATE_KEEPALIVES_LEN])
{
	unsigned int n = tcpstate_fsm_keepalives(f);

	if (n >= 10)
		*buf++ = '0' + n / 10;
	*buf++ = '0' + n % 10;
	if (n >= TCPSTATE_KEEPALIVES_MAX)
		*buf++ = '+';
	*buf = '\0';
}

/* A bounded line being written: past its end, characters are dropped. */
struct line_out {
	char *p;
	unsigned int len;
	unsigned int size;	/* with room for the NUL */
};

static void out_c(struct line_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->p[o->len++] = c;
}

static void out_s(struct line_out *o, const char *s)
{
	while (*s)
		out_c(o, *s++);
}

static void out_u64(struct line_out *o, u64 v)
{
	char d[20];
	unsigned int n = 0;

	do {
		d[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		out_c(o, d[--n]);
}

static void out_hex16(struct line_out *o, unsigned int v)
{
	static const char hex[] = "0123456789abcdef";
	int shift;

	for (shift = 12; shift > 0 && !(v >> shift); shift -= 4)
		;
	for (; shift >= 0; shift -= 4)
		out_c(o, hex[(v >> shift) & 0xf]);
}

static void out_ipv4(struct line_out *o, const u8 *a)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (i)
			out_c(o, '.');
		out_u64(o, a[i]);
	}
}

/* As the kernel's %pI6c (lib/vsprintf.c), which the module used to print. */
static void out_ipv6(struct line_out *o, const u8 *a)
{
	unsigned int w[8], i, run, best = 0, at = 8, words = 8;
	bool mapped, isatap, colon = false;

	for (i = 0; i < 8; i++)
		w[i] = a[2 * i] << 8 | a[2 * i + 1];
	mapped = !w[0] && !w[1] && !w[2] && !w[3] && !w[4] && w[5] == 0xffff;
	isatap = (w[4] | 0x0200) == 0x0200 && w[5] == 0x5efe;
	if (mapped || isatap)
		words = 6;
	/* The first longest run of zero groups, if longer than one. */
	for (i = 0; i < words; i += run ? run : 1) {
		for (run = 0; i + run < words && !w[i + run]; run++)
			;
		if (run > best) {
			best = run;
			at = i;
		}
	}
	if (best < 2)
		at = 8;
	for (i = 0; i < words; i++) {
		if (i == at) {
			if (colon || !i)
				out_c(o, ':');
			out_c(o, ':');
			colon = false;
			i += best - 1;
			continue;
		}
		if (colon)
			out_c(o, ':');
		out_hex16(o, w[i]);
		colon = true;
	}
	if (words == 6) {
		if (colon)
			out_c(o, ':');
		out_ipv4(o, a + 12);
	}
}

static void out_endpoint(struct line_out *o, const u8 *addr,
			 unsigned int alen, u16 port)
{
	if (alen == 4) {
		out_ipv4(o, addr);
	} else {
		out_c(o, '[');
		out_ipv6(o, addr);
		out_c(o, ']');
	}
	out_c(o, ':');
	out_u64(o, port);
}

unsigned int tcpstate_endpoint_format(const u8 *addr, unsigned int alen,
				      u16 port,
				      char buf[TCPSTATE_ENDPOINT_LEN])
{
	struct line_out o = { buf, 0, TCPSTATE_ENDPOINT_LEN };

	out_endpoint(&o, addr, alen, port);
	buf[o.len] = '\0';
	return o.len;
}

static void out_key(struct line_out *o, const char *key)
{
	out_c(o, ' ');
	out_s(o, key);
	out_c(o, '=');
}

static void out_name(struct line_out *o, const char *key, const char *name)
{
	out_key(o, key);
	out_s(o, name ? name : "?");
}

unsigned int tcpstate_event_line(const struct tcpstate_line *l,
				 char buf[TCPSTATE_EVENT_LINE_MAX])
{
	struct line_out o = { buf, 0, TCPSTATE_EVENT_LINE_MAX };
	char flags[TCPSTATE_TCPFLAGS_LEN] = "-";
	const char *ka = tcpstate_ka_end_name(l->ka_end);

	if (l->tcpflags)
		tcpstate_tcpflags_format(l->tcpflags, flags);
	out_s(&o, "id=");
	out_u64(&o, l->id);
	out_key(&o, "ts");
	out_u64(&o, l->ts_ns);
	out_key(&o, "netns");
	out_u64(&o, l->netns);
	out_name(&o, "family", l->alen == 4 ? "ipv4" : "ipv6");
	out_key(&o, "client");
	out_endpoint(&o, l->client, l->alen, l->cport);
	out_key(&o, "server");
	out_endpoint(&o, l->server, l->alen, l->sport);
	out_name(&o, "side", tcpstate_side_name(l->side));
	out_name(&o, "old", tcpstate_state_name(l->old_state));
	out_name(&o, "new", tcpstate_state_name(l->new_state));
	out_name(&o, "flags", flags);
	out_key(&o, "seq");
	out_u64(&o, l->seq);
	out_key(&o, "ack");
	out_u64(&o, l->ack);
	out_name(&o, "reason", tcpstate_reason_name(l->reason));
	if (ka)
		out_name(&o, "keepalive", ka);
	out_c(&o, '\n');
	buf[o.len] = '\0';
	return o.len;
}

static u32 get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

/* A word at a time: the same order as byte by byte, in network order. */
u8 tcpstate_tuple_end(const u8 *src, const u8 *dst, unsigned int alen,
		      u16 sport, u16 dport)
{
	unsigned int i;

	for (i = 0; i < alen; i += 4) {
		u32 a = get_be32(src + i), b = get_be32(dst + i);

		if (a != b)
			return a > b;
	}
	return sport > dport;
}

/* TCP option kinds and lengths (RFC 9293 section 3.2, RFC 7323). */
#define OPT_EOL		0
#define OPT_NOP		1
#define OPT_WSCALE	3
#define OPT_WSCALE_LEN	3
#define OPT_TS		8
#define OPT_TS_LEN	10

bool tcpstate_synopts_parse(const u8 *opts, unsigned int len,
			    struct tcpstate_seg *s)
{
	unsigned int i = 0;

	/* Each pass moves i forward by at least one. */
	while (i < len) {
		u8 kind = opts[i], olen;

		if (kind == OPT_EOL)
			return true;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		olen = opts[i + 1];
		if (olen < 2 || olen > len - i)
			return false;
		if (kind == OPT_WSCALE && olen == OPT_WSCALE_LEN)
			s->wscale = opts[i + 2] > TCPSTATE_WSCALE_MAX ?
				    TCPSTATE_WSCALE_MAX : opts[i + 2];
		if (kind == OPT_TS && olen == OPT_TS_LEN) {
			s->tsval = get_be32(opts + i + 2);
			s->tsecr = get_be32(opts + i + 6);
		}
		i += olen;
	}
	return true;
}

void tcpstate_tcpflags_format(u8 flags, char buf[TCPSTATE_TCPFLAGS_LEN])
{
	/* tcpdump's order: F S R P U E W, then "." for ACK */
	static const struct { u8 bit; char c; } order[] = {
		{ TCPSTATE_TCP_FIN, 'F' }, { TCPSTATE_TCP_SYN, 'S' },
		{ TCPSTATE_TCP_RST, 'R' }, { TCPSTATE_TCP_PSH, 'P' },
		{ TCPSTATE_TCP_URG, 'U' }, { TCPSTATE_TCP_ECE, 'E' },
		{ TCPSTATE_TCP_CWR, 'W' }, { TCPSTATE_TCP_ACK, '.' },
	};
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(order); i++)
		if (flags & order[i].bit)
			buf[n++] = order[i].c;
	if (!n) {
		buf[n++] = 'n';
		buf[n++] = 'o';
		buf[n++] = 'n';
		buf[n++] = 'e';
	}
	buf[n] = '\0';
}

void tcpstate_fsm_history_format(const struct tcpstate_fsm *f,
				 char buf[TCPSTATE_HISTORY_LEN])
{
	unsigned int n;

	for (n = 0; n < 16; n++) {
		u8 code = (f->history >> (4 * n)) & 0xf;
		u8 letter;

		if (!code || code > 2 * NR_LETTERS)
			break;
		letter = (code - 1) % NR_LETTERS;
		buf[n] = hist_upper[letter];
		if (code > NR_LETTERS)
			buf[n] += 'a' - 'A';
	}
	if (!n)
		buf[n++] = '-';
	buf[n] = '\0';
}

/*
 * Refused: ended by a RST from a server that sent nothing but RSTs, to a
 * client whose SYN it saw.  Told from the history letters each end has
 * sent, so it needs no bit of its own.
 */
static bool fsm_refused(const struct tcpstate_fsm *f)
{
	unsigned int client = tcpstate_fsm_sent(f, TCPSTATE_CLIENT);
	unsigned int server = tcpstate_fsm_sent(f, TCPSTATE_SERVER);

	return (f->flags & TCPSTATE_F_RESET) &&
	       !(f->flags & TCPSTATE_F_PICKUP) &&
	       (client & (1u << H_SYN)) && server == 1u << H_RST;
}

void tcpstate_fsm_flags_format(const struct tcpstate_fsm *f,
			       char buf[TCPSTATE_FLOWFLAGS_LEN])
{
	static const char *const reuse_words[] = {
		[TCPSTATE_REUSE_SEQ] = "tw_seq",
		[TCPSTATE_REUSE_TS] = "tw_ts",
		[TCPSTATE_REUSE_OWN] = "tw_own",
	};
	static const struct { u8 bit; const char *word; } words[] = {
		{ TCPSTATE_F_PICKUP, "pickup" },
		{ TCPSTATE_F_GUESSED, "guessed" },
		{ TCPSTATE_F_REUSED, "reused" },
		{ TCPSTATE_F_SIMOPEN, "simopen" },
		{ TCPSTATE_F_SIMCLOSE, "simclose" },
		{ TCPSTATE_F_RESET, "reset" },
	};
	unsigned int i, n = 0;
	const char *w;

	for (i = 0; i < ARRAY_SIZE(words); i++) {
		if (!(f->flags & words[i].bit))
			continue;
		if (n)
			buf[n++] = ',';
		w = words[i].word;
		if (words[i].bit == TCPSTATE_F_RESET && fsm_refused(f))
			w = "refused";
		for (; *w; w++)
			buf[n++] = *w;
		if (words[i].bit != TCPSTATE_F_REUSED || !tcpstate_fsm_reuse(f))
			continue;
		buf[n++] = ',';
		for (w = reuse_words[tcpstate_fsm_reuse(f)]; *w; w++)
			buf[n++] = *w;
	}
	if (!n)
		buf[n++] = '-';
	buf[n] = '\0';
}
