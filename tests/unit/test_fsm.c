// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the state machine, with the numbers of the seed documents:
 * the tcpdump capture of 10.0.2.2:51323 -> 10.0.2.15:80 whose SYN has seq
 * 84689409 and whose SYN/ACK has seq 1893430205.
 *
 * fsm.c is included, not linked, so that the table itself can be walked
 * cell by cell.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../module/fsm.c"

#define C_ISN	84689409u	/* the client's SYN, from the seed capture */
#define S_ISN	1893430205u	/* the server's SYN/ACK */
#define C_PORT	51323
#define S_PORT	80
#define MS	1000u		/* microseconds */

static struct tcpstate_fsm F;
static struct tcpstate_result R;
static u32 NOW;
static u16 WIN = 64240;
static char OUT[512];

static u8 parse_flags(const char *s)
{
	u8 f = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'F': f |= TCPSTATE_TCP_FIN; break;
		case 'S': f |= TCPSTATE_TCP_SYN; break;
		case 'R': f |= TCPSTATE_TCP_RST; break;
		case 'P': f |= TCPSTATE_TCP_PSH; break;
		case 'U': f |= TCPSTATE_TCP_URG; break;
		case '.': f |= TCPSTATE_TCP_ACK; break;
		}
	}
	return f;
}

static const char *result_str(const struct tcpstate_result *r)
{
	size_t n = 0;
	int i;

	OUT[0] = '\0';
	for (i = 0; i < r->nr; i++)
		n += snprintf(OUT + n, sizeof(OUT) - n, "%s%s %s>%s",
			      i ? ", " : "",
			      tcpstate_side_name(r->trans[i].side),
			      tcpstate_state_name(r->trans[i].old_state),
			      tcpstate_state_name(r->trans[i].new_state));
	return OUT;
}

/* A segment with a timestamp option (TSval, TSecr); 0, 0 = none. */
static const char *seg_ts(int end, const char *flags, u32 seq, u32 ack,
			  u32 len, u32 tsval, u32 tsecr)
{
	struct tcpstate_seg s = {
		.seq = seq, .ack = ack, .len = len,
		.sport = end ? S_PORT : C_PORT,
		.dport = end ? C_PORT : S_PORT,
		.tsval = tsval, .tsecr = tsecr,
		.win = WIN, .flags = parse_flags(flags),
		.wscale = TCPSTATE_WSCALE_NONE, .end = (u8)end,
	};

	NOW += 1 * MS;
	tcpstate_fsm_step(&F, &s, NOW, &R);
	return result_str(&R);
}

/* Feed one segment sent by tuple end @end (0 = 10.0.2.2:51323). */
static const char *seg(int end, const char *flags, u32 seq, u32 ack, u32 len)
{
	return seg_ts(end, flags, seq, ack, len, 0, 0);
}

static void reset(void)
{
	tcpstate_fsm_init(&F);
	NOW = 1000000;
	WIN = 64240;
}

static u8 cstate(void) { return F.end[TCPSTATE_CLIENT].state; }
static u8 sstate(void) { return F.end[TCPSTATE_SERVER].state; }

static const char *history(void)
{
	static char h[TCPSTATE_HISTORY_LEN];

	tcpstate_fsm_history_format(&F, h);
	return h;
}

static const char *flowflags(void)
{
	static char b[TCPSTATE_FLOWFLAGS_LEN];

	tcpstate_fsm_flags_format(&F, b);
	return b;
}

/* The seed capture's handshake. */
static void handshake(void)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
}

/* Client C_ISN+1 .. +752 is the seed's HTTP GET; server answers 100 bytes. */
#define C_FIN_SEQ	(C_ISN + 1 + 752)
#define S_FIN_SEQ	(S_ISN + 1 + 100)

static void established_with_data(void)
{
	handshake();
	seg(0, "P.", C_ISN + 1, S_ISN + 1, 752);
	seg(1, "P.", S_ISN + 1, C_ISN + 1 + 752, 100);
	seg(0, ".", C_FIN_SEQ, S_ISN + 1 + 100, 0);
}

TEST(size_fits_budget)
{
	CHECK(sizeof(struct tcpstate_fsm) <= 48);
}

TEST(handshake_three_way_seed_numbers)
{
	reset();
	CHECK_STR(seg(0, "S", C_ISN, 0, 0), "client CLOSED>SYN_SENT");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(sstate(), TCPSTATE_LISTEN);
	CHECK_STR(seg(1, "S.", S_ISN, 84689410u, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_STR(seg(0, ".", 84689410u, 1893430206u, 0),
		  "server SYN_RCVD>ESTABLISHED");
	CHECK(R.notes & TCPSTATE_N_HANDSHAKE);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].isn, C_ISN);
	CHECK_EQ(F.end[TCPSTATE_SERVER].isn, S_ISN);
	CHECK_EQ(F.rtt_syn_us, 1 * MS);
	CHECK_EQ(F.rtt_ack_us, 1 * MS);
	CHECK_EQ(tcpstate_fsm_client_end(&F), 0);
	CHECK_STR(flowflags(), "-");
	CHECK_STR(history(), "ShA");
}

/* The flow policy the module's GC and tcpstate-pcap share. */
TEST(policy_idle_timeouts_and_eviction)
{
	static const u32 to[TCPSTATE_IDLE_NR] = TCPSTATE_IDLE_DEFAULT_S;

	reset();
	seg(0, "S", C_ISN, 0, 0);
	/* half-open: the SYN timeout, evicted before closing flows */
	CHECK(!tcpstate_fsm_idle_expired(&F, 119, to));
	CHECK(tcpstate_fsm_idle_expired(&F, 120, to));
	CHECK_EQ(tcpstate_fsm_evict_class(&F), 3);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
	CHECK(!tcpstate_fsm_idle_expired(&F, 431999, to));
	CHECK(tcpstate_fsm_idle_expired(&F, 432000, to));
	CHECK_EQ(tcpstate_fsm_evict_class(&F), TCPSTATE_EVICT_NEVER);
	/* FIN_WAIT_1 and CLOSE_WAIT: the longer, 120 s, applies */
	seg(0, "F.", C_ISN + 1, S_ISN + 1, 0);
	CHECK(!tcpstate_fsm_idle_expired(&F, 119, to));
	CHECK(tcpstate_fsm_idle_expired(&F, 120, to));
	/* TIME_WAIT: its own timer, never the idle one */
	seg(1, "F.", S_ISN + 1, C_ISN + 2, 0);
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	CHECK(!tcpstate_fsm_idle_expired(&F, UINT32_MAX, to));
	CHECK_EQ(tcpstate_fsm_evict_class(&F), 2);
	seg(0, ".", C_ISN + 2, S_ISN + 2, 0);
	tcpstate_fsm_tick(&F, NOW + 60000 * MS, 60000 * MS, &R);
	CHECK(tcpstate_fsm_finished(&F));
	CHECK(!tcpstate_fsm_idle_expired(&F, UINT32_MAX, to));	/* lingers */
	CHECK_EQ(tcpstate_fsm_evict_class(&F), 0);

	/* a pickup heard from one side only: the SYN timeout, evicted first */
	reset();
	seg(1, ".", S_ISN + 1, C_ISN + 1, 100);
	CHECK(tcpstate_fsm_one_way(&F));
	CHECK_EQ(tcpstate_fsm_evict_class(&F), 1);
	CHECK(tcpstate_fsm_idle_expired(&F, 120, to));
	seg(0, ".", C_ISN + 1, S_ISN + 101, 0);
	CHECK(!tcpstate_fsm_one_way(&F));
	CHECK(!tcpstate_fsm_idle_expired(&F, 120, to));
	CHECK_EQ(tcpstate_state_idle(TCPSTATE_LISTEN), TCPSTATE_IDLE_CLOSE);
	CHECK_EQ(tcpstate_state_idle(TCPSTATE_CLOSING), TCPSTATE_IDLE_FIN_WAIT);
}

/* What flow.c's one-way test reads: the kinds of segment each side sent. */
TEST(sent_letters_per_side)
{
	reset();
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_CLIENT), 0);
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_SERVER), 0);
	seg(0, "S", C_ISN, 0, 0);
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_CLIENT), 1u << H_SYN);
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_SERVER), 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	seg(0, "P.", C_ISN + 1, S_ISN + 1, 10);
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_CLIENT),
		 1u << H_SYN | 1u << H_DATA);	/* data, no bare ACK */
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_SERVER), 1u << H_SYNACK);
	seg(1, "R", S_ISN + 1, 0, 0);
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_SERVER),
		 1u << H_SYNACK | 1u << H_RST);
	/* the reuse bits above the letters belong to neither side */
	F.seen |= TCPSTATE_REUSE_OWN << TCPSTATE_REUSE_SHIFT;
	CHECK_EQ(tcpstate_fsm_sent(&F, TCPSTATE_SERVER),
		 1u << H_SYNACK | 1u << H_RST);
}

TEST(handshake_synack_must_ack_isn_plus_one)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 2, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_EQ(cstate(), TCPSTATE_SYN_SENT);
	CHECK_EQ(sstate(), TCPSTATE_LISTEN);
}

TEST(handshake_fast_open_synack_acks_the_syn_data)
{
	/* a SYN carrying 18 bytes: the SYN/ACK acks ISN + 1 + 18 if the
	 * server took them, ISN + 1 if it did not; nothing else
	 */
	reset();
	seg(0, "S", C_ISN, 0, 18);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1 + 19, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1 + 18, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_STR(history(), "SDh");
	reset();
	seg(0, "S", C_ISN, 0, 18);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
}

TEST(handshake_third_ack_must_ack_server_isn_plus_one)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 5, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_EQ(sstate(), TCPSTATE_SYN_RCVD);
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 1, 0),
		  "server SYN_RCVD>ESTABLISHED");
}

TEST(handshake_third_segment_must_come_from_inside_the_window)
{
	/* suricata-verify's 3whs_wrong_seq: the ack is right, seq is not */
	reset();
	seg(0, "S", 1000, 0, 0);
	seg(1, "S.", 5000, 1001, 0);
	CHECK_STR(seg(0, "P.", 101001, 5001, 10), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_SEQ);
	CHECK_EQ(sstate(), TCPSTATE_SYN_RCVD);
	CHECK_STR(seg(0, "P.", 1001, 5001, 10), "server SYN_RCVD>ESTABLISHED");
}

TEST(close_four_way_client_first)
{
	established_with_data();
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	/* acking the FIN's seq itself is not acking the FIN */
	CHECK_STR(seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0), "");
	CHECK_STR(seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0),
		  "client FIN_WAIT_1>FIN_WAIT_2");
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_2>TIME_WAIT");
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0),
		  "server LAST_ACK>CLOSED");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK(!tcpstate_fsm_finished(&F));
	/* S h A, data both ways, then the client's F, the server's a and f */
	CHECK_STR(history(), "ShADdFaf");
}

