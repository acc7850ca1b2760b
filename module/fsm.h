/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpstate's TCP state machine: the RFC 793 state of both endpoints of one
 * connection, reconstructed from the segments an observer sees.
 *
 * Plain C: no skb, no lock, no clock, no allocation.  The same file is built
 * into the kernel module, the pcap replay tool, the unit tests and the
 * fuzzers; fsm_types.h is the only difference between them.
 *
 * The caller owns the memory of a struct tcpstate_fsm, serialises the calls
 * for one flow, and passes each segment as a struct tcpstate_seg naming the
 * tuple end that sent it.  The machine decides which end is the client and
 * reports every state change in a struct tcpstate_result.
 */
#ifndef TCPSTATE_FSM_H
#define TCPSTATE_FSM_H

#include "fsm_types.h"

/* RFC 793's states, with underscores.  The numbering is part of the ABI of
 * nothing: always print them with tcpstate_state_name().
 */
enum tcpstate_state {
	TCPSTATE_CLOSED,
	TCPSTATE_LISTEN,
	TCPSTATE_SYN_SENT,
	TCPSTATE_SYN_RCVD,
	TCPSTATE_ESTABLISHED,
	TCPSTATE_FIN_WAIT_1,
	TCPSTATE_FIN_WAIT_2,
	TCPSTATE_CLOSE_WAIT,
	TCPSTATE_CLOSING,
	TCPSTATE_LAST_ACK,
	TCPSTATE_TIME_WAIT,
	TCPSTATE_NR_STATES
};

/* The two endpoints: the client sent the first SYN. */
enum tcpstate_side {
	TCPSTATE_CLIENT,
	TCPSTATE_SERVER,
};

/* The TCP header's flag byte, bit for bit. */
#define TCPSTATE_TCP_FIN	0x01
#define TCPSTATE_TCP_SYN	0x02
#define TCPSTATE_TCP_RST	0x04
#define TCPSTATE_TCP_PSH	0x08
#define TCPSTATE_TCP_ACK	0x10
#define TCPSTATE_TCP_URG	0x20
#define TCPSTATE_TCP_ECE	0x40
#define TCPSTATE_TCP_CWR	0x80

/* No window scale option on this SYN (or not a SYN). */
#define TCPSTATE_WSCALE_NONE	0xff
/* RFC 7323: a shift count above 14 is taken as 14. */
#define TCPSTATE_WSCALE_MAX	14
/* The longest TCP options area (a 60-byte header). */
#define TCPSTATE_OPTLEN_MAX	40

/*
 * One segment, as the caller read it from the wire.  All numbers in host
 * order.  @end is the caller's fixed name for the sender: 0 for one end of
 * the 4-tuple and 1 for the other, the same for every segment of the flow.
 */
struct tcpstate_seg {
	u32 seq;
	u32 ack;
	u32 len;		/* payload bytes (a GSO segment's total) */
	u16 sport;		/* sender's port */
	u16 dport;		/* receiver's port */
	u32 tsval;		/* a SYN's timestamp option (RFC 7323): TSval */
	u32 tsecr;		/* and TSecr; both 0 when absent or not a SYN */
	u16 win;		/* raw window field */
	u8 flags;		/* TCPSTATE_TCP_* */
	u8 wscale;		/* SYN's window scale option, or WSCALE_NONE */
	u8 end;			/* 0 or 1: which tuple end sent it */
};

/*
 * What the machine keeps for one endpoint, indexed by enum tcpstate_side.
 * An end still in LISTEN has sent nothing, so its isn and nxt hold instead
 * the TSvals of the peer's first and latest SYN (0: no timestamps), which
 * the SYN/ACK's echo must fall between (RFC 7323 section 4.2, PAWS on the
 * handshake); its first SYN or SYN/ACK replaces them.
 */
struct tcpstate_end {
	u32 isn;		/* initial sequence number (0 if picked up) */
	u32 nxt;		/* next sequence number it will send */
	u16 win;		/* last window it advertised, raw */
	u8 wscale;		/* its SYN's window scale, or WSCALE_NONE */
	u8 state;		/* enum tcpstate_state */
};

