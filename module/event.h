/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transition stream: a ring of recent state changes that every reader
 * of /proc/tcpstate_events tails with its own cursor, like /dev/kmsg.
 */
#ifndef TCPSTATE_EVENT_H
#define TCPSTATE_EVENT_H

#include <linux/types.h>
#include <linux/in6.h>

/* One transition, as the table hands it to the ring. */
struct tcpstate_event {
	u64 id;			/* set by tcpstate_event_emit() */
	u64 ts_ns;		/* set by tcpstate_event_emit(): CLOCK_REALTIME */
	u32 netns;		/* inode number of the namespace, for people */
	u32 netns_id;		/* its id (netns.h): what readers filter on */
	u32 seq;		/* causing segment's seq, 0 for a timer */
	u32 ack;		/* causing segment's ack, 0 for a timer */
	union {
		__be32 v4;
		struct in6_addr v6;
	} caddr, saddr;		/* client and server address */
	__be16 cport;		/* client port */
	__be16 sport;		/* server port */
	u8 family;		/* AF_INET or AF_INET6 */
	u8 side;		/* enum tcpstate_side */
	u8 old_state;		/* enum tcpstate_state */
	u8 new_state;
	u8 tcpflags;		/* causing segment's flags, 0 for a timer */
	u8 reason;		/* enum tcpstate_reason */
	u8 ka_end;		/* enum tcpstate_ka_end: a RST after probes */
};

struct tcpstate_event_stats {
	u64 emitted;		/* events written to the ring */
	u64 overwritten;	/* events overwritten before every reader had them */
};

/* Create the ring of @ring_size events and /proc/tcpstate_events. */
int tcpstate_event_init(unsigned int ring_size);
/* Give every reader end-of-file, remove the file, free the ring. */
void tcpstate_event_exit(void);
/* Append @ev (id and ts_ns are filled in).  Lock-free; any context. */
void tcpstate_event_emit(struct tcpstate_event *ev);
void tcpstate_event_stats_read(struct tcpstate_event_stats *st);

#endif /* TCPSTATE_EVENT_H */