TEST(time_wait_closes_only_after_2msl)
{
	u32 entered;

	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	entered = NOW;
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0);
	CHECK_EQ(tcpstate_fsm_tick(&F, entered + 59999 * MS, 60000 * MS, &R), 0);
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	CHECK_EQ(tcpstate_fsm_tick(&F, entered + 60000 * MS, 60000 * MS, &R), 1);
	CHECK_STR(result_str(&R), "client TIME_WAIT>CLOSED");
	CHECK(R.notes & TCPSTATE_N_FINISHED);
	CHECK(tcpstate_fsm_finished(&F));
	/* 2MSL is a parameter */
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_EQ(tcpstate_fsm_tick(&F, NOW + 999 * MS, 1000 * MS, &R), 0);
	CHECK_EQ(tcpstate_fsm_tick(&F, NOW + 1000 * MS, 1000 * MS, &R), 1);
}

/*
 * What the module's GC plans its next look by: the time left in TIME_WAIT
 * is exactly what the tick waits for, on a clock that wraps (a clock read
 * before the segment that started it is no time gone); the idle limit is
 * what the idle test expires at.
 */
TEST(time_wait_left_and_idle_limit_agree_with_tick_and_expiry)
{
	static const u32 to[TCPSTATE_IDLE_NR] = TCPSTATE_IDLE_DEFAULT_S;
	u32 entered;
	int i;

	established_with_data();
	CHECK_EQ(tcpstate_fsm_time_wait_left(&F, NOW, 1000 * MS),
		 TCPSTATE_FOREVER);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), 432000);
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), 120);	/* FIN_WAIT_1 */
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	entered = NOW;
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), TCPSTATE_FOREVER);
	seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0);	/* LAST_ACK ends */
	CHECK_EQ(tcpstate_fsm_time_wait_left(&F, entered - 7, 1000 * MS),
		 1000 * MS);
	for (i = 0; i <= 150; i++) {	/* to 1052 ms, 7.013 ms apart */
		u32 t = entered + i * (7 * MS + 13);
		u32 left = tcpstate_fsm_time_wait_left(&F, t, 1000 * MS);
		struct tcpstate_fsm before = F;

		CHECK_EQ(left, t - entered < 1000 * MS ?
			 1000 * MS - (t - entered) : 0);
		CHECK_EQ(tcpstate_fsm_tick(&F, t, 1000 * MS, &R), left ? 0 : 1);
		F = before;
	}
	tcpstate_fsm_tick(&F, entered + 1000 * MS, 1000 * MS, &R);
	CHECK(tcpstate_fsm_finished(&F));
	CHECK_EQ(tcpstate_fsm_time_wait_left(&F, NOW, 1000 * MS),
		 TCPSTATE_FOREVER);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), TCPSTATE_FOREVER);

	/* a pickup heard from one side: the SYN timeout */
	reset();
	seg(1, ".", S_ISN + 1, C_ISN + 1, 100);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), 120);
	seg(0, ".", C_ISN + 1, S_ISN + 101, 0);
	CHECK_EQ(tcpstate_fsm_idle_limit(&F, to), 432000);
}

/*
 * The table reads its clock and steps the machine in either order: a tick
 * whose clock was read before the segment that started TIME_WAIT must not
 * see 2MSL as long gone, and a handshake timed on such a clock must not
 * measure a negative RTT as 71 minutes.
 */
TEST(clock_read_before_the_segment_is_no_time_at_all)
{
	u32 entered;

	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	entered = NOW;
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	CHECK_EQ(tcpstate_fsm_tick(&F, entered - 1, 1000 * MS, &R), 0);
	CHECK_EQ(tcpstate_fsm_tick(&F, entered - 500 * MS, 1000 * MS, &R), 0);
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	CHECK_EQ(tcpstate_fsm_tick(&F, entered + 1000 * MS, 1000 * MS, &R), 1);

	/* A SYN/ACK stepped with a clock 5 ms behind the SYN's */
	tcpstate_fsm_init(&F);
	seg(0, "S", C_ISN, 0, 0);
	NOW -= 5 * MS;
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_EQ(F.rtt_syn_us, 1);
}

TEST(time_wait_restarts_on_retransmitted_fin)
{
	u32 t;

	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	NOW += 500 * MS;
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	t = NOW;
	CHECK_EQ(tcpstate_fsm_tick(&F, t + 999 * MS, 1000 * MS, &R), 0);
	CHECK_EQ(tcpstate_fsm_tick(&F, t + 1000 * MS, 1000 * MS, &R), 1);
	/* LAST_ACK has no timer in the core: the table's idle timeout ends it */
	CHECK_STR(result_str(&R), "client TIME_WAIT>CLOSED");
	CHECK_EQ(sstate(), TCPSTATE_LAST_ACK);
}

TEST(close_four_way_server_first)
{
	established_with_data();
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ, 0),
		  "server ESTABLISHED>FIN_WAIT_1, client ESTABLISHED>CLOSE_WAIT");
	CHECK_STR(seg(0, ".", C_FIN_SEQ, S_FIN_SEQ + 1, 0),
		  "server FIN_WAIT_1>FIN_WAIT_2");
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ + 1, 0),
		  "client CLOSE_WAIT>LAST_ACK, server FIN_WAIT_2>TIME_WAIT");
	CHECK_STR(seg(1, ".", S_FIN_SEQ + 1, C_FIN_SEQ + 1, 0),
		  "client LAST_ACK>CLOSED");
	CHECK_EQ(tcpstate_fsm_tick(&F, NOW + 60000 * MS, 60000 * MS, &R), 1);
	CHECK_STR(result_str(&R), "server TIME_WAIT>CLOSED");
	CHECK(tcpstate_fsm_finished(&F));
}

TEST(fin_with_data_is_acked_by_seq_plus_len_plus_one)
{
	handshake();
	/* FP. carrying the 752-byte request */
	CHECK_STR(seg(0, "FP.", C_ISN + 1, S_ISN + 1, 752),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	CHECK_STR(seg(1, ".", S_ISN + 1, C_ISN + 1 + 752, 0), "");
	CHECK_STR(seg(1, ".", S_ISN + 1, C_ISN + 1 + 752 + 1, 0),
		  "client FIN_WAIT_1>FIN_WAIT_2");
	CHECK_STR(history(), "ShADFa");
}

TEST(fin_with_ack_of_ours_goes_straight_to_time_wait)
{
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_1>TIME_WAIT");
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0),
		  "server LAST_ACK>CLOSED");
}

TEST(simultaneous_close)
{
	established_with_data();
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	/* the server's FIN does not ack the client's: they crossed */
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ, 0),
		  "server CLOSE_WAIT>CLOSING, client FIN_WAIT_1>CLOSING");
	CHECK(R.notes & TCPSTATE_N_SIMCLOSE);
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0),
		  "server CLOSING>TIME_WAIT");
	CHECK_STR(seg(1, ".", S_FIN_SEQ + 1, C_FIN_SEQ + 1, 0),
		  "client CLOSING>TIME_WAIT");
	CHECK_STR(flowflags(), "simclose");
	CHECK_EQ(tcpstate_fsm_tick(&F, NOW + 60000 * MS, 60000 * MS, &R), 2);
	CHECK(tcpstate_fsm_finished(&F));
}

TEST(simultaneous_open)
{
	reset();
	CHECK_STR(seg(0, "S", C_ISN, 0, 0), "client CLOSED>SYN_SENT");
	CHECK_STR(seg(1, "S", S_ISN, 0, 0), "server LISTEN>SYN_SENT");
	CHECK(R.notes & TCPSTATE_N_SIMOPEN);
	CHECK_STR(seg(0, "S.", C_ISN, S_ISN + 1, 0),
		  "client SYN_SENT>SYN_RCVD");
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0),
		  "server SYN_SENT>SYN_RCVD, server SYN_RCVD>ESTABLISHED, "
		  "client SYN_RCVD>ESTABLISHED");
	CHECK(R.notes & TCPSTATE_N_HANDSHAKE);
	CHECK_STR(flowflags(), "simopen");
	CHECK_STR(history(), "SsHh");
}

TEST(split_handshake_four_way)
{
	/* suricata-verify's 4WHS shape: S, S from server, S. from client, . */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S", S_ISN, 0, 0);
	CHECK_STR(seg(0, "S.", C_ISN, S_ISN + 1, 0),
		  "client SYN_SENT>SYN_RCVD");
	CHECK_STR(seg(1, ".", S_ISN + 1, C_ISN + 1, 0),
		  "server SYN_SENT>ESTABLISHED, client SYN_RCVD>ESTABLISHED");
}

TEST(half_close_data_flows_from_close_wait_side)
{
	u32 s = S_FIN_SEQ;
	int i;

	established_with_data();
	seg(0, "F.", C_FIN_SEQ, s, 0);
	seg(1, ".", s, C_FIN_SEQ + 1, 0);
	CHECK_EQ(cstate(), TCPSTATE_FIN_WAIT_2);
	for (i = 0; i < 5; i++) {
		CHECK_STR(seg(1, "P.", s, C_FIN_SEQ + 1, 1000), "");
		s += 1000;
		CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, s, 0), "");
	}
	CHECK_EQ(cstate(), TCPSTATE_FIN_WAIT_2);
	CHECK_EQ(sstate(), TCPSTATE_CLOSE_WAIT);
	CHECK_STR(seg(1, "F.", s, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_2>TIME_WAIT");
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, s + 1, 0), "server LAST_ACK>CLOSED");
}

TEST(refused_by_rst_ack)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	/* a RST that does not ack ISN + 1 refuses nothing */
	CHECK_STR(seg(1, "R.", 0, C_ISN, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
	CHECK_STR(seg(1, "R", 0, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
	CHECK_STR(seg(1, "R.", 0, C_ISN + 1, 0), "client SYN_SENT>CLOSED");
	CHECK(R.notes & TCPSTATE_N_REFUSED);
	/* the server never left CLOSED: no transition is reported for it */
	CHECK_EQ(sstate(), TCPSTATE_CLOSED);
	CHECK(tcpstate_fsm_finished(&F));
	CHECK(R.notes & TCPSTATE_N_FINISHED);
	CHECK_STR(history(), "Sr");
	/* the table says refused, not reset (issue 13, item 5) */
	CHECK_STR(flowflags(), "refused");
}

/* Drive a fresh flow into @want for one side, by the seed's numbers. */
static int drive_to(u8 want_client, u8 want_server)
{
	established_with_data();
	if (cstate() == want_client && sstate() == want_server)
		return 1;
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);	/* FW1 / CW */
	if (cstate() == want_client && sstate() == want_server)
		return 1;
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0);	/* FW2 / CW */
	if (cstate() == want_client && sstate() == want_server)
		return 1;
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);	/* TW / LA */
	if (cstate() == want_client && sstate() == want_server)
		return 1;
	return 0;
}