/* Flow flags (struct tcpstate_fsm.flags). */
#define TCPSTATE_F_STARTED	0x01	/* a segment has been accepted */
#define TCPSTATE_F_CLIENT_B	0x02	/* tuple end 1 is the client */
#define TCPSTATE_F_PICKUP	0x04	/* first segment seen was not a SYN */
#define TCPSTATE_F_GUESSED	0x08	/* roles guessed from the ports */
#define TCPSTATE_F_REUSED	0x10	/* a later generation on its 4-tuple */
#define TCPSTATE_F_SIMOPEN	0x20	/* both ends sent a SYN */
#define TCPSTATE_F_SIMCLOSE	0x40	/* both FINs crossed */
#define TCPSTATE_F_RESET	0x80	/* ended by a RST */

/*
 * The per-flow state.  Zero it (or call tcpstate_fsm_init()) before the
 * first segment.  Read the fields freely; change them only through the
 * functions below.
 */
struct tcpstate_fsm {
	u64 history;		/* Zeek-style letters, 4 bits each, oldest low */
	struct tcpstate_end end[2];	/* [TCPSTATE_CLIENT], [TCPSTATE_SERVER] */
	u32 mark_us;		/* handshake: time of SYN, then of SYN/ACK;
				 * later: time the first end entered TIME_WAIT
				 */
	u32 rtt_syn_us;		/* SYN -> SYN/ACK, 0 if not measured */
	u32 rtt_ack_us;		/* SYN/ACK -> ACK, 0 if not measured */
	u16 seen;		/* history letters already recorded, and
				 * TCPSTATE_REUSE_* in the top two bits
				 */
	u8 flags;		/* TCPSTATE_F_* */
	u8 pending;		/* TCPSTATE_P_*: awaited answers, probes */
};

/*
 * What one end awaits (struct tcpstate_fsm.pending), one bit per side:
 * REFUSED: that end was last sent a SYN/ACK it refuses (bad ack or echo);
 * the RST it answers with is no abort.
 * PROBE: that end's last segment was a keep-alive probe (see
 * TCPSTATE_N_KA_PROBE) and nothing has come since, from either end.
 * The high nibble counts the flow's keep-alive probes, either end's, up
 * to 15: tcpstate_fsm_keepalives().
 */
#define TCPSTATE_P_REFUSED(side)	(0x01u << (side))
#define TCPSTATE_P_PROBE(side)		(0x04u << (side))
#define TCPSTATE_P_REFUSALS		(TCPSTATE_P_REFUSED(TCPSTATE_CLIENT) | \
					 TCPSTATE_P_REFUSED(TCPSTATE_SERVER))
#define TCPSTATE_P_WAITING		0x0fu
#define TCPSTATE_P_KA_ONE		0x10u
#define TCPSTATE_KEEPALIVES_MAX		15	/* two digits at most */

/*
 * How a SYN started a new connection on a 4-tuple whose last one had an
 * end in TIME_WAIT (TCPSTATE_F_REUSED; tcpstate_fsm_reuse()):
 * SEQ: the SYN went to the end in TIME_WAIT, its seq after all that end
 * had received: RFC 793's rule (and Linux's) admits it.
 * TS: the same, but its seq not after: only a newer timestamp (RFC 6191)
 * admits it; a stack that does not take it answers with an ACK or RST.
 * OWN: the SYN came from the end in TIME_WAIT itself: its stack reused
 * its own TIME_WAIT (Linux: net.ipv4.tcp_tw_reuse, by timestamps).
 * 0 (none of them): a reuse of a connection that had fully closed.
 */
#define TCPSTATE_REUSE_SEQ	1
#define TCPSTATE_REUSE_TS	2
#define TCPSTATE_REUSE_OWN	3
#define TCPSTATE_REUSE_SHIFT	14
/* The history's letters per side: the low 7 bits of seen, the client's. */
#define TCPSTATE_HISTORY_LETTERS	7

#define TCPSTATE_FSM_MAX_SIZE	48
static_assert(sizeof(struct tcpstate_fsm) <= TCPSTATE_FSM_MAX_SIZE,
	      "the core's per-flow state must stay within 48 bytes");

