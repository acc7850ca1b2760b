// SPDX-License-Identifier: GPL-2.0
/*
 * Instructions per segment of the core, counted by callgrind: run as
 *   valgrind --tool=callgrind --toggle-collect=bench_PHASE fsm_bench PHASE
 * where PHASE is syn, handshake, data or teardown.  Each phase function feeds
 * ROUNDS segments of its kind; tests/bench/run divides the count.
 */
#include <stdio.h>
#include <string.h>

#include "fsm.h"

#define ROUNDS 10000

static struct tcpstate_fsm flows[ROUNDS];
static volatile unsigned int sink;

static struct tcpstate_seg mk(u8 end, u8 flags, u32 seq, u32 ack, u32 len)
{
	return (struct tcpstate_seg){
		.seq = seq, .ack = ack, .len = len,
		.sport = end ? 80 : 51323, .dport = end ? 51323 : 80,
		.win = 502, .flags = flags, .wscale = TCPSTATE_WSCALE_NONE,
		.end = end,
	};
}

#define SYN TCPSTATE_TCP_SYN
#define ACK TCPSTATE_TCP_ACK
#define FIN TCPSTATE_TCP_FIN
#define PSH TCPSTATE_TCP_PSH

static struct tcpstate_seg hs[3], td[4];
static struct tcpstate_seg data_seg[2];

/* 3 segments per round: S, S., . */
__attribute__((noinline)) void bench_handshake(void);
void bench_handshake(void)
{
	struct tcpstate_result r;
	int i, k;

	for (i = 0; i < ROUNDS; i++)
		for (k = 0; k < 3; k++) {
			tcpstate_fsm_step(&flows[i], &hs[k], i, &r);
			sink += r.nr;
		}
}

/* 1 segment per round: the SYN that opens a fresh flow (a SYN flood) */
__attribute__((noinline)) void bench_syn(void);
void bench_syn(void)
{
	struct tcpstate_result r;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		tcpstate_fsm_step(&flows[i], &hs[0], i, &r);
		sink += r.nr;
	}
}

/* 2 segments per round: P. one way, its . back, on one flow */
__attribute__((noinline)) void bench_data(void);
void bench_data(void)
{
	struct tcpstate_result r;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		data_seg[0].seq += 1000;
		tcpstate_fsm_step(&flows[0], &data_seg[0], i, &r);
		sink += r.nr;
		data_seg[1].ack += 1000;
		tcpstate_fsm_step(&flows[0], &data_seg[1], i, &r);
		sink += r.nr;
	}
}

/* 4 segments per round: F., ., F., . */
__attribute__((noinline)) void bench_teardown(void);
void bench_teardown(void)
{
	struct tcpstate_result r;
	int i, k;

	for (i = 0; i < ROUNDS; i++)
		for (k = 0; k < 4; k++) {
			tcpstate_fsm_step(&flows[i], &td[k], i, &r);
			sink += r.nr;
		}
}

int main(int argc, char **argv)
{
	const u32 c = 84689409, s = 1893430205;
	struct tcpstate_result r;
	int i, k;

	hs[0] = mk(0, SYN, c, 0, 0);
	hs[1] = mk(1, SYN | ACK, s, c + 1, 0);
	hs[2] = mk(0, ACK, c + 1, s + 1, 0);
	td[0] = mk(0, FIN | ACK, c + 1, s + 1, 0);
	td[1] = mk(1, ACK, s + 1, c + 2, 0);
	td[2] = mk(1, FIN | ACK, s + 1, c + 2, 0);
	td[3] = mk(0, ACK, c + 2, s + 2, 0);
	data_seg[0] = mk(0, PSH | ACK, c + 1 - 1000, s + 1, 1000);
	data_seg[1] = mk(1, ACK, s + 1, c + 1, 0);

	for (i = 0; i < ROUNDS; i++)
		tcpstate_fsm_init(&flows[i]);
	if (argc > 1 && !strcmp(argv[1], "handshake")) {
		bench_handshake();
	} else if (argc > 1 && !strcmp(argv[1], "syn")) {
		bench_syn();
	} else {
		for (i = 0; i < ROUNDS; i++)
			for (k = 0; k < 3; k++)
				tcpstate_fsm_step(&flows[i], &hs[k], 0, &r);
		if (argc > 1 && !strcmp(argv[1], "data"))
			bench_data();
		else
			bench_teardown();
	}
	printf("%u\n", sink);
	return 0;
}