TEST(rst_from_either_side_in_every_synchronized_state)
{
	static const struct { u8 c, s; } pairs[] = {
		{ TCPSTATE_ESTABLISHED, TCPSTATE_ESTABLISHED },
		{ TCPSTATE_FIN_WAIT_1, TCPSTATE_CLOSE_WAIT },
		{ TCPSTATE_FIN_WAIT_2, TCPSTATE_CLOSE_WAIT },
		{ TCPSTATE_TIME_WAIT, TCPSTATE_LAST_ACK },
	};
	unsigned int i;
	int from;

	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		for (from = 0; from < 2; from++) {
			u32 seq;

			CHECK(drive_to(pairs[i].c, pairs[i].s));
			seq = F.end[from ? TCPSTATE_SERVER :
					   TCPSTATE_CLIENT].nxt;
			/* out of the window: nothing */
			seg(from, "R", seq + 1000000, 0, 0);
			CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
			CHECK_EQ(R.nr, 0);
			CHECK_EQ(cstate(), pairs[i].c);
			/*
			 * in the window: the connection is gone; an end in
			 * TIME_WAIT takes only the very next seq
			 */
			if (from == 1 && pairs[i].c == TCPSTATE_TIME_WAIT) {
				seg(from, "R.", seq + 10, 0, 0);
				CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
				CHECK_EQ(R.nr, 0);
				seg(from, "R.", seq - 1001, 0, 0);
				CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
				seg(from, "R.", seq, 0, 0);
			} else {
				seg(from, "R.", seq + 10, 0, 0);
			}
			CHECK_EQ(R.verdict, TCPSTATE_V_OK);
			CHECK_EQ(sstate(), TCPSTATE_CLOSED);
			CHECK(R.notes & TCPSTATE_N_RESET);
			CHECK(F.flags & TCPSTATE_F_RESET);
			/* a TIME_WAIT sender's reset leaves its TIME_WAIT */
			if (!(from == 0 && pairs[i].c == TCPSTATE_TIME_WAIT))
				CHECK_EQ(cstate(), TCPSTATE_CLOSED);
		}
	}
}

/*
 * Seen in the 4-vCPU differential: after a half-close the server sends
 * data and its FIN; an old segment of the client's (ack = the data's
 * seq) reaches a server that has no socket left, which answers with a
 * bare RST of that seq.  Linux's TIME_WAIT ignores it (seq is not the
 * next one), so must tcpstate.  (The close is
 * fin_with_ack_of_ours_goes_straight_to_time_wait's, with the server's
 * data between the FINs; the same shape, another close.)
 */
TEST(time_wait_ignores_a_rst_answering_an_old_ack)
{
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_STR(seg(1, "P.", S_FIN_SEQ, C_FIN_SEQ + 1, 1000),
		  "client FIN_WAIT_1>FIN_WAIT_2");
	CHECK_STR(seg(1, "F.", S_FIN_SEQ + 1000, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_2>TIME_WAIT");
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1001, 0),
		  "server LAST_ACK>CLOSED");
	CHECK_STR(seg(1, "R", S_FIN_SEQ, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	/* the next seq, as from a peer that lost its connection, counts */
	CHECK_STR(seg(1, "R", S_FIN_SEQ + 1001, 0, 0),
		  "client TIME_WAIT>CLOSED");
}

TEST(rst_in_syn_rcvd_closing_and_last_ack)
{
	/* SYN_RCVD: the client aborts before the third ACK */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_STR(seg(0, "R", C_ISN + 1, 0, 0),
		  "client ESTABLISHED>CLOSED, server SYN_RCVD>CLOSED");
	/* SYN_RCVD: the server aborts */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_STR(seg(1, "R.", S_ISN + 1, C_ISN + 1, 0),
		  "server SYN_RCVD>CLOSED, client ESTABLISHED>CLOSED");
	/* CLOSING, both sides */
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_STR(seg(1, "R.", S_FIN_SEQ + 1, C_FIN_SEQ + 1, 0),
		  "server CLOSING>CLOSED, client CLOSING>CLOSED");
	/* CLOSE_WAIT sends the RST */
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_STR(seg(1, "R.", S_FIN_SEQ, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>CLOSED, client FIN_WAIT_1>CLOSED");
	/* LAST_ACK receives the RST */
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_STR(seg(0, "R", C_FIN_SEQ + 1, 0, 0), "server LAST_ACK>CLOSED");
}

TEST(rst_window_uses_scaled_window)
{
	struct tcpstate_seg s = {
		.sport = C_PORT, .dport = S_PORT, .win = 100,
		.flags = TCPSTATE_TCP_SYN, .wscale = 7, .end = 0,
	};

	reset();
	s.seq = C_ISN;
	tcpstate_fsm_step(&F, &s, NOW, &R);
	s = (struct tcpstate_seg){ .seq = S_ISN, .ack = C_ISN + 1,
		.sport = S_PORT, .dport = C_PORT, .win = 100, .wscale = 7,
		.flags = TCPSTATE_TCP_SYN | TCPSTATE_TCP_ACK, .end = 1 };
	tcpstate_fsm_step(&F, &s, NOW, &R);
	WIN = 100;	/* raw 100 << 7 = 12800 bytes */
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
	seg(1, "R", S_ISN + 1 + 12000, 0, 0);
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(cstate(), TCPSTATE_CLOSED);
}

TEST(retransmissions_are_counted_and_move_nothing)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(0, "S", C_ISN, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
	seg(0, "F.", C_ISN + 1, S_ISN + 1, 0);
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 1, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	seg(1, "F.", S_ISN + 1, C_ISN + 2, 0);
	/* the first final ACK closes LAST_ACK; the same ACK again is a copy */
	CHECK_STR(seg(0, ".", C_ISN + 2, S_ISN + 2, 0), "server LAST_ACK>CLOSED");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_STR(seg(0, ".", C_ISN + 2, S_ISN + 2, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	CHECK_STR(history(), "SThtAFf");
}

TEST(lost_third_ack_leaves_server_in_syn_rcvd)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	/* third ACK lost; the server retransmits its SYN/ACK */
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0), "");
	CHECK_EQ(sstate(), TCPSTATE_SYN_RCVD);
	/* the client's request acks the server's SYN */
	CHECK_STR(seg(0, "P.", C_ISN + 1, S_ISN + 1, 752),
		  "server SYN_RCVD>ESTABLISHED");
	CHECK(R.notes & TCPSTATE_N_HANDSHAKE);
}

TEST(lost_third_ack_then_fin_completes_and_closes)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 1, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server SYN_RCVD>ESTABLISHED, "
		  "server ESTABLISHED>CLOSE_WAIT");
	CHECK(R.notes & TCPSTATE_N_HANDSHAKE);
}

TEST(stale_syn_answered_by_client_rst)
{
	/*
	 * A host with no such connection gets a SYN/ACK for an old SYN and
	 * answers RST with seq = that SYN/ACK's ack: the server's half-open
	 * flow ends.  The observer had taken the SYN/ACK as reaching an
	 * active client; the reset closes that side too.
	 */
	reset();
	seg(0, "S", 1000, 0, 0);
	seg(1, "S.", S_ISN, 1001, 0);
	CHECK_STR(seg(0, "R", 1001, 0, 0),
		  "client ESTABLISHED>CLOSED, server SYN_RCVD>CLOSED");
	CHECK(tcpstate_fsm_finished(&F));
}

TEST(stale_syn_does_not_affect_a_client_with_a_newer_isn)
{
	/*
	 * RFC 793 figure 9: the client is in SYN_SENT with ISN 100 when a
	 * SYN/ACK for an old SYN (ack 91) comes back.  The SYN/ACK fails the
	 * ack check, the client's RST (seq 91) is outside anything it sent:
	 * the client is unaffected and the real handshake then completes.
	 */
	reset();
	seg(0, "S", 100, 0, 0);
	CHECK_STR(seg(1, "S.", 300, 91, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(0, "R", 91, 0, 0), "");
	CHECK_EQ(cstate(), TCPSTATE_SYN_SENT);
	CHECK_STR(seg(1, "S.", 400, 101, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
}

TEST(new_syn_on_time_wait_starts_a_new_generation)
{
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ + 1, 0);
	CHECK_STR(seg(0, "S", C_ISN + 100000, 0, 0),
		  "client TIME_WAIT>CLOSED, client CLOSED>SYN_SENT");
	CHECK(R.notes & TCPSTATE_N_NEWGEN);
	/* the client reused its own TIME_WAIT */
	CHECK_STR(flowflags(), "reused,tw_own");
	CHECK_EQ(tcpstate_fsm_reuse(&F), TCPSTATE_REUSE_OWN);
	CHECK_EQ(sstate(), TCPSTATE_LISTEN);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].isn, C_ISN + 100000);
	CHECK_STR(history(), "S");
	CHECK_STR(seg(1, "S.", 7, C_ISN + 100001, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
}

TEST(new_syn_from_the_other_end_swaps_roles)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "R.", 0, C_ISN + 1, 0);
	CHECK(tcpstate_fsm_finished(&F));
	/* now the old server's port connects out */
	CHECK_STR(seg(1, "S", 5000, 0, 0), "client CLOSED>SYN_SENT");
	CHECK_EQ(tcpstate_fsm_client_end(&F), 1);
	CHECK_STR(seg(0, "S.", 9000, 5001, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
}

TEST(pickup_mid_stream_guesses_the_server_by_port)
{
	reset();
	/* first segment seen: data from port 80 */
	CHECK_STR(seg(1, "P.", S_ISN + 1, C_ISN + 1, 100),
		  "client CLOSED>ESTABLISHED, server LISTEN>ESTABLISHED");
	CHECK(R.notes & TCPSTATE_N_PICKUP);
	CHECK_EQ(tcpstate_fsm_client_end(&F), 0);
	CHECK_STR(flowflags(), "pickup,guessed");
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 101, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	CHECK_STR(seg(1, "F.", S_ISN + 101, C_ISN + 2, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_1>TIME_WAIT");
	/* the same from the client's side: still the lower port serves */
	reset();
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
	CHECK_EQ(tcpstate_fsm_client_end(&F), 0);
}

TEST(pickup_at_a_fin)
{
	reset();
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 1, 0),
		  "client CLOSED>ESTABLISHED, server LISTEN>ESTABLISHED, "
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
}

TEST(pickup_at_a_synack_knows_the_roles)
{
	reset();
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0),
		  "client CLOSED>SYN_SENT, server LISTEN>SYN_RCVD, "
		  "client SYN_SENT>ESTABLISHED");
	CHECK_STR(flowflags(), "pickup");
	CHECK_EQ(F.end[TCPSTATE_CLIENT].isn, C_ISN);
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 1, 0),
		  "server SYN_RCVD>ESTABLISHED");
	CHECK_EQ(F.rtt_syn_us, 0);
}