/* Why a segment changed nothing (or did something worth counting). */
enum tcpstate_verdict {
	TCPSTATE_V_OK,		/* accepted; it may or may not move a state */
	TCPSTATE_V_RETRANS,	/* SYN, SYN/ACK, FIN or final ACK again */
	TCPSTATE_V_BAD_FLAGS,	/* SYN+FIN w/o ACK, SYN+RST, no flags... */
	TCPSTATE_V_BAD_ACK,	/* handshake ack is not the peer's ISN + 1,
				 * a SYN/ACK's timestamp echo is none of the
				 * SYN's, an ack beyond what the peer sent
				 */
	TCPSTATE_V_BAD_RST,	/* RST outside the receiver's window */
	TCPSTATE_V_BAD_SEQ,	/* completes a handshake from outside the
				 * receiver's window
				 */
	TCPSTATE_V_UNEXPECTED,	/* no place in the sender's state (SYN when
				 * established, a segment after CLOSED, a
				 * lone RST opening a flow...)
				 */
	TCPSTATE_V_NR
};

/* Things the caller may want to count (struct tcpstate_result.notes). */
#define TCPSTATE_N_HANDSHAKE	0x0001	/* server reached ESTABLISHED */
#define TCPSTATE_N_REFUSED	0x0002	/* SYN answered by RST */
#define TCPSTATE_N_RESET	0x0004	/* a RST closed the connection */
#define TCPSTATE_N_SIMOPEN	0x0008	/* SYN crossed SYN */
#define TCPSTATE_N_SIMCLOSE	0x0010	/* FIN crossed FIN */
#define TCPSTATE_N_PICKUP	0x0020	/* flow picked up mid-stream */
#define TCPSTATE_N_NEWGEN	0x0040	/* a SYN restarted a finished flow */
#define TCPSTATE_N_FINISHED	0x0080	/* both ends are now CLOSED */
/*
 * TCP keep-alive, with the rules of Wireshark's "TCP Keep-Alive" and "TCP
 * Keep-Alive ACK" analysis.  Each note is about the segment's sender (the
 * caller knows it: tcpstate_fsm_side(f, seg->end), read after the step).
 *
 * KA_PROBE: the sender probes.  Only an ACK without SYN, FIN or RST, with 0
 * or 1 byte of payload and seq one below the sender's next seq, from an end
 * in ESTABLISHED, FIN_WAIT_2 or CLOSE_WAIT to one in a synchronized state
 * other than TIME_WAIT.  The byte, if any, is no data: neither the next seq
 * nor the history's D take it.  A retransmission of exactly the last byte
 * sent looks the same and is taken as a probe too, as Wireshark takes it.
 * The probe is then outstanding until the next segment the machine accepts.
 *
 * KA_ACK: the sender answers the peer's outstanding probe: an ACK with no
 * payload, no SYN, FIN or RST, with seq its own next seq, ack the prober's
 * next seq, and a window that is not 0 and the same as the sender's last
 * one.  Any other segment the machine accepts, from either end, ends the
 * wait unanswered; a probe from either end starts a new one, so one probe
 * at most is outstanding.
 *
 * KA_RESET and KA_GAVEUP come with TCPSTATE_N_RESET, on a RST that closes
 * the connection while a probe is outstanding:
 * KA_RESET: the RST comes from the probed end: the peer lost the
 * connection (it crashed and rebooted, or its socket is gone) and answers
 * the probe with a reset.  The prober is the segment's receiver.
 * KA_GAVEUP: the RST comes from the prober itself, its probe unanswered:
 * it gave up on a peer that is gone (Linux: tcp_keepalive_timer() after
 * tcp_keepalive_probes probes).  The prober is the segment's sender.
 */
#define TCPSTATE_N_KA_PROBE	0x0100	/* a keep-alive probe */
#define TCPSTATE_N_KA_ACK	0x0200	/* the answer to the peer's probe */
#define TCPSTATE_N_KA_RESET	0x0400	/* the probed peer reset */
#define TCPSTATE_N_KA_GAVEUP	0x0800	/* the prober reset, unanswered */

/* At most this many state changes come from one segment. */
#define TCPSTATE_MAX_TRANS	6

struct tcpstate_trans {
	u8 side;		/* enum tcpstate_side */
	u8 old_state;
	u8 new_state;
};

struct tcpstate_result {
	u8 verdict;		/* enum tcpstate_verdict */
	u8 nr;			/* valid entries in trans[] */
	u16 notes;		/* TCPSTATE_N_* */
	struct tcpstate_trans trans[TCPSTATE_MAX_TRANS];
};

/*
 * One line of /proc/tcpstate, its header and its rows alike, every column
 * a string: what the module and tcpstate-pcap print.
 */
#define TCPSTATE_TABLE_LINE \
	"%-10s  %-6s %-22s %-22s %-13s %-13s %-8s %-7s %-9s %-9s %s\n"

