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
	u64 id;			/* set by tcpstate_event_claim() */
	u64 ts_ns;		/* CLOCK_REALTIME, set by tcpstate_event_claim() */
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
/*
 * A slot of the ring claimed for one event: the writer fills the record
 * in place between tcpstate_event_claim() and tcpstate_event_publish(),
 * with interrupts off (the claim turns them off, the publication back on),
 * so it must do nothing else meanwhile.
 */
struct tcpstate_event_claim {
	void *slot;
	s64 seq;
	unsigned long flags;
};

/*
 * Claim the next slot; its record has id and ts_ns set (@ts_ns, the time
 * on CLOCK_REALTIME, or the clock read now if it is 0), the rest is the
 * writer's to fill, every field (the slot holds an older event).  NULL,
 * with nothing to publish, if the ring lapped the claim already.
 * Lock-free; any context but NMI.
 */
struct tcpstate_event *tcpstate_event_claim(struct tcpstate_event_claim *c,
					    u64 ts_ns);
/* Make the record of a non-NULL claim visible to the readers. */
void tcpstate_event_publish(struct tcpstate_event_claim *c);
void tcpstate_event_stats_read(struct tcpstate_event_stats *st);

#endif /* TCPSTATE_EVENT_H */