TEST(invalid_flag_sets_are_counted_and_change_nothing)
{
	static const char *const bad[] = { "SF", "SR", "", "F", "P", "U",
					   "RF", "SR.", "FP", "FR.", "SFP" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		reset();
		CHECK_STR(seg(0, bad[i], C_ISN, 0, 0), "");
		CHECK_EQ(R.verdict, TCPSTATE_V_BAD_FLAGS);
		CHECK(!(F.flags & TCPSTATE_F_STARTED));
		handshake();
		CHECK_STR(seg(0, bad[i], C_ISN + 1, S_ISN + 1, 0), "");
		CHECK_EQ(R.verdict, TCPSTATE_V_BAD_FLAGS);
		CHECK_EQ(cstate(), TCPSTATE_ESTABLISHED);
	}
}

TEST(lone_rst_does_not_open_a_flow)
{
	struct tcpstate_seg s = { .flags = TCPSTATE_TCP_RST };

	CHECK(!tcpstate_fsm_opens(&s));
	s.flags = TCPSTATE_TCP_SYN;
	CHECK(tcpstate_fsm_opens(&s));
	s.flags = TCPSTATE_TCP_ACK | TCPSTATE_TCP_PSH;
	CHECK(tcpstate_fsm_opens(&s));
	s.flags = TCPSTATE_TCP_SYN | TCPSTATE_TCP_FIN;
	CHECK(!tcpstate_fsm_opens(&s));
	reset();
	CHECK_STR(seg(0, "R", 1, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_UNEXPECTED);
}

TEST(syn_inside_a_connection_is_unexpected)
{
	established_with_data();
	CHECK_STR(seg(0, "S", C_ISN + 5, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_UNEXPECTED);
	CHECK_EQ(cstate(), TCPSTATE_ESTABLISHED);
}

TEST(segment_after_closed_is_unexpected)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "R.", 0, C_ISN + 1, 0);
	CHECK_STR(seg(0, "P.", C_ISN + 1, 1, 10), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_UNEXPECTED);
}

TEST(client_abort_in_syn_sent)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(0, "R", C_ISN + 1, 0, 0), "client SYN_SENT>CLOSED");
	CHECK(tcpstate_fsm_finished(&F));
	CHECK_EQ(sstate(), TCPSTATE_LISTEN);
	/* an abort, not a refusal: the server sent nothing */
	CHECK_STR(flowflags(), "reset");
	/* nor is a reset after the handshake one */
	established_with_data();
	seg(1, "R.", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_STR(flowflags(), "reset");
}

TEST(ack_beyond_what_was_seen_on_a_pickup_is_taken)
{
	/* picked up: the observer may have missed what the server sent */
	reset();
	seg(0, ".", C_ISN + 1, S_ISN + 1, 0);
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 1 + 5000, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
}

/* Issue 15, case 1: a FIN acking data never sent changes nothing. */
TEST(fin_acking_data_never_sent_is_dropped)
{
	established_with_data();
	/* the server sent 100 bytes; this FIN acks 9999 */
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_ISN + 1 + 9999, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_EQ(cstate(), TCPSTATE_ESTABLISHED);
	CHECK_EQ(sstate(), TCPSTATE_ESTABLISHED);
	/* data or an ACK beyond what was sent: the same, fast path or not */
	CHECK_STR(seg(0, ".", C_FIN_SEQ, S_ISN + 1 + 101, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(1, "P.", S_FIN_SEQ, C_FIN_SEQ + 1, 10), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	/* acking exactly what was sent is fine, and the FIN then counts */
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	/* in CLOSE_WAIT too: its FIN acking past the client's FIN */
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 2, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0),
		  "server CLOSE_WAIT>LAST_ACK, client FIN_WAIT_1>TIME_WAIT");
}

/* Issue 15, case 2: Fast Open data on the SYN is not forgotten. */
TEST(fast_open_simultaneous_open_keeps_the_syn_data)
{
	reset();
	seg(0, "S", C_ISN, 0, 1000);
	seg(1, "S", S_ISN, 0, 0);
	CHECK_STR(seg(0, "S.", C_ISN, S_ISN + 1, 0),
		  "client SYN_SENT>SYN_RCVD");
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_ISN + 1 + 1000);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1 + 1000, 0),
		  "server SYN_SENT>SYN_RCVD, server SYN_RCVD>ESTABLISHED, "
		  "client SYN_RCVD>ESTABLISHED");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
}

TEST(fast_open_syn_retransmitted_without_its_data)
{
	reset();
	seg(0, "S", C_ISN, 0, 1000);
	CHECK_STR(seg(0, "S", C_ISN, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1 + 1000, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_STR(seg(0, ".", C_ISN + 1 + 1000, S_ISN + 1, 0),
		  "server SYN_RCVD>ESTABLISHED");
	/* a server that took only the SYN acks ISN + 1: also fine */
	reset();
	seg(0, "S", C_ISN, 0, 1000);
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	/* a new ISN is a new SYN: its data is all that counts */
	reset();
	seg(0, "S", C_ISN, 0, 1000);
	seg(0, "S", C_ISN + 7, 0, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1 + 1000, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
}

/*
 * Issue 15, case 3: Linux takes SYN+ACK+FIN with data as a SYN/ACK and
 * drops the data and FIN, which come again; the client then closes
 * passively (kernel: SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED).
 */
TEST(synack_with_data_and_fin_is_a_synack)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(1, "FPS.", S_ISN, C_ISN + 1, 5),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_STR(history(), "Shd");
	/* the client acks the SYN only */
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 1, 0),
		  "server SYN_RCVD>ESTABLISHED");
	CHECK_STR(seg(1, "FP.", S_ISN + 1, C_ISN + 1, 5),
		  "server ESTABLISHED>FIN_WAIT_1, client ESTABLISHED>CLOSE_WAIT");
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 7, 0),
		  "server FIN_WAIT_1>FIN_WAIT_2");
	CHECK_STR(seg(0, "F.", C_ISN + 1, S_ISN + 7, 0),
		  "client CLOSE_WAIT>LAST_ACK, server FIN_WAIT_2>TIME_WAIT");
	CHECK_STR(seg(1, ".", S_ISN + 7, C_ISN + 2, 0),
		  "client LAST_ACK>CLOSED");
	/* SYN+FIN without ACK stays invalid: a listener discards it */
	reset();
	CHECK_STR(seg(0, "SF", C_ISN, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_FLAGS);
}

/*
 * Issue 15, case 4: RFC 7323 PAWS on the handshake.  A SYN/ACK whose
 * echo is none of the SYNs' TSvals is refused, the RST that answers it
 * leaves the client in SYN_SENT, and a later valid SYN/ACK is followed.
 */