/*
 * One line of /proc/tcpstate_events for a transition: what the module and
 * tcpstate-pcap print (tools/event_parse.c reads it).  Its arguments, in
 * order: id and ts_ns (unsigned long long); netns (unsigned int); family
 * ("ipv4", "ipv6"), client and server ("addr:port", "[addr6]:port"),
 * side, old and new state, tcpdump flags (strings); seq and ack
 * (unsigned int); reason (a string); then " keepalive=" and its value,
 * or "" and "".  Keys are only ever appended, never reordered.
 */
#define TCPSTATE_EVENT_LINE \
	"id=%llu ts=%llu netns=%u family=%s client=%s server=%s side=%s old=%s new=%s flags=%s seq=%u ack=%u reason=%s%s%s\n"

/*
 * What one event line says (tcpstate_event_line()).  Addresses in network
 * order, @alen bytes each; everything else in host order.
 */
struct tcpstate_line {
	u64 id;
	u64 ts_ns;
	const u8 *client;	/* client's address */
	const u8 *server;	/* server's address */
	u32 netns;
	u32 seq;		/* causing segment's seq, 0 without one */
	u32 ack;
	u16 cport;
	u16 sport;
	u8 alen;		/* 4 (IPv4) or 16 (IPv6) */
	u8 side;		/* enum tcpstate_side */
	u8 old_state;
	u8 new_state;
	u8 tcpflags;		/* TCPSTATE_TCP_*; 0 without a segment: "-" */
	u8 reason;		/* enum tcpstate_reason */
	u8 ka_end;		/* enum tcpstate_ka_end */
};

/*
 * The longest event line with its NUL: the keys (about 100 bytes), two
 * 20-digit numbers, two bracketed IPv6 addresses in their longest form
 * with ports (53 bytes each), the longest names.  About 330 bytes.
 */
#define TCPSTATE_EVENT_LINE_MAX	384

/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" and its NUL */
#define TCPSTATE_ENDPOINT_LEN	54

/* Longest strings the formatters write, with the NUL. */
#define TCPSTATE_HISTORY_LEN	17
#define TCPSTATE_TCPFLAGS_LEN	9
#define TCPSTATE_FLOWFLAGS_LEN	64
#define TCPSTATE_KEEPALIVES_LEN	4

/*
 * Why an endpoint's line was written: the events' "reason=".  Those before
 * RETRANSMIT are state changes; from RETRANSMIT on, a segment that moved
 * nothing, its sender's state in both old and new
 * (tcpstate_reason_moves()).
 */
enum tcpstate_reason {
	TCPSTATE_REASON_SEGMENT,	/* a segment proved it */
	TCPSTATE_REASON_TIMER,		/* 2MSL ran out in TIME_WAIT */
	TCPSTATE_REASON_EVICT,		/* the table was full */
	TCPSTATE_REASON_UNLOAD,		/* the module is going away */
	/*
	 * The sender sent it before: a SYN, SYN/ACK, FIN or final ACK again
	 * (TCPSTATE_V_RETRANS).  Written by the module with retransmits=1,
	 * by tcpstate-pcap with --retransmits or --ladder.
	 */
	TCPSTATE_REASON_RETRANSMIT,
	/*
	 * A keep-alive probe (TCPSTATE_N_KA_PROBE) and the answer to one
	 * (TCPSTATE_N_KA_ACK).  Written by the module with keepalives=1, by
	 * tcpstate-pcap with --keepalives or --ladder.
	 */
	TCPSTATE_REASON_KEEPALIVE,
	TCPSTATE_REASON_KEEPALIVE_ACK,
	TCPSTATE_REASON_NR
};

/* Whether a line of this reason is a state change. */
static inline bool tcpstate_reason_moves(unsigned int reason)
{
	return reason < TCPSTATE_REASON_RETRANSMIT;
}

/*
 * The reason of the line for a segment that moved nothing, when the caller
 * writes lines for retransmissions (@retrans) or keep-alive probes and
 * answers (@keepalive): TCPSTATE_REASON_NR for none.  Inline, and the
 * common case (an ordinary segment) decided by the first test: it runs
 * on the packet path for every segment.
 */
