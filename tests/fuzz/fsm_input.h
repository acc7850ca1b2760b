/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the state machine's harnesses (fuzz_fsm.c, diff_fsm.c) make of
 * their input: FSM_INPUT_STEP bytes a step, each a timer tick or a segment
 * on one flow, with seq and ack drawn near what each end has sent so that
 * the fuzzer reaches deep states.  One decoder, so that one corpus serves
 * both.
 */
#ifndef TCPSTATE_FUZZ_FSM_INPUT_H
#define TCPSTATE_FUZZ_FSM_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fsm.h"

#define FSM_INPUT_STEP	12

struct fsm_input {
	bool tick;			/* a timer tick, else seg */
	u32 time_wait_us;		/* the tick's (small) 2MSL */
	struct tcpstate_seg seg;
};

static u32 fsm_input_near(u32 base, u8 how, u32 rnd)
{
	switch (how & 3) {
	case 0: return base;
	case 1: return rnd & 0x80000000u ? base - 1 : base + 1;	/* probes */
	case 2: return base + (rnd & 0xff) - 0x80;
	default: return rnd;
	}
}

/* The step in @data (FSM_INPUT_STEP bytes) for @f; moves the clock @now. */
static void fsm_input_decode(const struct tcpstate_fsm *f,
			     const uint8_t *data, u32 *now,
			     struct fsm_input *in)
{
	u8 op = data[0], flags = data[1], hows = data[2];
	const struct tcpstate_end *me, *peer;
	u8 end = op & 1;
	u32 rnd, len;

	memcpy(&rnd, data + 3, 4);
	len = data[7] & 0x80 ? data[7] & 0x7f : 0;
	*now += data[8] * 1000u * (data[9] & 0x0f);
	in->tick = (op & 0x0e) == 0x0e;
	in->time_wait_us = 5000u * data[10];
	if (in->tick)
		return;
	me = &f->end[f->flags & TCPSTATE_F_STARTED ?
		     (end == tcpstate_fsm_client_end(f) ?
		      TCPSTATE_CLIENT : TCPSTATE_SERVER) : 0];
	peer = &f->end[me == &f->end[0] ? 1 : 0];
	in->seg = (struct tcpstate_seg){
		.seq = fsm_input_near(me->nxt, hows, rnd),
		.ack = fsm_input_near(peer->nxt, hows >> 2, rnd >> 8),
		.len = len,
		.sport = end ? 80 : 40000,
		.dport = end ? 40000 : 80,
		/* SYNs' timestamps: near each other or not */
		.tsval = flags & TCPSTATE_TCP_SYN ? 1000u + data[9] : 0,
		.tsecr = flags & TCPSTATE_TCP_SYN && hows & 0x40 ?
			 990u + data[10] : 0,
		.win = data[10] | (data[11] << 8),
		.flags = flags,
		.wscale = hows & 0x80 ? data[11] & 0x1f : TCPSTATE_WSCALE_NONE,
		.end = end,
	};
}

#endif /* TCPSTATE_FUZZ_FSM_INPUT_H */