TEST(paws_synack_with_a_wrong_echo_is_refused)
{
	reset();
	seg_ts(0, "S", C_ISN, 0, 0, 5000, 0);
	CHECK_STR(seg_ts(1, "S.", S_ISN, C_ISN + 1, 0, 777, 4999), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(0, "R", C_ISN + 1, 0, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(cstate(), TCPSTATE_SYN_SENT);
	CHECK(!(F.flags & TCPSTATE_F_RESET));
	CHECK_STR(seg_ts(1, "S.", S_ISN, C_ISN + 1, 0, 778, 5000),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_STR(seg(0, ".", C_ISN + 1, S_ISN + 1, 0),
		  "server SYN_RCVD>ESTABLISHED");
	CHECK_STR(flowflags(), "-");
}

TEST(paws_echo_of_any_of_the_syns_is_accepted)
{
	static const struct { u32 tsecr; bool ok; } cases[] = {
		{ 5000, true }, { 5500, true }, { 6000, true }, { 0, true },
		{ 6001, false }, { 4999, false }, { 5000 + 0x80000000u, false },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		reset();
		seg_ts(0, "S", C_ISN, 0, 0, 5000, 0);
		seg_ts(0, "S", C_ISN, 0, 0, 6000, 0);
		seg_ts(1, "S.", S_ISN, C_ISN + 1, 0, 1, cases[i].tsecr);
		CHECK_EQ(cstate(), cases[i].ok ? TCPSTATE_ESTABLISHED :
						 TCPSTATE_SYN_SENT);
	}
	/* a SYN without timestamps: nothing to check */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg_ts(1, "S.", S_ISN, C_ISN + 1, 0, 1, 12345),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	/* the TSvals the listener kept do not outlive its SYN/ACK */
	CHECK_EQ(F.end[TCPSTATE_SERVER].isn, S_ISN);
}

TEST(rst_answering_a_synack_with_a_bad_ack_leaves_syn_sent)
{
	/* RFC 793: <SEQ=SEG.ACK><CTL=RST>, and the client stays */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_STR(seg(0, "R", C_ISN, 0, 0), "");
	CHECK_EQ(cstate(), TCPSTATE_SYN_SENT);
	/* only the RST right after it: a later one is an abort */
	seg(1, "S.", S_ISN, C_ISN, 0);
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(0, "R", C_ISN + 1, 0, 0), "client SYN_SENT>CLOSED");
}

/*
 * Issue 15, case 5, the model's choice: the SYN/ACK's receiver is
 * ESTABLISHED on the SYN/ACK.  A client that had closed in SYN_SENT
 * answers it with a bare RST from its own ISN + 1; the kernel's
 * SYN_SENT>CLOSED then stands for these two steps (tests/truth K10).
 */
TEST(synack_receiver_is_established_on_the_synack)
{
	reset();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_STR(seg(1, "S.", S_ISN, C_ISN + 1, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	CHECK_STR(seg(0, "R", C_ISN + 1, 0, 0),
		  "client ESTABLISHED>CLOSED, server SYN_RCVD>CLOSED");
	CHECK(F.flags & TCPSTATE_F_RESET);
}

TEST(tcpdump_flag_notation)
{
	static const struct { u8 f; const char *s; } cases[] = {
		{ TCPSTATE_TCP_SYN, "S" },
		{ TCPSTATE_TCP_SYN | TCPSTATE_TCP_ACK, "S." },
		{ TCPSTATE_TCP_ACK, "." },
		{ TCPSTATE_TCP_PSH | TCPSTATE_TCP_ACK, "P." },
		{ TCPSTATE_TCP_FIN | TCPSTATE_TCP_ACK, "F." },
		{ TCPSTATE_TCP_FIN | TCPSTATE_TCP_PSH | TCPSTATE_TCP_ACK, "FP." },
		{ TCPSTATE_TCP_RST, "R" },
		{ TCPSTATE_TCP_RST | TCPSTATE_TCP_ACK, "R." },
		{ TCPSTATE_TCP_SYN | TCPSTATE_TCP_ECE | TCPSTATE_TCP_CWR, "SEW" },
		{ 0, "none" },
		{ 0xff, "FSRPUEW." },
	};
	char buf[TCPSTATE_TCPFLAGS_LEN];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tcpstate_tcpflags_format(cases[i].f, buf);
		CHECK_STR(buf, cases[i].s);
	}
}

TEST(names)
{
	CHECK_STR(tcpstate_state_name(TCPSTATE_FIN_WAIT_1), "FIN_WAIT_1");
	CHECK_STR(tcpstate_state_name(TCPSTATE_TIME_WAIT), "TIME_WAIT");
	CHECK_STR(tcpstate_state_name(99), "?");
	CHECK_STR(tcpstate_side_name(TCPSTATE_SERVER), "server");
	CHECK_STR(tcpstate_verdict_name(TCPSTATE_V_BAD_RST), "bad_rst");
	CHECK_STR(tcpstate_verdict_name(200), "?");
}

TEST(history_and_flags_formats_fill_their_buffers)
{
	char h[TCPSTATE_HISTORY_LEN], b[TCPSTATE_FLOWFLAGS_LEN];
	struct tcpstate_fsm f;

	tcpstate_fsm_init(&f);
	f.history = ~0ull;	/* 16 nibbles of 15 */
	tcpstate_fsm_history_format(&f, h);
	CHECK_EQ(strlen(h), 0 + 1);	/* 15 is not a letter: "-" */
	f.history = 0x1111111111111111ull;
	tcpstate_fsm_history_format(&f, h);
	CHECK_STR(h, "SSSSSSSSSSSSSSSS");
	f.flags = 0xff;
	tcpstate_fsm_flags_format(&f, b);
	CHECK_STR(b, "pickup,guessed,reused,simopen,simclose,reset");
	f.seen = 0xffff;	/* the longest: every word, the longest reuse */
	tcpstate_fsm_flags_format(&f, b);
	CHECK_STR(b, "pickup,guessed,reused,tw_own,simopen,simclose,reset");
}

/*
 * Every cell of the table, against a second, independent statement of
 * the same rules: the list of moves each event makes.  Every cell not
 * listed here must not move.
 */
static const struct { u8 ev, from, to; } moves[] = {
	{ EV_SND_SYN, sCL, sSS }, { EV_SND_SYN, sLI, sSS },
	{ EV_SND_SYNACK, sLI, sSR }, { EV_SND_SYNACK, sSS, sSR },
	{ EV_SND_ACK, sSS, sES },
	{ EV_SND_FIN, sSR, sF1 }, { EV_SND_FIN, sES, sF1 },
	{ EV_SND_FIN, sCW, sLA },
	{ EV_SND_FIN_CROSSED, sSR, sF1 }, { EV_SND_FIN_CROSSED, sES, sF1 },
	{ EV_SND_FIN_CROSSED, sCW, sCG },
	{ EV_SND_RST, sSS, sCL }, { EV_SND_RST, sSR, sCL },
	{ EV_SND_RST, sES, sCL }, { EV_SND_RST, sF1, sCL },
	{ EV_SND_RST, sF2, sCL }, { EV_SND_RST, sCW, sCL },
	{ EV_SND_RST, sCG, sCL }, { EV_SND_RST, sLA, sCL },
	{ EV_SND_RST_REFUSAL, sSR, sCL }, { EV_SND_RST_REFUSAL, sES, sCL },
	{ EV_SND_RST_REFUSAL, sF1, sCL }, { EV_SND_RST_REFUSAL, sF2, sCL },
	{ EV_SND_RST_REFUSAL, sCW, sCL }, { EV_SND_RST_REFUSAL, sCG, sCL },
	{ EV_SND_RST_REFUSAL, sLA, sCL },
	{ EV_RCV_SYNACK, sSS, sES }, { EV_RCV_SYNACK, sSR, sES },
	{ EV_RCV_SYNACK_SIM, sSR, sES },
	{ EV_RCV_ACK, sSR, sES }, { EV_RCV_ACK, sF1, sF2 },
	{ EV_RCV_ACK, sCG, sTW }, { EV_RCV_ACK, sLA, sCL },
	{ EV_RCV_FIN, sES, sCW }, { EV_RCV_FIN, sF1, sCG },
	{ EV_RCV_FIN, sF2, sTW },
	{ EV_RCV_FINACK, sES, sCW },
	{ EV_RCV_FINACK, sF1, sTW }, { EV_RCV_FINACK, sF2, sTW },
	{ EV_RCV_FINACK, sCG, sTW }, { EV_RCV_FINACK, sLA, sCL },
	{ EV_RCV_RST, sSS, sCL }, { EV_RCV_RST, sSR, sCL },
	{ EV_RCV_RST, sES, sCL }, { EV_RCV_RST, sF1, sCL },
	{ EV_RCV_RST, sF2, sCL }, { EV_RCV_RST, sCW, sCL },
	{ EV_RCV_RST, sCG, sCL }, { EV_RCV_RST, sLA, sCL },
	{ EV_RCV_RST, sTW, sCL },
	{ EV_TIMER, sTW, sCL },
};

/* Cells that refuse the segment, and the sender's repeats. */
static const struct { u8 ev, state, cell; } marks[] = {
	{ EV_SND_SYN, sSS, sRT },
	{ EV_SND_SYNACK, sSR, sRT }, { EV_SND_SYNACK, sES, sRT },
	{ EV_SND_FIN, sF1, sRT }, { EV_SND_FIN, sF2, sRT },
	{ EV_SND_FIN, sCG, sRT }, { EV_SND_FIN, sLA, sRT },
	{ EV_SND_FIN, sTW, sRT },
	{ EV_SND_FIN_CROSSED, sF1, sRT }, { EV_SND_FIN_CROSSED, sF2, sRT },
	{ EV_SND_FIN_CROSSED, sCG, sRT }, { EV_SND_FIN_CROSSED, sLA, sRT },
	{ EV_SND_FIN_CROSSED, sTW, sRT },
	{ EV_SND_ACK, sTW, sRT },
	{ EV_SND_RST, sLI, sQC }, { EV_SND_RST_REFUSAL, sLI, sQC },
};

TEST(every_table_cell)
{
	unsigned int ev, st, i;

	for (ev = 0; ev < NR_EVENTS; ev++) {
		for (st = 0; st < TCPSTATE_NR_STATES; st++) {
			u8 want = st, cell = fsm_table[ev][st];
			bool listed = false;

			for (i = 0; i < ARRAY_SIZE(moves); i++)
				if (moves[i].ev == ev && moves[i].from == st)
					want = moves[i].to;
			for (i = 0; i < ARRAY_SIZE(marks); i++)
				if (marks[i].ev == ev && marks[i].state == st) {
					CHECK_EQ(cell, marks[i].cell);
					listed = true;
				}
			if (listed)
				continue;
			if (want != st) {
				CHECK_EQ(cell, want);
			} else if (cell < TCPSTATE_NR_STATES) {
				/* a move to itself is spelled sNO */
				CHECK_EQ(cell, sNO);
			} else {
				/* refusals: only sender rows refuse */
				CHECK(cell == sNO || (cell == sIV &&
						       ev <= EV_SND_RST));
			}
		}
	}
}

TEST(every_table_cell_through_the_api_keeps_invariants)
{
	/*
	 * For every state pair reachable by the scenarios above, every
	 * flag class from either end: a transition always reports the
	 * state it left, and verdicts other than OK/RETRANS move nothing.
	 */
	static const char *const flags[] = { "S", "S.", ".", "P.", "F.",
					     "R", "R." };
	unsigned int a, b, i;

	for (a = 0; a < 4; a++) {
		for (b = 0; b < ARRAY_SIZE(flags); b++) {
			for (i = 0; i < 2; i++) {
				struct tcpstate_fsm before;
				int k;

				established_with_data();
				if (a >= 1)
					seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
				if (a >= 2)
					seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
				if (a >= 3)
					seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
				before = F;
				seg(i, flags[b],
				    F.end[i ? TCPSTATE_SERVER : TCPSTATE_CLIENT].nxt,
				    F.end[i ? TCPSTATE_CLIENT : TCPSTATE_SERVER].nxt, 0);
				if (R.verdict != TCPSTATE_V_OK &&
				    R.verdict != TCPSTATE_V_RETRANS) {
					CHECK_EQ(R.nr, 0);
					CHECK_EQ(F.end[0].state, before.end[0].state);
					CHECK_EQ(F.end[1].state, before.end[1].state);
				}
				for (k = 0; k < R.nr; k++) {
					CHECK(R.trans[k].old_state !=
					      R.trans[k].new_state);
					CHECK(R.trans[k].new_state <
					      TCPSTATE_NR_STATES);
				}
			}
		}
	}
}

/* A SYN's options as the module and tcpstate-pcap read them (one parser). */
static bool synopts(const u8 *o, unsigned int len, struct tcpstate_seg *s)
{
	memset(s, 0, sizeof(*s));
	s->wscale = TCPSTATE_WSCALE_NONE;
	return tcpstate_synopts_parse(o, len, s);
}

TEST(syn_options)
{
	/* MSS, SACK-permitted, timestamps, NOP, window scale 7. */
	static const u8 linux_syn[] = {
		2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34,
		0, 0, 0, 0, 1, 3, 3, 7,
	};
	static const u8 big_shift[] = { 3, 3, 15 };
	static const u8 eol_first[] = { 0, 3, 3, 5 };
	static const u8 short_len[] = { 3, 3, 4, 8, 1 };
	static const u8 overrun[] = { 3, 3, 6, 8, 10, 0, 0 };
	static const u8 zero_len[] = { 1, 1, 254, 0 };
	static const u8 odd_sizes[] = { 3, 4, 9, 9, 8, 9, 1, 1, 1, 1, 1, 1, 1 };
	struct tcpstate_seg s;

	CHECK(synopts(linux_syn, sizeof(linux_syn), &s));
	CHECK_EQ(s.wscale, 7);
	CHECK_EQ(s.tsval, 0x1234);
	CHECK_EQ(s.tsecr, 0);
	/* RFC 7323 2.3: a shift above 14 is used as 14. */
	CHECK(synopts(big_shift, sizeof(big_shift), &s));
	CHECK_EQ(s.wscale, TCPSTATE_WSCALE_MAX);
	/* Nothing after the end of the list counts. */
	CHECK(synopts(eol_first, sizeof(eol_first), &s));
	CHECK_EQ(s.wscale, TCPSTATE_WSCALE_NONE);
	/* Malformed: what came before stays, the rest is not read. */
	CHECK(!synopts(short_len, sizeof(short_len), &s));
	CHECK_EQ(s.wscale, 4);
	CHECK(!synopts(overrun, sizeof(overrun), &s));
	CHECK_EQ(s.wscale, 6);
	CHECK_EQ(s.tsval, 0);
	CHECK(!synopts(zero_len, sizeof(zero_len), &s));
	/* Known kinds of the wrong size are skipped, not read. */
	CHECK(synopts(odd_sizes, sizeof(odd_sizes), &s));
	CHECK_EQ(s.wscale, TCPSTATE_WSCALE_NONE);
	CHECK_EQ(s.tsval, 0);
	CHECK(synopts(NULL, 0, &s));
}

static const char *endpoint(const char *text, unsigned int alen, u16 port)
{
	static char buf[TCPSTATE_ENDPOINT_LEN];
	u8 a[16];

	CHECK_EQ(inet_pton(alen == 4 ? AF_INET : AF_INET6, text, a), 1);
	CHECK_EQ(tcpstate_endpoint_format(a, alen, port, buf), strlen(buf));
	return buf;
}

/*
 * Endpoints as the module wrote them with %pI4 and %pI6c: RFC 5952, and
 * the kernel's own dotted tail for IPv4-mapped and ISATAP addresses.
 */
TEST(endpoint_format_as_the_kernel)
{
	static const struct { const char *in, *out; } v6[] = {
		{ "::", "[::]:1" },
		{ "::1", "[::1]:1" },
		{ "1::", "[1::]:1" },
		{ "fd77::2", "[fd77::2]:1" },
		{ "2001:db8:0:0:1:0:0:1", "[2001:db8::1:0:0:1]:1" },
		{ "1:0:0:2:0:0:0:3", "[1:0:0:2::3]:1" },
		{ "1:0:2:3:4:5:6:7", "[1:0:2:3:4:5:6:7]:1" },
		{ "FFFF:0ABC::00F", "[ffff:abc::f]:1" },
		{ "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:1" },
		{ "fe80::200:5efe:c000:201", "[fe80::200:5efe:192.0.2.1]:1" },
		{ "fe80::5efe:c000:201", "[fe80::5efe:192.0.2.1]:1" },
		{ "::102:304", "[::102:304]:1" },
		{ "ffff:ffff:ffff:ffff:200:5efe:ffff:ffff",
		  "[ffff:ffff:ffff:ffff:200:5efe:255.255.255.255]:65535" },
	};
	unsigned int i, j, n = 0, seed = 1;

	CHECK_STR(endpoint("10.0.2.15", 4, 80), "10.0.2.15:80");
	CHECK_STR(endpoint("255.255.255.255", 4, 65535),
		  "255.255.255.255:65535");
	CHECK_STR(endpoint("0.0.0.0", 4, 0), "0.0.0.0:0");
	for (i = 0; i < ARRAY_SIZE(v6); i++) {
		u16 port = strstr(v6[i].out, "65535") ? 65535 : 1;

		CHECK_STR(endpoint(v6[i].in, 16, port), v6[i].out);
	}
	/*
	 * Elsewhere it is glibc's inet_ntop() as well: random addresses
	 * rich in zero groups, but no dotted tail (where glibc writes
	 * "::1.2.3.4" for ::102:304, and no ISATAP form).
	 */
	for (i = 0; i < 20000; i++) {
		char want[INET6_ADDRSTRLEN + 8], text[INET6_ADDRSTRLEN];
		u8 a[16];
		char got[TCPSTATE_ENDPOINT_LEN];

		for (j = 0; j < 16; j += 2) {
			seed = seed * 1103515245 + 12345;
			a[j] = (seed >> 16) % 3 ? 0 : seed >> 24;
			a[j + 1] = (seed >> 18) % 3 ? 0 : seed >> 8;
		}
		if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0", 10) ||
		    (a[10] == 0x5e && a[11] == 0xfe))
			continue;
		n++;
		inet_ntop(AF_INET6, a, text, sizeof(text));
		snprintf(want, sizeof(want), "[%s]:443", text);
		tcpstate_endpoint_format(a, 16, 443, got);
		CHECK_STR(got, want);
	}
	CHECK(n > 15000);
}

/* The canonical tuple order the module and tcpstate-pcap share. */
TEST(tuple_end_lower_address_then_lower_port)
{
	static const u8 a4[4] = { 10, 0, 0, 1 }, b4[4] = { 10, 0, 0, 2 };
	static const u8 hi4[4] = { 192, 168, 0, 1 };
	u8 a6[16] = { 0xfd }, b6[16] = { 0xfd };

	b6[15] = 1;
	/* By address first, as unsigned bytes in network order. */
	CHECK_EQ(tcpstate_tuple_end(a4, b4, 4, 80, 40000), 0);
	CHECK_EQ(tcpstate_tuple_end(b4, a4, 4, 40000, 80), 1);
	CHECK_EQ(tcpstate_tuple_end(hi4, a4, 4, 1, 2), 1);
	CHECK_EQ(tcpstate_tuple_end(a6, b6, 16, 9, 1), 0);
	CHECK_EQ(tcpstate_tuple_end(b6, a6, 16, 1, 9), 1);
	/* One address (loopback): by port. */
	CHECK_EQ(tcpstate_tuple_end(a4, a4, 4, 40000, 80), 1);
	CHECK_EQ(tcpstate_tuple_end(a4, a4, 4, 80, 40000), 0);
	/* Connected to itself: one end. */
	CHECK_EQ(tcpstate_tuple_end(a6, a6, 16, 5000, 5000), 0);
	/* The first byte that differs decides, high bit set or not. */
	a6[3] = 0x80;
	b6[2] = 0x01;
	CHECK_EQ(tcpstate_tuple_end(a6, b6, 16, 1, 9), 0);
	b6[2] = 0;
	b6[14] = 0xff;
	CHECK_EQ(tcpstate_tuple_end(a6, b6, 16, 1, 9), 1);
	CHECK_EQ(tcpstate_tuple_end(b6, a6, 16, 9, 1), 0);
}

/*
 * TCP keep-alive (issue 13, item 1), on the seed connection after its
 * data: the client's next seq is C_FIN_SEQ, the server's S_FIN_SEQ.
 */
#define KA_NOTES	(TCPSTATE_N_KA_PROBE | TCPSTATE_N_KA_ACK | \
			 TCPSTATE_N_KA_RESET | TCPSTATE_N_KA_GAVEUP)

TEST(keepalive_probe_and_answer_both_directions)
{
	established_with_data();
	/* the client probes: seq one below its next, no payload */
	CHECK_STR(seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, TCPSTATE_P_PROBE(TCPSTATE_CLIENT));
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ);
	/* the server answers: its next seq, acking all the client sent */
	CHECK_STR(seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	/* the same ACK again answers nothing */
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, 0);

	/* the server probes, the client answers */
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, TCPSTATE_P_PROBE(TCPSTATE_SERVER));
	seg(0, ".", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	CHECK_EQ(cstate(), TCPSTATE_ESTABLISHED);
	CHECK_EQ(sstate(), TCPSTATE_ESTABLISHED);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ);
	CHECK_EQ(F.end[TCPSTATE_SERVER].nxt, S_FIN_SEQ);
	/* the caller tells the prober by the sender's side */
	CHECK_EQ(tcpstate_fsm_side(&F, 1), TCPSTATE_SERVER);
}