static inline u8 tcpstate_result_quiet_reason(const struct tcpstate_result *r,
					      bool retrans, bool keepalive)
{
	if (r->nr || (r->verdict != TCPSTATE_V_RETRANS &&
		      !(r->notes & (TCPSTATE_N_KA_PROBE | TCPSTATE_N_KA_ACK))))
		return TCPSTATE_REASON_NR;
	if (retrans && r->verdict == TCPSTATE_V_RETRANS)
		return TCPSTATE_REASON_RETRANSMIT;
	if (keepalive && (r->notes & TCPSTATE_N_KA_PROBE))
		return TCPSTATE_REASON_KEEPALIVE;
	if (keepalive && (r->notes & TCPSTATE_N_KA_ACK))
		return TCPSTATE_REASON_KEEPALIVE_ACK;
	return TCPSTATE_REASON_NR;
}

/*
 * How a connection ended after keep-alive probes (from a result's
 * TCPSTATE_N_KA_RESET / KA_GAVEUP): the events' "keepalive=" key.
 */
enum tcpstate_ka_end {
	TCPSTATE_KA_END_NONE,
	TCPSTATE_KA_END_PEER_RESET,	/* the probed peer reset */
	TCPSTATE_KA_END_TIMEOUT,	/* the prober gave up, unanswered */
	TCPSTATE_KA_END_NR
};

static inline u8 tcpstate_ka_end_of(u16 notes)
{
	return (notes & TCPSTATE_N_KA_RESET) ? TCPSTATE_KA_END_PEER_RESET :
	       (notes & TCPSTATE_N_KA_GAVEUP) ? TCPSTATE_KA_END_TIMEOUT :
	       TCPSTATE_KA_END_NONE;
}

void tcpstate_fsm_init(struct tcpstate_fsm *f);

/*
 * Whether a segment may open a flow that the caller does not know yet: a
 * SYN, or anything a mid-stream pickup can make sense of.  A lone RST or an
 * invalid flag combination does not.
 */
bool tcpstate_fsm_opens(const struct tcpstate_seg *s);

/*
 * Feed one segment.  @now_us is any microsecond clock (it may wrap); it is
 * used only to measure the handshake and to start TIME_WAIT.
 */
void tcpstate_fsm_step(struct tcpstate_fsm *f, const struct tcpstate_seg *s,
		       u32 now_us, struct tcpstate_result *r);

/*
 * The common case of tcpstate_fsm_step() alone, without its clock: data or
 * an ACK between two ESTABLISHED ends that moves no state and says nothing
 * (no transition, verdict or note).  Returns true if it took @s that way;
 * false, with @f untouched, if @s needs tcpstate_fsm_step().  A caller
 * that reads a clock for tcpstate_fsm_step() can try this first and skip
 * the clock for most segments, then call tcpstate_fsm_step_full().
 */
bool tcpstate_fsm_step_quiet(struct tcpstate_fsm *f,
			     const struct tcpstate_seg *s);

/*
 * The rest of tcpstate_fsm_step(), for a segment that
 * tcpstate_fsm_step_quiet() has just declined on @f: the same flow and
 * result as tcpstate_fsm_step(), without trying the quiet step again.
 */
void tcpstate_fsm_step_full(struct tcpstate_fsm *f,
			    const struct tcpstate_seg *s, u32 now_us,
			    struct tcpstate_result *r);

/*
 * The timer: if an end has been in TIME_WAIT for @time_wait_us or more at
 * @now_us, move it to CLOSED.  Returns the number of transitions in @r.
 */
int tcpstate_fsm_tick(struct tcpstate_fsm *f, u32 now_us, u32 time_wait_us,
		      struct tcpstate_result *r);

/* A time that never comes, in any unit. */
#define TCPSTATE_FOREVER	((u32)~0u)

/*
 * Microseconds until tcpstate_fsm_tick() would end @f's TIME_WAIT with the
 * same @time_wait_us: 0 if it would now, TCPSTATE_FOREVER if no end is
 * in TIME_WAIT.
 */
u32 tcpstate_fsm_time_wait_left(const struct tcpstate_fsm *f, u32 now_us,
				u32 time_wait_us);

/*
 * The observer ends the flow (it idled out, was evicted, or the observer
 * goes away): every end not yet CLOSED moves to CLOSED, each reported in
 * @r.  Returns the number of transitions.
 */
int tcpstate_fsm_close(struct tcpstate_fsm *f, struct tcpstate_result *r);

/* Both ends CLOSED: the connection is over. */
bool tcpstate_fsm_finished(const struct tcpstate_fsm *f);