/* The lines the callers write for segments that moved nothing. */
TEST(quiet_reasons_as_asked)
{
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);	/* a probe */
	CHECK_EQ(tcpstate_result_quiet_reason(&R, true, true),
		 TCPSTATE_REASON_KEEPALIVE);
	CHECK_EQ(tcpstate_result_quiet_reason(&R, true, false),
		 TCPSTATE_REASON_NR);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);		/* its answer */
	CHECK_EQ(tcpstate_result_quiet_reason(&R, false, true),
		 TCPSTATE_REASON_KEEPALIVE_ACK);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);		/* an ACK */
	CHECK_EQ(tcpstate_result_quiet_reason(&R, true, true),
		 TCPSTATE_REASON_NR);
	/* a FIN sent again, and the transitions of the first */
	CHECK_STR(seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0),
		  "client ESTABLISHED>FIN_WAIT_1, server ESTABLISHED>CLOSE_WAIT");
	CHECK_EQ(tcpstate_result_quiet_reason(&R, true, true),
		 TCPSTATE_REASON_NR);
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(R.verdict, TCPSTATE_V_RETRANS);
	CHECK_EQ(tcpstate_result_quiet_reason(&R, true, false),
		 TCPSTATE_REASON_RETRANSMIT);
	CHECK_EQ(tcpstate_result_quiet_reason(&R, false, true),
		 TCPSTATE_REASON_NR);
	CHECK(tcpstate_reason_moves(TCPSTATE_REASON_UNLOAD));
	CHECK(!tcpstate_reason_moves(TCPSTATE_REASON_RETRANSMIT));
	CHECK(!tcpstate_reason_moves(TCPSTATE_REASON_KEEPALIVE_ACK));
}

TEST(keepalive_one_byte_probe_is_no_data)
{
	handshake();
	CHECK_STR(history(), "ShA");
	/* one byte of garbage at the client's next seq - 1 */
	CHECK_STR(seg(0, ".", C_ISN, S_ISN + 1, 1), "");
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_ISN + 1);
	CHECK_STR(history(), "ShA");
	/* the answer acks the client's next seq, not past the byte */
	seg(1, ".", S_ISN + 1, C_ISN + 1, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK_STR(history(), "ShAa");
	/* and the same from the server, after data both ways */
	established_with_data();
	seg(1, "P.", S_FIN_SEQ - 1, C_FIN_SEQ, 1);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(F.end[TCPSTATE_SERVER].nxt, S_FIN_SEQ);
	seg(0, ".", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	/* two bytes, or a byte at the next seq, are data */
	seg(0, "P.", C_FIN_SEQ - 1, S_FIN_SEQ, 2);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ + 1);
	seg(0, "P.", C_FIN_SEQ + 1, S_FIN_SEQ, 1);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ + 2);
}

/* Wireshark's rule, and ours: the last byte alone again is a probe. */
TEST(keepalive_last_byte_retransmission_counts_as_a_probe)
{
	established_with_data();
	seg(0, "P.", C_FIN_SEQ, S_FIN_SEQ, 10);
	CHECK_EQ(R.notes, 0);
	seg(0, "P.", C_FIN_SEQ + 9, S_FIN_SEQ, 1);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(R.verdict, TCPSTATE_V_OK);
	/* the last two bytes, or the whole segment, are not */
	seg(0, "P.", C_FIN_SEQ + 8, S_FIN_SEQ, 2);
	CHECK_EQ(R.notes, 0);
	seg(0, "P.", C_FIN_SEQ, S_FIN_SEQ, 10);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ + 10);
}

TEST(keepalive_answer_must_repeat_the_window)
{
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	WIN = 1000;		/* a window update: alive, but no KA ACK */
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	/* a zero window (the probe may be a zero-window probe) */
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	WIN = 0;
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, 0);
	/* an answer that acks less than the prober sent is none */
	WIN = 1000;
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ - 1, 0);
	CHECK_EQ(R.notes, 0);
}

/* The peer is gone: probes go unanswered, then the prober resets. */
TEST(keepalive_unanswered_then_rst_from_the_prober_gave_up)
{
	int i;

	established_with_data();
	for (i = 0; i < 9; i++) {
		seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
		CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	}
	/* tcp_send_active_reset(): seq is the next one, with ACK */
	CHECK_STR(seg(0, "R.", C_FIN_SEQ, S_FIN_SEQ, 0),
		  "client ESTABLISHED>CLOSED, server ESTABLISHED>CLOSED");
	CHECK_EQ(R.notes, TCPSTATE_N_RESET | TCPSTATE_N_KA_GAVEUP |
			  TCPSTATE_N_FINISHED);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);

	/* the same from the server */
	established_with_data();
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 0);
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 0);
	seg(1, "R.", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK(R.notes & TCPSTATE_N_RESET);
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_GAVEUP);
}

/* The peer rebooted: it answers the probe with a RST (seq = probe's ack). */
TEST(keepalive_answered_by_rst_from_the_peer)
{
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	CHECK_STR(seg(1, "R", S_FIN_SEQ, 0, 0),
		  "server ESTABLISHED>CLOSED, client ESTABLISHED>CLOSED");
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_RESET);
	CHECK(R.notes & TCPSTATE_N_RESET);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);

	/* the server probed, the client resets */
	established_with_data();
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 1);
	seg(0, "R", C_FIN_SEQ, 0, 0);
	CHECK(R.notes & TCPSTATE_N_RESET);
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_RESET);

	/* a RST out of the window changes nothing, the probe still waits */
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(1, "R", S_FIN_SEQ + 1000000, 0, 0);
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_RST);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, TCPSTATE_P_PROBE(TCPSTATE_CLIENT));
	seg(1, "R", S_FIN_SEQ, 0, 0);
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_RESET);
}

TEST(keepalive_no_note_on_an_ordinary_rst)
{
	int from;

	for (from = 0; from < 2; from++) {
		established_with_data();
		seg(from, "R.", from ? S_FIN_SEQ : C_FIN_SEQ,
		    from ? C_FIN_SEQ : S_FIN_SEQ, 0);
		CHECK(R.notes & TCPSTATE_N_RESET);
		CHECK_EQ(R.notes & KA_NOTES, 0);
		/* nor after a probe that was answered */
		established_with_data();
		seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
		seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
		CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
		seg(from, "R.", from ? S_FIN_SEQ : C_FIN_SEQ,
		    from ? C_FIN_SEQ : S_FIN_SEQ, 0);
		CHECK(R.notes & TCPSTATE_N_RESET);
		CHECK_EQ(R.notes & KA_NOTES, 0);
	}
}

TEST(keepalive_data_after_a_probe_ends_the_wait)
{
	/* the prober sends data: no longer idle */
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(0, "P.", C_FIN_SEQ, S_FIN_SEQ, 10);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ + 10);
	/* the server's pure ACK then answers nothing */
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 10, 0);
	CHECK_EQ(R.notes, 0);
	seg(0, "R.", C_FIN_SEQ + 10, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);

	/* the peer sends data: alive */
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(1, "P.", S_FIN_SEQ, C_FIN_SEQ, 20);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	seg(0, "R.", C_FIN_SEQ, S_FIN_SEQ + 20, 0);
	CHECK(R.notes & TCPSTATE_N_RESET);
	CHECK_EQ(R.notes & KA_NOTES, 0);

	/* a probe from the other end ends the wait too, and starts its own */
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, TCPSTATE_P_PROBE(TCPSTATE_SERVER));
}

TEST(keepalive_in_close_wait_and_fin_wait_2)
{
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_EQ(cstate(), TCPSTATE_FIN_WAIT_2);
	CHECK_EQ(sstate(), TCPSTATE_CLOSE_WAIT);
	/* the FIN_WAIT_2 end probes one below its FIN's end: the FIN's seq */
	CHECK_STR(seg(0, ".", C_FIN_SEQ, S_FIN_SEQ, 0), "");
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_STR(seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0), "");
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	/* the CLOSE_WAIT end too */
	CHECK_STR(seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ + 1, 0), "");
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	CHECK_STR(seg(0, ".", C_FIN_SEQ + 1, S_FIN_SEQ, 0), "");
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK_EQ(cstate(), TCPSTATE_FIN_WAIT_2);
	CHECK_EQ(sstate(), TCPSTATE_CLOSE_WAIT);
	/* unanswered, then the CLOSE_WAIT end gives up */
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ + 1, 0);
	seg(1, "R.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_GAVEUP);
	CHECK_EQ(cstate(), TCPSTATE_CLOSED);
	CHECK_EQ(sstate(), TCPSTATE_CLOSED);
}