/*
 * A SYN's TCP options, the @len bytes after the fixed header, into @s:
 * the window scale (capped at TCPSTATE_WSCALE_MAX) and the timestamps
 * (RFC 7323).  @s must hold TCPSTATE_WSCALE_NONE and 0, 0 (absent)
 * before.  Like the kernel's own parser it stops at an option that runs
 * past the end or is shorter than two bytes, keeping what it read before
 * it; then it returns false (the segment is still a segment).
 */
bool tcpstate_synopts_parse(const u8 *opts, unsigned int len,
			    struct tcpstate_seg *s);

/*
 * The end of the canonical tuple (0 or 1) that sent a segment from
 * @src:@sport to @dst:@dport: end 0 is the lower (address, port), the
 * addresses compared as @alen bytes (4 or 16) in network order.  A socket
 * connected to itself has one end only: its segments are all end 0.
 */
u8 tcpstate_tuple_end(const u8 *src, const u8 *dst, unsigned int alen,
		      u16 sport, u16 dport);

/* The tuple end (0 or 1) that is the client. */
static inline u8 tcpstate_fsm_client_end(const struct tcpstate_fsm *f)
{
	return (f->flags & TCPSTATE_F_CLIENT_B) ? 1 : 0;
}

/* The side (enum tcpstate_side) of tuple end @end: a segment's sender. */
static inline u8 tcpstate_fsm_side(const struct tcpstate_fsm *f, u8 end)
{
	return (end & 1) == tcpstate_fsm_client_end(f) ?
	       TCPSTATE_CLIENT : TCPSTATE_SERVER;
}

/*
 * The kinds of segment @side has sent, one bit per history letter (fsm.c's
 * enum hist_letter: SYN, SYN/ACK, ACK, data, FIN, RST, retransmission):
 * 0 if nothing from it was accepted yet.
 */
static inline unsigned int tcpstate_fsm_sent(const struct tcpstate_fsm *f,
					     u8 side)
{
	return (f->seen >> (side * TCPSTATE_HISTORY_LETTERS)) &
	       ((1u << TCPSTATE_HISTORY_LETTERS) - 1);
}

/* TCPSTATE_REUSE_*: how the connection reused a TIME_WAIT 4-tuple. */
static inline unsigned int tcpstate_fsm_reuse(const struct tcpstate_fsm *f)
{
	return f->seen >> TCPSTATE_REUSE_SHIFT;
}

/* The flow's keep-alive probes, counted up to TCPSTATE_KEEPALIVES_MAX. */
static inline unsigned int
tcpstate_fsm_keepalives(const struct tcpstate_fsm *f)
{
	return f->pending / TCPSTATE_P_KA_ONE;
}

/*
 * The flow policy the module's table and tcpstate-pcap share.  How long a
 * flow may sit idle before it is expired depends on the states of its
 * ends, one timeout per kind of state (as conntrack's): the longer of the
 * two ends' applies, and none while an end is in TIME_WAIT, whose own
 * 2MSL timer ends the flow.  A finished flow is not expired: it lingers,
 * as long as the caller lists finished flows.
 */
enum tcpstate_idle {
	TCPSTATE_IDLE_NEVER,		/* TIME_WAIT */
	TCPSTATE_IDLE_SYN,		/* SYN_SENT, SYN_RCVD */
	TCPSTATE_IDLE_ESTABLISHED,
	TCPSTATE_IDLE_FIN_WAIT,		/* FIN_WAIT_1, FIN_WAIT_2, CLOSING */
	TCPSTATE_IDLE_CLOSE_WAIT,
	TCPSTATE_IDLE_LAST_ACK,
	TCPSTATE_IDLE_CLOSE,		/* CLOSED, LISTEN: not started */
	TCPSTATE_IDLE_NR
};

/* The timeouts' defaults in seconds: the module's timeout_* parameters. */
#define TCPSTATE_IDLE_DEFAULT_S { \
	[TCPSTATE_IDLE_SYN] = 120, \
	[TCPSTATE_IDLE_ESTABLISHED] = 432000, \
	[TCPSTATE_IDLE_FIN_WAIT] = 120, \
	[TCPSTATE_IDLE_CLOSE_WAIT] = 60, \
	[TCPSTATE_IDLE_LAST_ACK] = 30, \
	[TCPSTATE_IDLE_CLOSE] = 10, \
}

/* The timeout that applies to an end in @state. */
unsigned int tcpstate_state_idle(unsigned int state);