TEST(keepalive_only_between_synchronized_ends)
{
	/* SYN_SENT: an ACK one below the next seq is no probe */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(0, ".", C_ISN, 0, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	/* SYN_RCVD (third ACK lost): neither its probe nor one to it */
	reset();
	seg(0, "S", C_ISN, 0, 0);
	seg(1, "S.", S_ISN, C_ISN + 1, 0);
	seg(1, ".", S_ISN, C_ISN + 1, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);
	CHECK_EQ(sstate(), TCPSTATE_SYN_RCVD);
	seg(0, ".", C_ISN, S_ISN + 1, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	/* FIN_WAIT_1: its FIN is unacked; an ACK at the FIN's seq is none */
	established_with_data();
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(cstate(), TCPSTATE_FIN_WAIT_1);
	seg(0, ".", C_FIN_SEQ, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);
	/* LAST_ACK likewise, and nothing to a TIME_WAIT end */
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_EQ(sstate(), TCPSTATE_LAST_ACK);
	CHECK_EQ(cstate(), TCPSTATE_TIME_WAIT);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 1, 0);
	CHECK_EQ(R.notes & KA_NOTES, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	/* a probe that acks what was never sent is dropped, no probe */
	established_with_data();
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ + 5, 0);
	CHECK_EQ(R.verdict, TCPSTATE_V_BAD_ACK);
	CHECK_EQ(R.notes, 0);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
}

/*
 * The fast path and the full one, segment by segment: the same machine
 * and the same result, keep-alive or not.
 */
TEST(keepalive_fast_path_and_full_path_agree)
{
	enum { P = TCPSTATE_N_KA_PROBE, A = TCPSTATE_N_KA_ACK,
	       X = TCPSTATE_N_KA_RESET | TCPSTATE_N_RESET | TCPSTATE_N_FINISHED };
	static const struct { u8 end; const char *flags; s32 seq, ack;
			      u32 len; u16 win; u16 notes; } script[] = {
		{ 0, "P.", 0, 0, 100, 500, 0 },		/* data */
		{ 1, ".", 0, 100, 0, 600, 0 },		/* its ACK */
		{ 0, ".", 99, 0, 0, 500, P },		/* probe, 0 bytes */
		{ 1, ".", 0, 100, 0, 600, A },		/* KA ACK */
		{ 0, ".", 99, 0, 1, 500, P },		/* probe, 1 byte */
		{ 0, ".", 99, 0, 1, 500, P },		/* again */
		{ 1, ".", 0, 100, 0, 600, A },		/* KA ACK */
		{ 1, ".", 0, 100, 0, 600, 0 },		/* a plain ACK */
		{ 1, ".", -1, 100, 0, 600, P },		/* server probe */
		{ 0, "P.", 100, 0, 50, 500, 0 },	/* data, no answer */
		{ 1, ".", 0, 150, 0, 700, 0 },		/* window update */
		{ 0, "P.", 149, 0, 1, 500, P },		/* last byte again */
		{ 0, "P.", 148, 0, 2, 500, 0 },		/* two: retransmitted */
		{ 1, "P.", 0, 150, 10, 700, 0 },	/* data */
		{ 0, ".", 149, 10, 0, 500, P },		/* probe */
		{ 1, ".", 10, 150, 0, 0, 0 },		/* zero window */
		{ 0, ".", 150, 9999, 0, 500, 0 },	/* acks unsent */
		{ 0, ".", 149, 10, 0, 500, P },		/* probe */
		{ 1, "R", 10, 0, 0, 0, X },		/* the peer resets */
	};
	struct tcpstate_fsm slow;
	struct tcpstate_result rs;
	unsigned int i;

	established_with_data();
	slow = F;
	for (i = 0; i < ARRAY_SIZE(script); i++) {
		u32 cbase = C_FIN_SEQ, sbase = S_FIN_SEQ;
		struct tcpstate_seg s = {
			.len = script[i].len,
			.sport = script[i].end ? S_PORT : C_PORT,
			.dport = script[i].end ? C_PORT : S_PORT,
			.win = script[i].win,
			.flags = parse_flags(script[i].flags),
			.wscale = TCPSTATE_WSCALE_NONE, .end = script[i].end,
		};

		s.seq = (script[i].end ? sbase : cbase) + script[i].seq;
		s.ack = (script[i].end ? cbase : sbase) + script[i].ack;
		NOW += MS;
		tcpstate_fsm_step(&F, &s, NOW, &R);
		rs = (struct tcpstate_result){ .verdict = TCPSTATE_V_OK };
		fsm_step(&slow, &s, NOW, &rs);
		if (memcmp(&F, &slow, sizeof(F)) || R.verdict != rs.verdict ||
		    R.notes != rs.notes || R.nr != rs.nr ||
		    memcmp(R.trans, rs.trans, R.nr * sizeof(R.trans[0]))) {
			fprintf(stderr, "  segment %u: paths differ\n", i);
			CHECK(0);
		}
		if (R.notes != script[i].notes)
			fprintf(stderr, "  segment %u: notes\n", i);
		CHECK_EQ(R.notes, script[i].notes);
	}
	CHECK_EQ(R.notes & KA_NOTES, TCPSTATE_N_KA_RESET);
	CHECK_EQ(cstate(), TCPSTATE_CLOSED);
}

/* What the fast path leaves to the full one: probe shapes, and a wait. */
TEST(keepalive_fast_path_takes_all_but_probes_and_answers)
{
	struct tcpstate_seg s = {
		.seq = C_FIN_SEQ, .ack = S_FIN_SEQ, .len = 10,
		.sport = C_PORT, .dport = S_PORT, .win = WIN,
		.flags = TCPSTATE_TCP_ACK, .wscale = TCPSTATE_WSCALE_NONE,
	};

	established_with_data();
	CHECK(tcpstate_fsm_step_quiet(&F, &s));		/* data */
	s.seq = C_FIN_SEQ + 10 - 2;
	s.len = 2;
	CHECK(tcpstate_fsm_step_quiet(&F, &s));		/* a retransmission */
	s.seq = C_FIN_SEQ + 10 - 1;
	s.len = 1;
	CHECK(!tcpstate_fsm_step_quiet(&F, &s));		/* may be a probe */
	s.len = 0;
	CHECK(!tcpstate_fsm_step_quiet(&F, &s));
	CHECK_EQ(F.end[TCPSTATE_CLIENT].nxt, C_FIN_SEQ + 10);
	seg(0, ".", C_FIN_SEQ + 9, S_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	/* while the probe waits, everything takes the full path */
	s = (struct tcpstate_seg){
		.seq = S_FIN_SEQ, .ack = C_FIN_SEQ + 10, .sport = S_PORT,
		.dport = C_PORT, .win = WIN, .flags = TCPSTATE_TCP_ACK,
		.wscale = TCPSTATE_WSCALE_NONE, .end = 1,
	};
	CHECK(!tcpstate_fsm_step_quiet(&F, &s));
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ + 10, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK(tcpstate_fsm_step_quiet(&F, &s));
}

/* The flow counts its probes, either end's, up to 15; answers are not. */
TEST(keepalive_counted_per_flow)
{
	int i;

	established_with_data();
	CHECK_EQ(tcpstate_fsm_keepalives(&F), 0);
	seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_EQ(tcpstate_fsm_keepalives(&F), 1);
	seg(1, ".", S_FIN_SEQ - 1, C_FIN_SEQ, 0);
	CHECK_EQ(tcpstate_fsm_keepalives(&F), 2);
	for (i = 0; i < 20; i++) {
		seg(0, ".", C_FIN_SEQ - 1, S_FIN_SEQ, 0);
		CHECK_EQ(R.notes, TCPSTATE_N_KA_PROBE);
	}
	CHECK_EQ(tcpstate_fsm_keepalives(&F), TCPSTATE_KEEPALIVES_MAX);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING,
		 TCPSTATE_P_PROBE(TCPSTATE_CLIENT));
	/* the count does not hold the fast path back once answered */
	seg(1, ".", S_FIN_SEQ, C_FIN_SEQ, 0);
	CHECK_EQ(R.notes, TCPSTATE_N_KA_ACK);
	CHECK_EQ(F.pending & TCPSTATE_P_WAITING, 0);
	CHECK_EQ(tcpstate_fsm_keepalives(&F), TCPSTATE_KEEPALIVES_MAX);
}

TEST(keepalive_names_and_count_format)
{
	char buf[TCPSTATE_KEEPALIVES_LEN];
	struct tcpstate_fsm f = {};

	tcpstate_fsm_keepalives_format(&f, buf);
	CHECK_STR(buf, "0");
	f.pending = 9 * TCPSTATE_P_KA_ONE | TCPSTATE_P_PROBE(1);
	tcpstate_fsm_keepalives_format(&f, buf);
	CHECK_STR(buf, "9");
	f.pending = 14 * TCPSTATE_P_KA_ONE;
	tcpstate_fsm_keepalives_format(&f, buf);
	CHECK_STR(buf, "14");
	f.pending = 15 * TCPSTATE_P_KA_ONE | TCPSTATE_P_REFUSALS;
	tcpstate_fsm_keepalives_format(&f, buf);
	CHECK_STR(buf, "15+");
	CHECK_EQ(tcpstate_ka_end_of(TCPSTATE_N_RESET), TCPSTATE_KA_END_NONE);
	CHECK_EQ(tcpstate_ka_end_of(TCPSTATE_N_RESET | TCPSTATE_N_KA_RESET),
		 TCPSTATE_KA_END_PEER_RESET);
	CHECK_EQ(tcpstate_ka_end_of(TCPSTATE_N_RESET | TCPSTATE_N_KA_GAVEUP),
		 TCPSTATE_KA_END_TIMEOUT);
	CHECK_STR(tcpstate_ka_end_name(TCPSTATE_KA_END_PEER_RESET), "peer_reset");
	CHECK_STR(tcpstate_ka_end_name(TCPSTATE_KA_END_TIMEOUT), "timeout");
	CHECK(!tcpstate_ka_end_name(TCPSTATE_KA_END_NONE));
	CHECK(!tcpstate_ka_end_name(TCPSTATE_KA_END_NR));
}

/* The server closed first and waits in TIME_WAIT; the client is CLOSED. */
static void server_in_time_wait(void)
{
	established_with_data();
	seg(1, "F.", S_FIN_SEQ, C_FIN_SEQ, 0);
	seg(0, "F.", C_FIN_SEQ, S_FIN_SEQ + 1, 0);
	seg(1, ".", S_FIN_SEQ + 1, C_FIN_SEQ + 1, 0);
	CHECK_EQ(sstate(), TCPSTATE_TIME_WAIT);
	CHECK_EQ(cstate(), TCPSTATE_CLOSED);
}

/*
 * A SYN to an end in TIME_WAIT: after all it had received (RFC 793's
 * rule) or not (only RFC 6191's newer timestamp admits it).  The letters
 * of the new connection's history are unaffected by the two bits.
 */
TEST(reuse_of_a_time_wait_says_how)
{
	server_in_time_wait();
	CHECK_STR(seg(0, "S", C_FIN_SEQ + 1 + 5000, 0, 0),
		  "server TIME_WAIT>CLOSED, client CLOSED>SYN_SENT");
	CHECK_EQ(tcpstate_fsm_reuse(&F), TCPSTATE_REUSE_SEQ);
	CHECK_STR(flowflags(), "reused,tw_seq");
	CHECK_STR(seg(1, "S.", 9, C_FIN_SEQ + 1 + 5001, 0),
		  "server LISTEN>SYN_RCVD, client SYN_SENT>ESTABLISHED");
	seg(0, ".", C_FIN_SEQ + 1 + 5001, 10, 0);
	CHECK_EQ(sstate(), TCPSTATE_ESTABLISHED);
	CHECK_STR(history(), "ShA");
	CHECK_STR(flowflags(), "reused,tw_seq");

	/* one below what the TIME_WAIT end had received */
	server_in_time_wait();
	seg(0, "S", C_FIN_SEQ, 0, 0);
	CHECK(R.notes & TCPSTATE_N_NEWGEN);
	CHECK_STR(flowflags(), "reused,tw_ts");
	/* an old ISN far behind */
	server_in_time_wait();
	seg(0, "S", C_ISN, 0, 0);
	CHECK_EQ(tcpstate_fsm_reuse(&F), TCPSTATE_REUSE_TS);

	/* the server, in TIME_WAIT, opens to the client: its own reuse */
	server_in_time_wait();
	seg(1, "S", S_FIN_SEQ + 77, 0, 0);
	CHECK(R.notes & TCPSTATE_N_NEWGEN);
	CHECK_STR(flowflags(), "reused,tw_own");
}

/* A 4-tuple reused after both ends closed, no TIME_WAIT: just reused. */
TEST(reuse_after_a_reset_is_plain)
{
	established_with_data();
	seg(0, "R", C_FIN_SEQ, 0, 0);
	CHECK_EQ(cstate(), TCPSTATE_CLOSED);
	CHECK_EQ(sstate(), TCPSTATE_CLOSED);
	seg(0, "S", 5, 0, 0);
	CHECK(R.notes & TCPSTATE_N_NEWGEN);
	CHECK_EQ(tcpstate_fsm_reuse(&F), 0);
	CHECK_STR(flowflags(), "reused");
}

/* One SYN on a fresh flow, by the open step and by fsm_step() alone. */
static void open_agrees(const struct tcpstate_seg *s)
{
	struct tcpstate_fsm a, b;
	struct tcpstate_result ra = { 0 }, rb = { 0 };

	tcpstate_fsm_init(&a);
	tcpstate_fsm_init(&b);
	CHECK(fsm_first_syn(&a, s));
	fsm_open(&a, s, 7 * MS, &ra);
	fsm_step(&b, s, 7 * MS, &rb);
	CHECK(!memcmp(&a, &b, sizeof(a)));
	CHECK_EQ(ra.verdict, rb.verdict);
	CHECK_EQ(ra.notes, rb.notes);
	CHECK_EQ(ra.nr, rb.nr);
	CHECK(!memcmp(ra.trans, rb.trans, rb.nr * sizeof(rb.trans[0])));
}

/*
 * The open step is fsm_step()'s own answer for a SYN on a fresh flow:
 * either end, with data (Fast Open), PSH, URG, ECN, a timestamp and a
 * window scale or none; and it declines everything else untouched.
 */
TEST(open_step_is_the_full_step_for_a_first_syn)
{
	static const u8 more[] = {
		0, TCPSTATE_TCP_PSH, TCPSTATE_TCP_URG, 0x40 | 0x80,
	};
	struct tcpstate_seg s = {
		.seq = C_ISN, .sport = C_PORT, .dport = S_PORT, .win = WIN,
		.wscale = TCPSTATE_WSCALE_NONE,
	};
	unsigned int i, end, len;

	for (end = 0; end < 2; end++)
		for (len = 0; len <= 5; len += 5)
			for (i = 0; i < sizeof(more); i++) {
				s.end = end;
				s.len = len;
				s.flags = TCPSTATE_TCP_SYN | more[i];
				s.tsval = i ? 1000 + i : 0;
				s.wscale = i & 1 ? 7 : TCPSTATE_WSCALE_NONE;
				open_agrees(&s);
			}
	/* not a SYN, or not a fresh flow: no */
	tcpstate_fsm_init(&F);
	s.flags = TCPSTATE_TCP_SYN | TCPSTATE_TCP_ACK;
	CHECK(!fsm_first_syn(&F, &s));
	s.flags = TCPSTATE_TCP_SYN | TCPSTATE_TCP_FIN;
	CHECK(!fsm_first_syn(&F, &s));
	s.flags = TCPSTATE_TCP_SYN;
	CHECK(fsm_first_syn(&F, &s));
	handshake();
	CHECK(!fsm_first_syn(&F, &s));
	seg(0, "R", C_ISN + 1, 0, 0);		/* finished: a new generation */
	CHECK(!fsm_first_syn(&F, &s));
}

int main(int argc, char **argv)
{
	return unit_main(argc, argv);
}