/*
 * A flow picked up mid-stream that has only ever been heard from one
 * side: what a spray of spoofed segments leaves, as well as the half of a
 * real connection whose other half takes another path.  It idles out
 * after the SYN timeout, like a half-open connection, and is the first to
 * give way when the table is full.
 */
bool tcpstate_fsm_one_way(const struct tcpstate_fsm *f);

/*
 * How long @f may idle before it is expired, @timeouts holding each
 * TCPSTATE_IDLE_*'s timeout in any unit (index NEVER unused):
 * TCPSTATE_FOREVER when it is never expired (an end in TIME_WAIT, or
 * finished).
 */
u32 tcpstate_fsm_idle_limit(const struct tcpstate_fsm *f,
			    const u32 timeouts[TCPSTATE_IDLE_NR]);

/*
 * Whether a flow idle for @idle is to be expired, @timeouts holding each
 * TCPSTATE_IDLE_*'s timeout in the unit of @idle (index NEVER unused).
 */
bool tcpstate_fsm_idle_expired(const struct tcpstate_fsm *f, u32 idle,
			       const u32 timeouts[TCPSTATE_IDLE_NR]);

/*
 * How readily a flow gives way to a new one when the table is full: 0
 * finished, 1 a one-way pickup, 2 closing, 3 half-open;
 * TCPSTATE_EVICT_NEVER for the rest (an established flow).
 */
#define TCPSTATE_EVICT_NEVER	4
unsigned int tcpstate_fsm_evict_class(const struct tcpstate_fsm *f);

/* Names and notations shared by /proc, the events and the tools. */
const char *tcpstate_state_name(unsigned int state);
const char *tcpstate_side_name(unsigned int side);
const char *tcpstate_verdict_name(unsigned int verdict);
/*
 * "segment", "timer", "evict", "unload", "retransmit", "keepalive",
 * "keepalive_ack"; NULL if none
 */
const char *tcpstate_reason_name(unsigned int reason);
/*
 * An endpoint as the lines write it: "192.0.2.1:80", or for @alen 16
 * "[2001:db8::1]:443" in the kernel's %pI6c form (RFC 5952: lowercase,
 * the longest run of two or more zero groups shortened, the last 32 bits
 * dotted for IPv4-mapped and ISATAP addresses).  Returns the length.
 */
unsigned int tcpstate_endpoint_format(const u8 *addr, unsigned int alen,
				      u16 port,
				      char buf[TCPSTATE_ENDPOINT_LEN]);

/*
 * @l as one line of /proc/tcpstate_events, with its newline, in the
 * grammar of TCPSTATE_EVENT_LINE: what the module and tcpstate-pcap
 * print.  Returns the length (without the NUL).  Written by hand, not
 * through a printf: a reader is handed every event, and the kernel's
 * vsnprintf() was most of what a read cost.
 */
unsigned int tcpstate_event_line(const struct tcpstate_line *l,
				 char buf[TCPSTATE_EVENT_LINE_MAX]);

/* "peer_reset", "timeout"; NULL for TCPSTATE_KA_END_NONE */
const char *tcpstate_ka_end_name(unsigned int ka_end);
/* The keep-alive probes: "0" to "14", then "15+" */
void tcpstate_fsm_keepalives_format(const struct tcpstate_fsm *f,
				    char buf[TCPSTATE_KEEPALIVES_LEN]);
/* tcpdump's notation: "S", "S.", ".", "P.", "F.", "FP.", "R", "R." ... */
void tcpstate_tcpflags_format(u8 flags, char buf[TCPSTATE_TCPFLAGS_LEN]);
/* "ShADadFf" */
void tcpstate_fsm_history_format(const struct tcpstate_fsm *f,
				 char buf[TCPSTATE_HISTORY_LEN]);
/*
 * "-" or comma-separated words: "pickup,guessed".  A reset that refused
 * the connection (the server answered the SYN with a RST and sent nothing
 * else) says "refused" instead of "reset".  "reused" is followed by
 * "tw_seq", "tw_ts" or "tw_own" (TCPSTATE_REUSE_*) when the 4-tuple was
 * taken from a TIME_WAIT.
 */
void tcpstate_fsm_flags_format(const struct tcpstate_fsm *f,
			       char buf[TCPSTATE_FLOWFLAGS_LEN]);

#endif /* TCPSTATE_FSM_H */
